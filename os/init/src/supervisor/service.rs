//! One supervised service and its state machine: start (or wait for the
//! clock), exit → restart with backoff, stop (SIGTERM to the group, SIGKILL
//! after the grace period).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use super::cgroup;
use super::spawn::{record, spawn};
use super::Options;
use crate::logbuf::LogBuffer;
use paddock_wire::control::{ServiceState as Reported, ServiceStatus};
use paddock_wire::system::Service;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Stopped,
    WaitingForClock,
    Running,
    Backoff { until: Instant },
    Stopping { deadline: Instant, killed: bool },
}

#[derive(Debug)]
pub struct ServiceState {
    pub config: Service,
    /// Whether it should be running (false after `stop` or with dont_start).
    want: bool,
    pub status: Status,
    pub pid: Option<Pid>,
    started_at: Option<Instant>,
    starts: u32,
    backoff: Duration,
    last_exit: Option<String>,
    restart_after_stop: bool,
    pub logs: Arc<Mutex<LogBuffer>>,
    /// Its cgroup directory, when services get cgroups.
    cgroup: Option<PathBuf>,
}

impl ServiceState {
    pub fn new(config: Service, opts: &Options) -> Self {
        Self {
            want: !config.dont_start,
            status: Status::Stopped,
            pid: None,
            started_at: None,
            starts: 0,
            backoff: opts.backoff_initial,
            last_exit: None,
            restart_after_stop: false,
            logs: Arc::new(Mutex::new(LogBuffer::new(opts.log_lines))),
            cgroup: opts
                .cgroup_root
                .as_ref()
                .map(|root| cgroup::service_dir(root, &config.name)),
            config,
        }
    }

    fn note(&self, line: String) {
        tracing::info!(service = %self.config.name, "{line}");
        record(
            &self.config.name,
            &self.logs,
            format!("[paddock-init] {line}"),
        );
    }

    /// Starts it now, or marks it waiting for the clock.
    pub fn start(&mut self, now: Instant, clock_synced: bool, opts: &Options) {
        self.want = true;
        if self.pid.is_some() {
            return;
        }
        if self.config.wait_for_clock && !clock_synced {
            self.status = Status::WaitingForClock;
            return;
        }
        let procs = self.cgroup.as_deref().and_then(cgroup::open_procs);
        match spawn(&self.config, self.logs.clone(), procs.as_ref()) {
            Ok(pid) => {
                if let Some(dir) = self.cgroup.as_deref() {
                    self.check_cgroup(dir, pid);
                }
                self.starts += 1;
                self.pid = Some(pid);
                self.started_at = Some(now);
                self.status = Status::Running;
                tracing::debug!(service = %self.config.name, %pid, "started");
            }
            Err(e) => {
                self.last_exit = Some(format!("start failed: {e}"));
                self.note(format!("start {}: {e}", self.config.path.display()));
                self.schedule_restart(now, opts);
            }
        }
    }

    /// Makes sure a new process is in the service's cgroup (moving it if the
    /// child could not); a failure is logged, the service runs anyway.
    fn check_cgroup(&self, dir: &std::path::Path, pid: Pid) {
        if cgroup::contains(dir, pid) {
            return;
        }
        if let Err(e) = cgroup::move_into(dir, pid) {
            tracing::warn!(service = %self.config.name, "move into cgroup {}: {e}", dir.display());
        }
    }

    /// The process exited (reaped by the supervisor).
    pub fn exited(&mut self, status: WaitStatus, now: Instant, clock_synced: bool, opts: &Options) {
        self.pid = None;
        let how = describe(status);
        self.last_exit = Some(how.clone());
        let was_stopping = matches!(self.status, Status::Stopping { .. });
        if was_stopping || !self.want {
            self.status = Status::Stopped;
            self.note(format!("stopped ({how})"));
            if self.restart_after_stop {
                self.restart_after_stop = false;
                self.backoff = opts.backoff_initial;
                self.start(now, clock_synced, opts);
            }
            return;
        }
        let ran = self
            .started_at
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        if ran >= opts.healthy_after {
            self.backoff = opts.backoff_initial;
        }
        self.note(format!(
            "exited ({how}) after {:.1}s; restarting in {:.1}s",
            ran.as_secs_f64(),
            self.backoff.as_secs_f64()
        ));
        self.schedule_restart(now, opts);
    }

