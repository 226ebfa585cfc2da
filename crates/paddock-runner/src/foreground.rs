//! Waiting for a container process in the foreground (`run` without --detach,
//! `exec` without --detach): reap it, forward the signals we receive to it, and,
//! when we hold its pty master, relay the caller's terminal both ways with window
//! size changes. Single-threaded: one poll loop over a signalfd, stdin and the
//! pty master.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::SignalFd;
use nix::unistd::Pid;

use crate::pty::{self, PtyError, RawMode};
use crate::signals::{self, SignalsError};
use crate::wait::{self, Exit};

/// How long to keep reading the pty after the process ended, per quiet spell.
const DRAIN_QUIET: Duration = Duration::from_millis(200);
/// Never keep reading the pty longer than this after the process ended.
const DRAIN_MAX: Duration = Duration::from_secs(2);
/// Stop reading stdin while this much is waiting to go into the pty.
const MAX_PENDING_INPUT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ForegroundError {
    #[error(transparent)]
    Signals(#[from] SignalsError),
    #[error(transparent)]
    Pty(#[from] PtyError),
    #[error("reap children")]
    Reap(#[source] Errno),
    #[error("poll")]
    Poll(#[source] Errno),
    #[error("make the pty master non-blocking")]
    NonBlocking(#[source] Errno),
    #[error("relay the terminal")]
    Io(#[source] std::io::Error),
}

/// Waits for `pid` to end, forwarding signals and relaying `master` (a pty
/// master) to and from stdin/stdout if given. The caller blocked the signals
/// `signals` reports (see [`signals::block_and_listen`]) before creating `pid`.
pub fn wait(
    pid: Pid,
    signals: &SignalFd,
    master: Option<OwnedFd>,
) -> Result<Exit, ForegroundError> {
    match master {
        None => wait_plain(pid, signals),
        Some(master) => Relay::new(pid, signals, master)?.run(),
    }
}

fn handle_signals(
    pid: Pid,
    signals: &SignalFd,
    on_winch: &mut dyn FnMut(),
) -> Result<Option<Exit>, ForegroundError> {
    let mut exit = None;
    for sig in signals::drain(signals)? {
        match sig {
            Signal::SIGCHLD => {
                if let Some(e) = wait::reap_all(pid).map_err(ForegroundError::Reap)? {
                    exit = Some(e);
                }
            }
            Signal::SIGWINCH => on_winch(),
            other => {
                tracing::debug!(?other, %pid, "forwarding signal");
                if let Err(err) = kill(pid, other) {
                    tracing::debug!(%err, "forwarding signal failed");
                }
            }
        }
    }
    Ok(exit)
}

fn wait_plain(pid: Pid, signals: &SignalFd) -> Result<Exit, ForegroundError> {
    if let Some(exit) = wait::reap_all(pid).map_err(ForegroundError::Reap)? {
        return Ok(exit);
    }
    loop {
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => return Err(ForegroundError::Poll(err)),
        }
        if let Some(exit) = handle_signals(pid, signals, &mut || {})? {
            return Ok(exit);
        }
    }
}

struct Relay<'a> {
    pid: Pid,
    signals: &'a SignalFd,
    master: File,
    stdin_tty: bool,
    stdin_open: bool,
    master_open: bool,
    to_master: Vec<u8>,
}

impl<'a> Relay<'a> {
    fn new(pid: Pid, signals: &'a SignalFd, master: OwnedFd) -> Result<Self, ForegroundError> {
        let flags = fcntl(std::os::fd::AsRawFd::as_raw_fd(&master), FcntlArg::F_GETFL)
            .map_err(ForegroundError::NonBlocking)?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&master),
            FcntlArg::F_SETFL(flags),
        )
        .map_err(ForegroundError::NonBlocking)?;
        let stdin_tty = pty::is_tty(std::io::stdin().as_fd());
        Ok(Self {
            pid,
            signals,
            master: File::from(master),
            stdin_tty,
            stdin_open: true,
            master_open: true,
            to_master: Vec::new(),
        })
    }

    fn run(mut self) -> Result<Exit, ForegroundError> {
        let stdin = std::io::stdin();
        let _raw = if self.stdin_tty {
            if let Err(err) = pty::copy_window_size(stdin.as_fd(), self.master.as_fd()) {
                tracing::debug!(%err, "could not copy the window size");
            }
            Some(RawMode::enter(stdin.as_fd()).map_err(PtyError::Termios)?)
        } else {
            None
        };
        let mut exit = wait::reap_all(self.pid).map_err(ForegroundError::Reap)?;
        let mut ended_at: Option<Instant> = None;
        loop {
            if exit.is_some() {
                let ended = *ended_at.get_or_insert_with(Instant::now);
                if !self.master_open || ended.elapsed() > DRAIN_MAX {
                    break;
                }
            }
            let want_stdin =
                self.stdin_open && exit.is_none() && self.to_master.len() < MAX_PENDING_INPUT;
            let mut master_events = PollFlags::POLLIN;
            if !self.to_master.is_empty() && exit.is_none() {
                master_events |= PollFlags::POLLOUT;
            }
            let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            let master_idx = self.master_open.then(|| {
                fds.push(PollFd::new(self.master.as_fd(), master_events));
                fds.len() - 1
            });
            let stdin_idx = want_stdin.then(|| {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let timeout = if exit.is_some() {
                PollTimeout::try_from(DRAIN_QUIET).unwrap_or(PollTimeout::ZERO)
            } else {
                PollTimeout::NONE
            };
            let ready = match poll(&mut fds, timeout) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(err) => return Err(ForegroundError::Poll(err)),
            };
            if ready == 0 && exit.is_some() {
                break; // the process is gone and the pty has gone quiet
            }
            let events = |idx: Option<usize>| {
                idx.and_then(|i| fds[i].revents())
                    .unwrap_or(PollFlags::empty())
            };
            let (signal_ev, master_ev, stdin_ev) =
                (events(Some(0)), events(master_idx), events(stdin_idx));
            drop(fds);

            if !signal_ev.is_empty() {
                let master = &self.master;
                let stdin_tty = self.stdin_tty;
                let mut on_winch = || {
                    if stdin_tty {
                        if let Err(err) =
                            pty::copy_window_size(std::io::stdin().as_fd(), master.as_fd())
                        {
                            tracing::debug!(%err, "could not copy the window size");
                        }
                    }
                };
                if let Some(e) = handle_signals(self.pid, self.signals, &mut on_winch)? {
                    exit = Some(e);
                }
            }
            if !master_ev.is_empty() {
                self.pump_master(master_ev)?;
            }
            if !stdin_ev.is_empty() {
                self.pump_stdin()?;
            }
        }
        Ok(exit.unwrap_or(Exit::Code(0)))
    }

    /// Copies what the pty has to stdout and writes pending input into it.
    fn pump_master(&mut self, events: PollFlags) -> Result<(), ForegroundError> {
        if events.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            let mut buf = [0u8; 16 * 1024];
            match self.master.read(&mut buf) {
                Ok(0) => self.master_open = false,
                Ok(n) => {
                    let mut out = std::io::stdout().lock();
                    if let Err(err) = out.write_all(&buf[..n]).and_then(|()| out.flush()) {
                        tracing::debug!(%err, "stdout closed, discarding terminal output");
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                // EIO: every slave fd is closed, the terminal is finished.
                Err(err) if err.raw_os_error() == Some(libc::EIO) => self.master_open = false,
                Err(err) => return Err(ForegroundError::Io(err)),
            }
        }
        if events.contains(PollFlags::POLLOUT) && !self.to_master.is_empty() {
            match self.master.write(&self.to_master) {
                Ok(n) => {
                    self.to_master.drain(..n);
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::debug!(%err, "writing to the pty failed, dropping input");
                    self.to_master.clear();
                }
            }
        }
        Ok(())
    }

    /// Reads what the caller typed; at the end of a non-terminal stdin, sends
    /// the terminal's end-of-file character.
    fn pump_stdin(&mut self) -> Result<(), ForegroundError> {
        let mut buf = [0u8; 4096];
        // Straight from fd 0: std's buffered stdin could keep bytes poll cannot see.
        match nix::unistd::read(libc::STDIN_FILENO, &mut buf) {
            Ok(0) => {
                self.stdin_open = false;
                if !self.stdin_tty {
                    self.to_master.push(0x04);
                }
            }
            Ok(n) => self.to_master.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(err) => {
                tracing::debug!(%err, "stdin failed, no more input");
                self.stdin_open = false;
            }
        }
        Ok(())
    }
}
