//! The container workload executor: libcontainer's default `execvp`, preceded by
//! undoing the signal setup the runner made for itself. A blocked signal mask and
//! ignored dispositions survive `fork` and `execve`, and libcontainer resets
//! neither, so without this a container started by the monitor would begin life
//! with SIGTERM blocked and SIGPIPE ignored.

use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use oci_spec::runtime::Spec;

/// Resets the signal mask and SIGPIPE, then executes the process like libcontainer does.
#[derive(Clone, Default)]
pub struct CleanSignalsExecutor;

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
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        DefaultExecutor {}.validate(spec)
    }
}
