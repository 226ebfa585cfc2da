//! The container workload executor: libcontainer's default `execvp`, preceded by
//! undoing the signal setup the runner made for itself and, for `exec`, by
//! installing the container's seccomp profile.
//!
//! Signals: a blocked signal mask and ignored dispositions survive `fork` and
//! `execve`, and libcontainer resets neither, so without this a container
//! started by the monitor would begin life with SIGTERM blocked and SIGPIPE
//! ignored.
//!
//! Terminal size: `process.consoleSize` is applied to the pty (libcontainer
//! ignores it), as runc does.
//!
//! Seccomp: libcontainer 0.7's tenant builder (exec) rebuilds the spec's `linux`
//! section without `seccomp`, so processes exec'd into a container would run
//! unconfined. We carry the profile here and load it right before `execvp`.

use libcontainer::seccomp;
use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use oci_spec::runtime::{LinuxSeccomp, Spec};

/// Resets the signal mask and SIGPIPE, sizes the terminal, loads a seccomp
/// profile if it has one, then executes the process like libcontainer does.
#[derive(Clone, Default)]
pub struct CleanSignalsExecutor {
    seccomp: Option<LinuxSeccomp>,
}

impl CleanSignalsExecutor {
    /// An executor that also confines the process with `profile`.
    pub fn with_seccomp(profile: Option<LinuxSeccomp>) -> Self {
        Self { seccomp: profile }
    }
}

impl Executor for CleanSignalsExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        // Best effort: a seccomp profile may forbid these, and then the process
        // keeps what it inherited rather than not running at all.
        if let Err(err) = signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        {
            tracing::warn!(%err, "could not clear the signal mask of the container process");
        }
        // SAFETY: SIG_DFL installs no handler, so no Rust code runs in signal
        // context; we are single-threaded right before execve.
        if let Err(err) = unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) } {
            tracing::warn!(%err, "could not reset SIGPIPE in the container process");
        }
        apply_console_size(spec);
        if let Some(profile) = &self.seccomp {
            load_seccomp(profile)?;
        }
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        DefaultExecutor {}.validate(spec)
    }
}

/// Sizes the terminal as `process.consoleSize` says (libcontainer ignores it),
/// before the program runs: the runner that relays the pty learns of it too
/// late, a quick `stty size` would see 0×0.
fn apply_console_size(spec: &Spec) {
    let Some(process) = spec.process() else {
        return;
    };
    let Some(size) = process.console_size() else {
        return;
    };
    if process.terminal() != Some(true) {
        return;
    }
    let size = libc::winsize {
        ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
        ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // stdin is the pty slave by now (libcontainer connected it).
    let stdin = std::io::stdin();
    if let Err(err) = crate::pty::set_window_size(std::os::fd::AsFd::as_fd(&stdin), &size) {
        tracing::warn!(%err, "could not size the terminal");
    }
}

/// Loads `profile`. Without CAP_SYS_ADMIN (capabilities are dropped by now)
/// the kernel only allows it with no_new_privs, so that is set if needed: a
/// process exec'd into a confined container stays confined, and cannot gain
/// privileges through setuid binaries either.
fn load_seccomp(profile: &LinuxSeccomp) -> Result<(), ExecutorError> {
    let first = match seccomp::initialize_seccomp(profile) {
        Ok(_) => return Ok(()),
        Err(err) => err,
    };
    let no_new_privs = nix::sys::prctl::get_no_new_privs().unwrap_or(false);
    if no_new_privs {
        return Err(ExecutorError::Other(format!(
            "load seccomp profile: {first}"
        )));
    }
    nix::sys::prctl::set_no_new_privs()
        .map_err(|err| ExecutorError::Other(format!("set no_new_privs for seccomp: {err}")))?;
    seccomp::initialize_seccomp(profile)
        .map(drop)
        .map_err(|err| ExecutorError::Other(format!("load seccomp profile: {err}")))
}
