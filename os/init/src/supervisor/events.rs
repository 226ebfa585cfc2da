//! The supervisor's inputs, each from its own thread, funnelled into one
//! channel: signals (signalfd), the clock-synced marker, and the control
//! socket. The supervisor loop alone touches service state.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::Error;
use crate::control::{Request, Response};

#[derive(Debug)]
pub enum Event {
    Signal(Signal),
    Control(Request, Sender<Response>),
    ClockSynced,
}

/// The signals init handles; blocked in every thread and read from a signalfd.
pub fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGPWR,
    ] {
        set.add(s);
    }
    set
}

/// Must run before any thread is started, so that all threads inherit the
/// mask ("only supervise after the signal handler is set up").
pub fn watch_signals(tx: Sender<Event>) -> Result<(), Error> {
    let set = handled_signals();
    set.thread_block().map_err(Error::Signals)?;
    let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).map_err(Error::Signals)?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            match fd.read_signal() {
                Ok(Some(info)) => {
                    if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                        if tx.send(Event::Signal(sig)).is_err() {
                            return;
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!("signalfd: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
        .map_err(Error::Thread)?;
    Ok(())
}

/// Reports once when `marker` appears (paddock-ntp writes it).
pub fn watch_clock(marker: PathBuf, tx: Sender<Event>) -> Result<(), Error> {
    std::thread::Builder::new()
        .name("clock".into())
        .spawn(move || {
            while !marker.exists() {
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = tx.send(Event::ClockSynced);
        })
        .map_err(Error::Thread)?;
    Ok(())
}

/// Serves the control socket (owner-only permissions).
pub fn serve_control(path: &Path, tx: Sender<Event>) -> Result<(), Error> {
    let socket_err = |source| Error::Socket {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(socket_err(e)),
        _ => {}
    }
    let listener = UnixListener::bind(path).map_err(socket_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(socket_err)?;
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let tx = tx.clone();
                let _ = std::thread::Builder::new()
                    .name("control-conn".into())
                    .spawn(move || serve_connection(stream, tx));
            }
        })
        .map_err(Error::Thread)?;
    Ok(())
}

fn serve_connection(stream: UnixStream, tx: Sender<Event>) {
    let reader = BufReader::new(&stream);
    for line in reader.lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<Request>(&line) {
            Err(e) => Response::error(format!("bad request: {e}")),
            Ok(req) => {
                let (rtx, rrx) = mpsc::channel();
                if tx.send(Event::Control(req, rtx)).is_err() {
                    return;
                }
                match rrx.recv() {
                    Ok(r) => r,
                    Err(_) => Response::error("init is shutting down"),
                }
            }
        };
        let Ok(mut out) = serde_json::to_string(&response) else {
            return;
        };
        out.push('\n');
        if (&stream).write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}
