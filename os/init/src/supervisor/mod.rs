//! Service supervision: starts the configured services, restarts them with
//! backoff, reaps every child (orphans included), answers the control
//! socket, and on reboot/poweroff stops everything (SIGTERM, grace, SIGKILL).
//!
//! [`run`] works as PID 1 and, for tests and development, as an ordinary
//! process (it then becomes a child subreaper so orphans still come to it).

mod cgroup;
mod events;
mod service;
mod spawn;

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use events::Event;
use paddock_wire::control::{Request, Response};
use paddock_wire::system::Service;
use service::ServiceState;

pub use cgroup::DEVICE_ROOT as DEVICE_CGROUP_ROOT;
pub use spawn::DEFAULT_PATH;

pub use events::block_handled_signals;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("block signals: {0}")]
    Signals(Errno),
    #[error("start thread: {0}")]
    Thread(std::io::Error),
    #[error("control socket {path}: {source}")]
    Socket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("create {path}: {source}")]
    RunDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("become child subreaper: {0}")]
    Subreaper(Errno),
}

/// What ended supervision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    Reboot,
    Poweroff,
}

/// Supervision settings; [`Options::new`] gives the device defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// `/run/paddock`: holds `init.sock` and `clock-synced`.
    pub run_dir: PathBuf,
    /// First restart delay; doubles per quick crash up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A run this long resets the backoff.
    pub healthy_after: Duration,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Lines kept per service.
    pub log_lines: usize,
    /// Running as PID 1: at shutdown also signal every other process.
    pub pid1: bool,
    /// A directory in a cgroup v2 hierarchy under which each service gets
    /// its own cgroup (`ROOT/NAME`). `None`: [`DEVICE_CGROUP_ROOT`] as
    /// PID 1, no service cgroups otherwise.
    pub cgroup_root: Option<PathBuf>,
}

