//! The supervisor's inputs, each from its own thread, funnelled into one
//! channel: signals (signalfd), the clock-synced marker, and the control
//! socket. The supervisor loop alone touches service state.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::Error;
use paddock_wire::control::{Request, Response};

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

/// Blocks [`handled_signals`] in the calling thread. Threads inherit the
/// mask, so this must run before any thread is started (init's web and
/// probation threads included): a signal a thread does not block may be
/// delivered to it and never reach the signalfd ("only supervise after the
/// signal handler is set up").
pub fn block_handled_signals() -> Result<(), Error> {
    handled_signals().thread_block().map_err(Error::Signals)
}

/// Reads [`handled_signals`] from a signalfd on their own thread.
pub fn watch_signals(tx: Sender<Event>) -> Result<(), Error> {
    let set = handled_signals();
    block_handled_signals()?;
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

/// Control requests read but not yet answered on their connection. A
/// poweroff's "ok" must reach the asker before init exits, so the
/// supervisor [`drain`](Self::drain)s this before it returns.
#[derive(Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Waits until every reply is written, or `limit` passes (a client that
    /// does not read must not hold up a shutdown).
    pub fn drain(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.0.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Counts one request from before it reaches the supervisor until its reply
/// is written (or the connection fails).
struct Pending(Arc<AtomicUsize>);

impl Pending {
    fn new(in_flight: &InFlight) -> Self {
        in_flight.0.fetch_add(1, Ordering::AcqRel);
        Self(in_flight.0.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves the control socket (owner-only permissions).
pub fn serve_control(path: &Path, tx: Sender<Event>) -> Result<InFlight, Error> {
    let socket_err = |source| Error::Socket {
        path: path.to_path_buf(),
        source,
    };
    let listener = paddock_sys::unix_socket::bind_private(path).map_err(socket_err)?;
    let in_flight = InFlight::default();
    let counter = in_flight.clone();
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let (tx, counter) = (tx.clone(), counter.clone());
                let _ = std::thread::Builder::new()
                    .name("control-conn".into())
                    .spawn(move || serve_connection(stream, tx, &counter));
            }
        })
        .map_err(Error::Thread)?;
    Ok(in_flight)
}

fn serve_connection(stream: UnixStream, tx: Sender<Event>, in_flight: &InFlight) {
    let reader = BufReader::new(&stream);
    for line in reader.lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let _pending = Pending::new(in_flight);
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
