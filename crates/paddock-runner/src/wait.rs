//! Reaping children and turning a wait status into an exit code. Containers'
//! processes are the runner's own children (libcontainer clones them with
//! CLONE_PARENT), so whoever created them must reap them.

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(code) => code,
            Exit::Signal(sig) => 128 + sig,
        }
    }

    /// The signal that killed the process, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            Exit::Code(_) => None,
            Exit::Signal(sig) => Some(sig),
        }
    }
}

/// Reaps every child that has ended, without blocking; returns how `target`
/// ended if it was among them.
pub fn reap_all(target: Pid) -> Result<Option<Exit>, Errno> {
    let mut found = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(found),
            Ok(WaitStatus::Exited(pid, code)) => {
                tracing::debug!(%pid, code, "reaped child");
                if pid == target {
                    found = Some(Exit::Code(code));
                }
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                tracing::debug!(%pid, ?sig, "reaped child");
                if pid == target {
                    found = Some(Exit::Signal(sig as i32));
                }
            }
            Ok(_) => {}
            Err(Errno::EINTR) => {}
            Err(err) => return Err(err),
        }
    }
}
