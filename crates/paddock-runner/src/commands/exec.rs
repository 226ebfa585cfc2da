//! `exec`: run a process in a running container (libcontainer's tenant
//! builder). The process is our child: without `--detach` we wait for it,
//! forwarding signals, and exit with its status; with `--tty` and no console
//! socket we hold its pty and relay the caller's terminal.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;

use super::exec_process;
use super::Global;
use crate::executor::CleanSignalsExecutor;
use crate::pty::ConsoleSocket;
use crate::{container, foreground, signals};

/// How long the process may take to send its pty master.
const MASTER_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(global: &Global, args: &liboci_cli::Exec) -> Result<i32> {
    let id = args.container_id.as_str();
    let target = container::load(&global.root, id)?;
    if !target.can_exec() {
        bail!("container {id} is {}, not running", target.status());
    }
    let container_dir = container::dir(&global.root, id);
    let process = exec_process::write(&target, args, &container_dir)?;
    let terminal = process.terminal;
    if terminal && args.detach && args.console_socket.is_none() {
        bail!("a terminal for a detached exec needs --console-socket");
    }
    let signals = if args.detach {
        None
    } else {
        Some(signals::block_and_listen(&[Signal::SIGWINCH])?)
    };
    let own_console = if terminal && args.console_socket.is_none() {
        let path = container_dir.join(format!("exec-console-{}.sock", std::process::id()));
        Some(ConsoleSocket::bind(&path)?)
    } else {
        None
    };
    let console_path = own_console
        .as_ref()
        .map(|s| s.path())
        .or(args.console_socket.as_deref());
    let seccomp = exec_process::seccomp_profile(&target)?;
    let pid = container::builder(&global.root, id)?
        .with_executor(CleanSignalsExecutor::with_seccomp(seccomp))
        .with_pid_file(args.pid_file.as_deref())
        .context("pid file")?
        .with_console_socket(console_path)
        .with_preserved_fds(args.preserve_fds)
        .as_tenant()
        // As for create: libcontainer's `detach` only pairs terminal and socket.
        .with_detach(terminal)
        .with_process(Some(process.file.path()))
        .with_ignore_paused(args.ignore_paused)
        .with_sub_cgroup(args.cgroup.clone())
        .build()
        .with_context(|| format!("exec in container {id}"))?;
    drop(process);
    let Some(signals) = signals else {
        return Ok(0);
    };
    let master = match &own_console {
        Some(socket) => Some(socket.receive_master(MASTER_TIMEOUT)?),
        None => None,
    };
    drop(own_console);
    let exit = foreground::wait(pid, &signals, master)?;
    Ok(exit.code())
}
