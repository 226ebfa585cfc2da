//! `run`: create and start a container. With `--detach` that is all; otherwise
//! wait in the foreground (forwarding signals, relaying a terminal when the
//! config asks for one and no console socket was given), delete the container
//! unless `--keep`, and exit with its status.

use std::os::fd::AsFd;
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;

use super::create::{create_container, wants_terminal, InitOptions};
use super::Global;
use crate::pty::{self, ConsoleSocket};
use crate::{container, foreground, signals};

/// How long the container may take to send its pty master once created.
const MASTER_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(global: &Global, args: &liboci_cli::Run) -> Result<i32> {
    let id = args.container_id.as_str();
    // Before anything is forked, so no SIGCHLD or forwarded signal is lost.
    let signals = if args.detach {
        None
    } else {
        if !args.no_subreaper {
            // Orphans of the container (without a pid namespace) come to us.
            nix::sys::prctl::set_child_subreaper(true).context("become a child subreaper")?;
        }
        Some(signals::block_and_listen(&[Signal::SIGWINCH])?)
    };
    let own_console =
        if !args.detach && args.console_socket.is_none() && wants_terminal(&args.bundle)? {
            std::fs::create_dir_all(&global.root)
                .with_context(|| format!("create state root {}", global.root.display()))?;
            let dir = tempfile::Builder::new()
                .prefix(".console-")
                .tempdir_in(&global.root)
                .context("create a directory for the console socket")?;
            let socket = ConsoleSocket::bind(&dir.path().join("console.sock"))?;
            Some((dir, socket))
        } else {
            None
        };
    let console_path = own_console
        .as_ref()
        .map(|(_, s)| s.path())
        .or(args.console_socket.as_deref());
    let mut created = create_container(
        global,
        InitOptions {
            id,
            bundle: &args.bundle,
            pid_file: args.pid_file.as_deref(),
            console_socket: console_path,
            no_pivot: args.no_pivot,
            preserve_fds: args.preserve_fds,
            stdio: None,
        },
    )?;
    let started = (|| -> Result<_> {
        let master = match &own_console {
            Some((_, socket)) => {
                let master = socket.receive_master(MASTER_TIMEOUT)?;
                // Before start, so the program sees the caller's size at once.
                let stdin = std::io::stdin();
                if let Err(err) = pty::copy_window_size(stdin.as_fd(), master.as_fd()) {
                    tracing::debug!(%err, "could not copy the window size");
                }
                Some(master)
            }
            None => None,
        };
        let pid = container::start(&mut created, id)?;
        Ok((master, pid))
    })();
    let (master, pid) = match started {
        Ok(v) => v,
        Err(err) => {
            if let Err(e) = container::discard(&global.root, id) {
                tracing::warn!(id, error = %e, "could not clean up after the failed start");
            }
            return Err(err);
        }
    };
    drop(own_console);
    let Some(signals) = signals else {
        return Ok(0);
    };
    let exit = foreground::wait(pid, &signals, master)?;
    if !args.keep {
        container::discard(&global.root, id)?;
    }
    Ok(exit.code())
}
