//! Bringing a container up: wait for the clock and dependencies, prepare the
//! bundle, spawn the monitor, and attach the log follower and health checker;
//! or re-adopt a monitor a previous paddockd left running.

use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;
use tokio::task::JoinHandle;

use super::ContainerTask;
use crate::manifest::DependencyCondition;
use crate::supervisor::monitor_client::MonitorStatus;
use crate::supervisor::start_error::StartError;
use paddock_wire::api::status::{Health, State};
use paddock_wire::runner::State as MonitorState;

/// A running container's helpers.
pub(super) struct Running {
    pub started: Instant,
    logs: JoinHandle<()>,
    health: Option<JoinHandle<()>>,
}

/// How long the log follower may take to copy a finished container's last
/// lines.
const LOG_DRAIN: Duration = Duration::from_secs(3);

impl Running {
    /// Stops the health checker (before a stop, so it does not judge a
    /// container that is going away).
    pub fn end_health(&mut self) {
        if let Some(h) = self.health.take() {
            h.abort();
        }
    }

    /// Stops the health checker and lets the log follower copy the last
    /// lines (it ends when the monitor closes the stream, so call this once
    /// the container has exited).
    pub async fn finish(mut self) {
        self.end_health();
        let logs = self.logs;
        let abort = logs.abort_handle();
        if tokio::time::timeout(LOG_DRAIN, logs).await.is_err() {
            abort.abort();
        }
    }
}

/// How long a finishing monitor may take to exit before a new one starts.
const PREVIOUS_MONITOR_EXIT: Duration = Duration::from_secs(10);

/// How long the monitor may take to report the container running.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);

impl ContainerTask {
    /// Re-adopts the container if a monitor for it still runs and it was made
    /// from the same manifest; stops it if the manifest changed meanwhile.
    pub(super) async fn adopt(&self) -> Option<Running> {
        let status = self.monitor.status().await.ok()?;
        if !status.is_running() {
            return None;
        }
        if !self.identity_matches() {
            tracing::info!(container = %self.name(), "manifest changed while paddockd was away: recreating");
            self.stop().await;
            return None;
        }
        tracing::info!(container = %self.name(), pid = ?status.pid, "re-adopted running container");
        // Its namespace is still there; ports, veth and rules are checked
        // and put back (a paddockd that was SIGKILLed held its ports).
        if let Err(error) = self.network_namespace().await {
            tracing::error!(container = %self.name(), %error, "restoring the network of a re-adopted container");
            self.update(|s| s.last_error = Some(error.to_string()));
        }
        let digest = self.stored_image_digest();
        self.mark_running(&status);
        self.update(|s| s.image_digest = digest);
        Some(self.attach(None))
    }

    /// Waits for what the container needs, prepares and launches it.
    pub(super) async fn start(&self) -> Result<Running, StartError> {
        self.update(|s| s.state = State::Waiting);
        if self.manifest.wait_for_clock {
            let mut clock = self.shared.clock.clone();
            let _ = clock.wait_for(|trusted| *trusted).await;
        }
        self.wait_for_dependencies().await;
        let digest = self.prepare().await?;
        self.update(|s| {
            s.state = State::Starting;
            s.image_digest = Some(digest);
        });
        let log_file = self.shared.paths.log_dir(self.name()).join("current.log");
        let log_offset = std::fs::metadata(&log_file).map(|m| m.len()).unwrap_or(0);
        self.launch().await?;
        Ok(self.attach(Some(log_offset)))
    }

