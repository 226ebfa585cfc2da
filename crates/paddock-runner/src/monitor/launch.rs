//! Bringing the monitor's container up: remove a stale one of the same id,
//! create it with its output on pipes (or its pty master sent to us), start it.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::unistd::{pipe2, Pid};

use super::logs::Stream;
use super::output::Output;
use crate::cli::Monitor;
use crate::commands::{create_container, Global, InitOptions};
use crate::container;
use crate::pty::{self, ConsoleSocket};

/// How long the container may take to send its pty master.
const MASTER_TIMEOUT: Duration = Duration::from_secs(10);
/// The size the monitor gives a container's terminal; nobody is attached to resize it.
const TTY_SIZE: libc::winsize = libc::winsize {
    ws_row: 24,
    ws_col: 80,
    ws_xpixel: 0,
    ws_ypixel: 0,
};

pub struct Launched {
    pub pid: Pid,
    pub outputs: Vec<Output>,
}

pub fn launch(global: &Global, args: &Monitor) -> Result<Launched> {
    let id = args.id.as_str();
    if container::discard(&global.root, id)? {
        tracing::warn!(id, "deleted a stale container of the same id");
    }
    let terminal = crate::commands::wants_terminal(&args.bundle)?;
    if args.tty && !terminal {
        bail!(
            "--tty needs \"terminal\": true in the process of {}",
            args.bundle.join("config.json").display()
        );
    }
    let (console, stdio, readers) = if terminal {
        let socket = ConsoleSocket::bind(
            &args
                .state_dir
                .join(paddock_wire::runner::files::CONSOLE_SOCKET),
        )?;
        (Some(socket), None, Vec::new())
    } else {
        let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).context("create stdout pipe")?;
        let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).context("create stderr pipe")?;
        let stdin: OwnedFd = File::open("/dev/null").context("open /dev/null")?.into();
        (
            None,
            Some([stdin, out_w, err_w]),
            vec![(out_r, Stream::Stdout), (err_r, Stream::Stderr)],
        )
    };
    let mut created = create_container(
        global,
        InitOptions {
            id,
            bundle: &args.bundle,
            pid_file: None,
            console_socket: console.as_ref().map(|c| c.path()),
            no_pivot: false,
            preserve_fds: 0,
            stdio,
        },
    )?;
    let started = (|| -> Result<Launched> {
        let mut outputs = Vec::new();
        if let Some(socket) = &console {
            let master = socket.receive_master(MASTER_TIMEOUT)?;
            if let Err(err) = pty::set_window_size(std::os::fd::AsFd::as_fd(&master), &TTY_SIZE) {
                tracing::warn!(%err, "could not size the container's terminal");
            }
            outputs.push(Output::new(master, Stream::Stdout).context("pty master")?);
        }
        for (fd, stream) in readers {
            outputs.push(Output::new(fd, stream).context("output pipe")?);
        }
        let pid = container::start(&mut created, id)?;
        Ok(Launched { pid, outputs })
    })();
    if started.is_err() {
        if let Err(err) = container::discard(&global.root, id) {
            tracing::warn!(id, error = %err, "could not clean up after the failed start");
        }
    }
    started
}