    fn schedule_restart(&mut self, now: Instant, opts: &Options) {
        self.status = Status::Backoff {
            until: now + self.backoff,
        };
        self.backoff = (self.backoff * 2).min(opts.backoff_max);
    }

    /// SIGTERM to its process group; SIGKILL follows in [`Self::tick`].
    pub fn stop(&mut self, now: Instant, opts: &Options) {
        self.want = false;
        self.restart_after_stop = false;
        match (self.status, self.pid) {
            (Status::Stopping { .. }, _) => {}
            (_, Some(pid)) => {
                signal_group(pid, Signal::SIGTERM);
                self.status = Status::Stopping {
                    deadline: now + opts.grace,
                    killed: false,
                };
            }
            (_, None) => self.status = Status::Stopped,
        }
    }

    pub fn restart(&mut self, now: Instant, clock_synced: bool, opts: &Options) {
        if self.pid.is_some() {
            self.stop(now, opts);
            self.restart_after_stop = true;
        } else {
            self.backoff = opts.backoff_initial;
            self.start(now, clock_synced, opts);
        }
    }

    /// Time-driven transitions: restart after backoff, start once the clock
    /// is synced, SIGKILL after the grace period.
    pub fn tick(&mut self, now: Instant, clock_synced: bool, opts: &Options) {
        match self.status {
            Status::Backoff { until } if until <= now && self.want => {
                self.start(now, clock_synced, opts)
            }
            Status::WaitingForClock if clock_synced && self.want => {
                self.start(now, clock_synced, opts)
            }
            Status::Stopping {
                deadline,
                killed: false,
            } if deadline <= now => {
                if let Some(pid) = self.pid {
                    self.note(format!(
                        "did not stop within {:.1}s: SIGKILL",
                        opts.grace.as_secs_f64()
                    ));
                    signal_group(pid, Signal::SIGKILL);
                }
                self.status = Status::Stopping {
                    deadline: now + opts.grace,
                    killed: true,
                };
            }
            _ => {}
        }
    }

    /// When [`Self::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.status {
            Status::Backoff { until } => Some(until),
            Status::Stopping {
                deadline,
                killed: false,
            } => Some(deadline),
            _ => None,
        }
    }

    pub fn status(&self) -> ServiceStatus {
        let state = match self.status {
            Status::Stopped => Reported::Stopped,
            Status::WaitingForClock => Reported::WaitingForClock,
            Status::Running => Reported::Running,
            Status::Backoff { .. } => Reported::Backoff,
            Status::Stopping { .. } => Reported::Stopping,
        };
        ServiceStatus {
            name: self.config.name.clone(),
            state,
            pid: self.pid.map(|p| p.as_raw()),
            restarts: self.starts.saturating_sub(1),
            last_exit: self.last_exit.clone(),
            wait_for_clock: self.config.wait_for_clock,
            dont_start: self.config.dont_start,
            memory_bytes: self
                .pid
                .and_then(|pid| cgroup::memory_bytes(self.cgroup.as_deref(), Some(pid))),
            started_at_unix: self.pid.and(self.started_at).and_then(unix_time),
        }
    }
}

/// The wall-clock time of `at` in seconds since 1970, computed now (so a
/// clock stepped by NTP after the start still gives the right answer).
fn unix_time(at: Instant) -> Option<u64> {
    let ago = Instant::now().saturating_duration_since(at);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    Some(now.checked_sub(ago)?.as_secs())
}

/// Signals the whole process group the service leads (it called setsid).
fn signal_group(pid: Pid, signal: Signal) {
    if let Err(e) = killpg(pid, signal) {
        tracing::debug!(%pid, ?signal, "killpg: {e}");
    }
}

pub fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit status {code}"),
        WaitStatus::Signaled(_, sig, core) => {
            format!(
                "signal {}{}",
                sig.as_str(),
                if core { " (core dumped)" } else { "" }
            )
        }
        other => format!("{other:?}"),
    }
}