impl Options {
    pub fn new(run_dir: impl Into<PathBuf>) -> Self {
        Self {
            run_dir: run_dir.into(),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(30),
            grace: Duration::from_secs(10),
            log_lines: 1000,
            pid1: false,
            cgroup_root: None,
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.run_dir.join("init.sock")
    }

    pub fn clock_marker(&self) -> PathBuf {
        self.run_dir.join("clock-synced")
    }
}

struct Supervisor {
    opts: Options,
    services: Vec<ServiceState>,
    clock_synced: bool,
    shutdown: Option<Shutdown>,
}

/// Supervises `services` until a reboot or poweroff is asked for (control
/// socket or signal), then stops them all and returns which it was.
///
/// Signals: SIGTERM and SIGINT mean reboot as PID 1 (poweroff otherwise);
/// SIGUSR1, SIGUSR2 and SIGPWR mean poweroff.
pub fn run(services: &[Service], mut opts: Options) -> Result<Shutdown, Error> {
    if opts.pid1 && opts.cgroup_root.is_none() {
        opts.cgroup_root = Some(PathBuf::from(DEVICE_CGROUP_ROOT));
    }
    if let Some(root) = &opts.cgroup_root {
        if !cgroup::prepare_root(root) {
            opts.cgroup_root = None;
        }
    }
    let (tx, rx) = mpsc::channel();
    events::watch_signals(tx.clone())?;
    if !opts.pid1 {
        nix::sys::prctl::set_child_subreaper(true).map_err(Error::Subreaper)?;
    }
    std::fs::create_dir_all(&opts.run_dir).map_err(|source| Error::RunDir {
        path: opts.run_dir.clone(),
        source,
    })?;
    let in_flight = events::serve_control(&opts.socket(), tx.clone())?;
    events::watch_clock(opts.clock_marker(), tx)?;

    let mut sup = Supervisor {
        services: services
            .iter()
            .map(|s| ServiceState::new(s.clone(), &opts))
            .collect(),
        clock_synced: opts.clock_marker().exists(),
        opts,
        shutdown: None,
    };
    let now = Instant::now();
    for s in &mut sup.services {
        if !s.config.dont_start {
            s.start(now, sup.clock_synced, &sup.opts);
        }
    }
    let kind = sup.supervise(&rx);
    let _ = std::fs::remove_file(sup.opts.socket());
    // Requests still queued are answered "shutting down" as their reply
    // senders drop with the channel.
    drop(rx);
    in_flight.drain(Duration::from_secs(1));
    Ok(kind)
}

impl Supervisor {
    fn supervise(&mut self, rx: &mpsc::Receiver<Event>) -> Shutdown {
        let mut shutdown_deadline = None;
        loop {
            let now = Instant::now();
            self.reap(now);
            for s in &mut self.services {
                s.tick(now, self.clock_synced, &self.opts);
            }
            if let Some(kind) = self.shutdown {
                let deadline = *shutdown_deadline
                    .get_or_insert(now + self.opts.grace * 2 + Duration::from_secs(1));
                if self.services.iter().all(|s| s.pid.is_none()) || now >= deadline {
                    if self.opts.pid1 {
                        terminate_everything(self.opts.grace);
                    }
                    return kind;
                }
            }
            let wake = self
                .services
                .iter()
                .filter_map(|s| s.next_deadline())
                .min()
                .map(|d| d.saturating_duration_since(now))
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            match rx.recv_timeout(wake) {
                Ok(event) => self.handle(event),
                Err(RecvTimeoutError::Timeout) => {}
                // Every sender is gone: nothing can ask us to stop any more.
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wake),
            }
        }
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::Signal(Signal::SIGCHLD) => {} // reaped at the top of the loop
            Event::Signal(Signal::SIGTERM | Signal::SIGINT) => {
                self.begin_shutdown(if self.opts.pid1 {
                    Shutdown::Reboot
                } else {
                    Shutdown::Poweroff
                })
            }
            Event::Signal(Signal::SIGUSR1 | Signal::SIGUSR2 | Signal::SIGPWR) => {
                self.begin_shutdown(Shutdown::Poweroff)
            }
            Event::Signal(other) => tracing::debug!("ignoring {}", other.as_str()),
            Event::ClockSynced => {
                tracing::info!("clock synced");
                self.clock_synced = true;
            }
            Event::Control(req, reply) => {
                let _ = reply.send(self.control(req, now));
            }
        }
    }

    fn control(&mut self, req: Request, now: Instant) -> Response {
        if self.shutdown.is_some() {
            return Response::error("shutting down");
        }
        let (clock, opts) = (self.clock_synced, &self.opts);
        let find = |services: &mut Vec<ServiceState>, name: &str| {
            services.iter_mut().position(|s| s.config.name == name)
        };
        let name = match &req {
            Request::Start { name }
            | Request::Stop { name }
            | Request::Restart { name }
            | Request::Logs { name, .. } => name.clone(),
            Request::List => {
                return Response {
                    services: Some(self.services.iter().map(|s| s.status()).collect()),
                    ..Response::ok()
                }
            }
            Request::Reboot => {
                self.begin_shutdown(Shutdown::Reboot);
                return Response::ok();
            }
            Request::Poweroff => {
                self.begin_shutdown(Shutdown::Poweroff);
                return Response::ok();
            }
        };
        let Some(i) = find(&mut self.services, &name) else {
            return Response::error(format!("no service named {name:?}"));
        };
        let s = &mut self.services[i];
        match req {
            Request::Start { .. } => s.start(now, clock, opts),
            Request::Stop { .. } => s.stop(now, opts),
            Request::Restart { .. } => s.restart(now, clock, opts),
            Request::Logs { lines, after, .. } => {
                let Ok(buf) = s.logs.lock() else {
                    return Response::error("the log buffer is poisoned");
                };
                return match after {
                    Some(cursor) => {
                        let since = buf.since(cursor);
                        Response {
                            lines: Some(since.lines),
                            next: Some(since.next),
                            skipped: Some(since.skipped),
                            ..Response::ok()
                        }
                    }
                    None => Response {
                        lines: Some(buf.tail(lines).cloned().collect()),
                        next: Some(buf.next()),
                        ..Response::ok()
                    },
                };
            }
            _ => {}
        }
        Response {
            service: Some(s.status()),
            ..Response::ok()
        }
    }

    fn begin_shutdown(&mut self, kind: Shutdown) {
        if self.shutdown.is_some() {
            return;
        }
        tracing::info!(?kind, "stopping all services");
        self.shutdown = Some(kind);
        let now = Instant::now();
        for s in &mut self.services {
            s.stop(now, &self.opts);
        }
    }

    /// Collects every exited child: services are told, orphans are logged.
    fn reap(&mut self, now: Instant) {
        loop {
            let status = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!("waitpid: {e}");
                    return;
                }
                Ok(status) => status,
            };
            let Some(pid) = status.pid() else { continue };
            match self.services.iter_mut().find(|s| s.pid == Some(pid)) {
                Some(s) => s.exited(status, now, self.clock_synced, &self.opts),
                None => tracing::debug!(%pid, status = %service::describe(status), "reaped orphan"),
            }
        }
    }
}

/// As PID 1 after the services: SIGTERM to every remaining process, then
/// SIGKILL after the grace period, reaping as they go.
fn terminate_everything(grace: Duration) {
    use nix::sys::signal::kill;
    for (signal, wait) in [
        (Signal::SIGTERM, grace),
        (Signal::SIGKILL, Duration::from_secs(2)),
    ] {
        // pid -1: every process except init itself.
        if kill(Pid::from_raw(-1), signal) == Err(Errno::ESRCH) {
            return;
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Err(Errno::ECHILD) => return,
                Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(20)),
                _ => {}
            }
        }
    }
}