    /// Waits until every `depends_on` container is running (or healthy, for
    /// `condition: service_healthy`).
    async fn wait_for_dependencies(&self) {
        for dep in &self.manifest.depends_on {
            let mut logged = false;
            loop {
                let ready = self
                    .shared
                    .status_of(&dep.name)
                    .is_some_and(|s| match dep.condition {
                        // Started once is enough: a one-shot job that has
                        // already exited does not block its dependants.
                        DependencyCondition::ServiceStarted => {
                            s.state == State::Running || s.started_at.is_some()
                        }
                        DependencyCondition::ServiceHealthy => {
                            s.state == State::Running
                                && s.health.is_none_or(|h| h == Health::Healthy)
                        }
                        DependencyCondition::ServiceCompletedSuccessfully => {
                            s.state == State::Exited && s.last_exit_code == Some(0)
                        }
                    });
                if ready {
                    break;
                }
                if !logged {
                    tracing::info!(container = %self.name(), dependency = %dep.name, "waiting for dependency");
                    logged = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Spawns the monitor and waits until it reports the container running.
    async fn launch(&self) -> Result<(), StartError> {
        let paths = &self.shared.paths;
        let state_dir = paths.monitor_dir(self.name());
        // Never two monitors for one container. One that has answered
        // `wait` may still be deleting its container: give it a moment.
        if let Some(previous) = self.monitor.read_status_file() {
            let deadline = Instant::now() + PREVIOUS_MONITOR_EXIT;
            while paddock_sys::process::pid_alive(previous.monitor_pid) {
                if Instant::now() > deadline {
                    return Err(StartError::Monitor(format!(
                        "a previous monitor (pid {}) is still running",
                        previous.monitor_pid
                    )));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let _ = std::fs::remove_dir_all(&state_dir);
        std::fs::create_dir_all(&state_dir).map_err(StartError::bundle("creating", &state_dir))?;
        let log_dir = paths.log_dir(self.name());
        std::fs::create_dir_all(&log_dir).map_err(StartError::bundle("creating", &log_dir))?;
        let monitor_pid = self
            .shared
            .runner
            .spawn_monitor(
                self.name(),
                &paths.container_dir(self.name()),
                &state_dir,
                &log_dir,
                self.manifest.tty,
                &self.shared.config.logs,
            )
            .map_err(|source| StartError::Spawn {
                binary: self.shared.runner.binary().to_path_buf(),
                source,
            })?;
        let deadline = Instant::now() + LAUNCH_TIMEOUT;
        loop {
            if let Some(status) = self.monitor.read_status_file() {
                match status.state {
                    MonitorState::Running => {
                        self.mark_running(&status);
                        tracing::info!(container = %self.name(), pid = ?status.pid, "running");
                        return Ok(());
                    }
                    MonitorState::Failed => {
                        return Err(StartError::Monitor(
                            status
                                .error
                                .unwrap_or_else(|| "the runtime failed to create it".into()),
                        ))
                    }
                    // Ran and exited before we looked: the exit is handled
                    // by the caller's wait.
                    MonitorState::Exited => return Ok(()),
                    MonitorState::Creating => {}
                }
            }
            if !paddock_sys::process::pid_alive(monitor_pid as i32)
                && self.monitor.read_status_file().is_none()
            {
                let said = std::fs::read_to_string(
                    state_dir.join(paddock_wire::runner::files::MONITOR_LOG),
                )
                .unwrap_or_default();
                let said = said.trim();
                return Err(StartError::Monitor(format!(
                    "paddock-runner exited without reporting a status{}{said}",
                    if said.is_empty() { "" } else { ": " }
                )));
            }
            if Instant::now() > deadline {
                let pid = nix::unistd::Pid::from_raw(monitor_pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                self.shared.runner.delete_force(self.name()).await;
                return Err(StartError::Monitor(
                    "paddock-runner did not report the container running within 60s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Reports the container running as its monitor says.
    fn mark_running(&self, status: &MonitorStatus) {
        let health = self.initial_health();
        self.update(|s| {
            s.state = State::Running;
            s.health = health;
            s.pid = status.pid;
            s.started_at = status.started_at.clone();
            s.last_error = None;
        });
    }

    /// `starting` for a container with a health check (set together with
    /// `running`, so a `service_healthy` dependant never sees a gap), else none.
    fn initial_health(&self) -> Option<Health> {
        use crate::manifest::HealthcheckTest;
        self.manifest
            .healthcheck
            .as_ref()
            .and_then(|h| h.test.as_ref())
            .filter(|t| !matches!(t, HealthcheckTest::Disabled))
            .map(|_| Health::Starting)
    }

    /// Starts the log follower and, if configured, the health checker.
    fn attach(&self, log_offset: Option<u64>) -> Running {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Running {
            started: Instant::now(),
            logs: self.follow_logs(log_offset),
            health: self.spawn_health_checker(),
        }
    }

    /// Copies the monitor's output into paddockd's log buffer. A container
    /// that exits at once may take its monitor with it before our request is
    /// served (the connection is refused or reset): then the lines this run
    /// wrote to the log file, past those already copied, are read from there.
    fn follow_logs(&self, file_offset: Option<u64>) -> JoinHandle<()> {
        let monitor = self.monitor.clone();
        let logs = self.logs.clone();
        let tail = self.shared.config.logs.buffer_lines;
        let log_file = self.shared.paths.log_dir(self.name()).join("current.log");
        tokio::spawn(async move {
            let mut copied = 0usize;
            let mut complete = false;
            if let Ok(mut stream) = monitor.follow_logs(tail).await {
                // Output need not be UTF-8; keep every line anyway.
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match stream.read_until(b'\n', &mut line).await {
                        Ok(0) => {
                            complete = copied > 0;
                            break;
                        }
                        Err(_) => break,
                        Ok(_) => {
                            let text = String::from_utf8_lossy(&line);
                            logs.push(text.trim_end_matches('\n').to_string());
                            copied += 1;
                        }
                    }
                }
            }
            if complete {
                return;
            }
            let Some(offset) = file_offset else { return };
            let Ok(text) = std::fs::read(&log_file) else {
                return;
            };
            let Some(run) = usize::try_from(offset).ok().and_then(|o| text.get(o..)) else {
                return; // rotated meanwhile: what the stream gave is what there is
            };
            for line in String::from_utf8_lossy(run).lines().skip(copied) {
                logs.push(line.to_string());
            }
        })
    }
}
