//! Signals as file descriptor events: the signals a foreground runner or the
//! monitor handles are blocked and read from a signalfd in the poll loop, so they
//! are never lost while libcontainer is busy creating the container. The container
//! process gets a clean mask back from [`crate::executor::CleanSignalsExecutor`].

use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// Signals forwarded to the container: the ones a supervisor or a terminal sends.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

#[derive(Debug, thiserror::Error)]
pub enum SignalsError {
    #[error("block signals")]
    Block(#[source] nix::Error),
    #[error("create signalfd")]
    SignalFd(#[source] nix::Error),
    #[error("ignore SIGPIPE")]
    IgnorePipe(#[source] nix::Error),
    #[error("read signalfd")]
    Read(#[source] nix::Error),
}

/// Blocks `SIGCHLD`, the [`FORWARDED`] signals and `extra`, and returns a
/// non-blocking signalfd that reports them.
pub fn block_and_listen(extra: &[Signal]) -> Result<SignalFd, SignalsError> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for sig in FORWARDED.iter().chain(extra) {
        set.add(*sig);
    }
    signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(SignalsError::Block)?;
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(SignalsError::SignalFd)
}

/// Ignores SIGPIPE so that a reader going away is an `EPIPE`, not our death.
pub fn ignore_sigpipe() -> Result<(), SignalsError> {
    // SAFETY: SIG_IGN installs no handler; the runner is single-threaded.
    unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigIgn) }
        .map(|_| ())
        .map_err(SignalsError::IgnorePipe)
}

/// Reads every pending signal from `fd`.
pub fn drain(fd: &SignalFd) -> Result<Vec<Signal>, SignalsError> {
    let mut out = Vec::new();
    while let Some(info) = fd.read_signal().map_err(SignalsError::Read)? {
        let Ok(number) = i32::try_from(info.ssi_signo) else {
            continue;
        };
        if let Ok(sig) = Signal::try_from(number) {
            out.push(sig);
        }
    }
    Ok(out)
}
