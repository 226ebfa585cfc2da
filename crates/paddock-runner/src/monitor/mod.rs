//! `monitor`: create one container, stay as its parent, and supervise it until
//! it exits (docs/runner-protocol.md is the contract with paddockd).
//!
//! How it works: the monitor puts itself in its own session, ignores SIGPIPE and
//! blocks the signals it handles (read from a signalfd), writes `status.json`
//! (`creating`), listens on `monitor.sock`, and creates and starts the container
//! with libcontainer — its stdout/stderr on pipes, or a pty whose master comes
//! back over a console socket. libcontainer clones the container's init with
//! CLONE_PARENT, so init is the monitor's child. Then one poll loop, one
//! thread: SIGCHLD reaps, other signals are forwarded to init, output becomes
//! log lines (ring buffer + rotated files + `logs --follow` clients), and control
//! requests are answered. When init has exited: the rest of its processes are
//! killed, output is drained, the container is deleted (cgroup included),
//! `status.json` says `exited`, waiters get the final status, and the monitor
//! exits 0. A failed create leaves `failed` and exit code 1.

mod control;
mod launch;
mod logs;
mod output;
mod status;
mod supervise;

use anyhow::{Context, Result};
use nix::unistd::{getpid, getsid, setsid};

use crate::cli::Monitor;
use crate::commands::Global;
use crate::signals;

use control::ControlServer;
use logs::{LogSink, Ring, RotatingLog};
use paddock_wire::runner::files::MONITOR_SOCKET;
use status::{Status, Transitions};

/// Runs the monitor; returns its exit code (0 once the container has exited
/// and been deleted, 1 if it could not be created).
pub fn run(global: &Global, args: Monitor) -> Result<i32> {
    // paddockd starts us in a new session; make sure of it, so that nothing
    // paddockd's session suffers (a hangup, a process group signal) reaches us.
    if getsid(None).ok() != Some(getpid()) {
        if let Err(err) = setsid() {
            tracing::debug!(%err, "setsid");
        }
    }
    signals::ignore_sigpipe()?;
    let sigfd = signals::block_and_listen(&[])?;
    nix::sys::prctl::set_child_subreaper(true).context("become a child subreaper")?;
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("create state dir {}", args.state_dir.display()))?;

    let mut status = Status::creating(&args.id, getpid().as_raw());
    status::write(&args.state_dir, &status)?;

    let prepared = (|| -> Result<_> {
        let control = ControlServer::bind(&args.state_dir.join(MONITOR_SOCKET))?;
        let file = RotatingLog::open(&args.log_dir, args.log_max_bytes, args.log_max_files)?;
        let ring = Ring::new(usize::try_from(args.log_buffer_lines).unwrap_or(usize::MAX));
        let launched = launch::launch(global, &args)?;
        Ok((control, LogSink::new(ring, file), launched))
    })();
    let (control, sink, launched) = match prepared {
        Ok(p) => p,
        Err(err) => {
            let message = format!("{err:#}");
            tracing::error!(id = args.id, error = message, "container failed to start");
            status.set_failed(message);
            status::write(&args.state_dir, &status)?;
            return Ok(1);
        }
    };
    status.set_running(launched.pid.as_raw());
    if let Err(err) = status::write(&args.state_dir, &status) {
        tracing::error!(error = %err, "could not record the running container");
    }
    supervise::Supervisor {
        global,
        args: &args,
        signals: sigfd,
        pid: launched.pid,
        outputs: launched.outputs,
        sink,
        control,
        status,
    }
    .run();
    Ok(0)
}
