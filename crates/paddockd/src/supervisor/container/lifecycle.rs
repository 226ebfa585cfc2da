//! The container task's main loop: a small state machine of phases, driven by
//! the container's exits and by commands.

use std::time::Duration;

use tokio::sync::mpsc;

use super::launch::Running;
use super::{Command, ContainerTask};
use crate::manifest::RestartPolicy;
use crate::supervisor::monitor_client::MonitorStatus;
use paddock_sys::process::pid_alive;
use paddock_wire::api::status::State;
use paddock_wire::runner::State as MonitorState;

enum Phase {
    /// Not running and not meant to be until told.
    Idle,
    /// Waiting for the clock and dependencies, pulling, launching.
    Starting,
    Running(Running),
    /// Waiting out the restart backoff.
    Backoff(Duration),
}

/// What a command asks of the loop.
enum Next {
    Phase(Phase),
    /// Leave the loop (removed, detached, or paddockd is going away).
    Exit,
}

/// Marker in the monitor directory: paddockd itself stopped the container
/// (shutdown), so the next paddockd of this boot starts it again.
const STOPPED_BY_PADDOCKD: &str = "stopped-by-paddockd";

impl ContainerTask {
    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut phase = match self.adopt().await {
            Some(running) => Phase::Running(running),
            None if self.start_on_boot() => Phase::Starting,
            None => Phase::Idle,
        };
        loop {
            phase = match phase {
                Phase::Idle => match commands.recv().await {
                    None => return,
                    Some(Command::Unhealthy(_)) => Phase::Idle,
                    Some(cmd) => match self.on_command_idle(cmd).await {
                        Next::Phase(p) => p,
                        Next::Exit => return,
                    },
                },
                Phase::Starting => {
                    let outcome = {
                        let start = self.start();
                        tokio::pin!(start);
                        loop {
                            tokio::select! {
                                started = &mut start => break Ok(started),
                                cmd = commands.recv() => match cmd {
                                    // From a run that is over.
                                    Some(Command::Unhealthy(_)) => continue,
                                    other => break Err(other),
                                },
                            }
                        }
                    };
                    match outcome {
                        Ok(Ok(running)) => Phase::Running(running),
                        Ok(Err(error)) => {
                            let fault = error.fault();
                            tracing::warn!(container = %self.name(), %error, ?fault, "start failed");
                            self.unmount_rootfs();
                            let error = error.to_string();
                            self.update(|s| {
                                s.state = State::Failed;
                                s.last_error = Some(error.clone());
                                s.pid = None;
                            });
                            Phase::Backoff(self.next_delay(Duration::ZERO))
                        }
                        Err(cmd) => {
                            // The start was abandoned mid-way: a monitor may
                            // already have been spawned.
                            self.stop().await;
                            match cmd {
                                None => return,
                                Some(cmd) => match self.on_command_idle(cmd).await {
                                    Next::Phase(p) => p,
                                    Next::Exit => return,
                                },
                            }
                        }
                    }
                }
                Phase::Running(running) => {
                    let monitor = self.monitor.clone();
                    let outcome = tokio::select! {
                        exit = monitor.wait() => Ok(exit),
                        cmd = commands.recv() => Err(cmd),
                    };
                    match outcome {
                        Ok(exit) => {
                            let exit = match exit {
                                Ok(status) => status,
                                Err(error) => self.lost_monitor(error.to_string()).await,
                            };
                            let ran_for = running.started.elapsed();
                            running.finish().await;
                            self.on_exit(&exit, ran_for).await
                        }
                        Err(None) => {
                            running.finish().await;
                            return;
                        }
                        Err(Some(cmd)) => match self.on_command_running(cmd, running).await {
                            Next::Phase(p) => p,
                            Next::Exit => return,
                        },
                    }
                }
                Phase::Backoff(delay) => {
                    let sleep = tokio::time::sleep(delay);
                    tokio::pin!(sleep);
                    let outcome = loop {
                        tokio::select! {
                            _ = &mut sleep => break None,
                            cmd = commands.recv() => match cmd {
                                Some(Command::Unhealthy(_)) => continue,
                                other => break Some(other),
                            },
                        }
                    };
                    match outcome {
                        None => {
                            self.update(|s| s.restarts += 1);
                            Phase::Starting
                        }
                        Some(None) => return,
                        Some(Some(cmd)) => match self.on_command_idle(cmd).await {
                            Next::Phase(p) => p,
                            Next::Exit => return,
                        },
                    }
                }
            };
        }
    }

    /// Whether to start when paddockd starts: not when the user stopped it
    /// (except with `restart: always`, as docker), not when it already ran to
    /// completion this boot with `restart: no` — unless paddockd itself
    /// stopped it when shutting down.
    fn start_on_boot(&self) -> bool {
        let stopped_by_user = self.stopped_marker().exists();
        if stopped_by_user && self.manifest.restart != RestartPolicy::Always {
            self.update(|s| s.state = State::Stopped);
            return false;
        }
        if self.monitor.dir().join(STOPPED_BY_PADDOCKD).exists() {
            return true;
        }
        if let Some(last) = self.monitor.read_status_file() {
            if last.state == MonitorState::Exited && !self.restarts_after(&last) {
                self.record_exit(&last, State::Exited);
                return false;
            }
        }
        true
    }

    fn stopped_marker(&self) -> std::path::PathBuf {
        self.shared
            .paths
            .container_dir(self.name())
            .join("stopped-by-user")
    }

    fn set_marker(&self, marker: std::path::PathBuf, present: bool) {
        let result = if present {
            marker
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&marker, b""))
        } else {
            match std::fs::remove_file(&marker) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        };
        if let Err(error) = result {
            tracing::warn!(container = %self.name(), path = %marker.display(), %error, "recording the stop");
        }
    }

    /// The monitor vanished without answering `wait` (killed): take its last
    /// status file, or report the loss; either way make sure nothing of the
    /// container runs on unsupervised.
    async fn lost_monitor(&self, error: String) -> MonitorStatus {
        // A monitor that is finishing (deleting the container) no longer
        // serves requests: give it a moment to write its final status.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match self.monitor.read_status_file() {
                // It finished as it should; our request merely came late.
                Some(status) if !status.is_running() => return status,
                Some(status)
                    if pid_alive(status.monitor_pid) && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => break,
            }
        }
        tracing::warn!(container = %self.name(), %error, "lost the monitor");
        self.shared.runner.delete_force(self.name()).await;
        MonitorStatus {
            id: self.name().to_string(),
            state: MonitorState::Exited,
            error: Some(format!("monitor lost: {error}")),
            exit_code: Some(-1),
            ..MonitorStatus::default()
        }
    }

    /// Records an exit and the state it leads to, in one update (a
    /// dependant must never see `running` without a pid).
    pub(super) fn record_exit(&self, exit: &MonitorStatus, state: State) {
        self.update(|s| {
            s.state = state;
            s.pid = None;
            s.last_exit_code = exit.exit_code;
            s.finished_at = exit.finished_at.clone();
            s.health = None;
            if let Some(e) = &exit.error {
                s.last_error = Some(e.clone());
            }
        });
    }

    async fn on_exit(&mut self, exit: &MonitorStatus, ran_for: Duration) -> Phase {
        tracing::info!(container = %self.name(), code = ?exit.exit_code, "exited");
        if self.restarts_after(exit) {
            if matches!(self.manifest.restart, RestartPolicy::OnFailure { .. }) {
                self.failure_restarts += 1;
            }
            let delay = self.next_delay(ran_for);
            self.record_exit(exit, State::Restarting);
            Phase::Backoff(delay)
        } else {
            self.unmount_rootfs();
            self.detach_network().await;
            self.record_exit(exit, State::Exited);
            Phase::Idle
        }
    }

    /// Whether the restart policy restarts after this exit.
    fn restarts_after(&self, exit: &MonitorStatus) -> bool {
        let failed = exit.exit_code != Some(0);
        match self.manifest.restart {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                failed && max_retries.is_none_or(|m| self.failure_restarts < m)
            }
        }
    }

    /// The backoff before the next start; a run longer than `reset_after`
    /// starts the doubling over.
    fn next_delay(&mut self, ran_for: Duration) -> Duration {
        let backoff = &self.shared.config.backoff;
        if ran_for >= backoff.reset_after.0 {
            self.attempt = 0;
        }
        let delay = backoff.delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// A start asked for by the user: a fresh count, as `docker start`.
    fn user_start(&mut self) {
        self.set_marker(self.stopped_marker(), false);
        self.attempt = 0;
        self.failure_restarts = 0;
        self.update(|s| {
            s.state = State::Waiting;
            s.last_error = None;
        });
    }

    async fn on_command_idle(&mut self, cmd: Command) -> Next {
        match cmd {
            Command::Start(reply) | Command::Restart(reply) => {
                self.user_start();
                let _ = reply.send(());
                Next::Phase(Phase::Starting)
            }
            Command::Stop(reply) => {
                self.set_marker(self.stopped_marker(), true);
                self.unmount_rootfs();
                self.detach_network().await;
                self.update(|s| s.state = State::Stopped);
                let _ = reply.send(());
                Next::Phase(Phase::Idle)
            }
            Command::Shutdown(reply) => {
                self.unmount_rootfs();
                self.detach_network().await;
                let _ = reply.send(());
                Next::Exit
            }
            Command::Remove(reply) => {
                self.remove().await;
                let _ = reply.send(());
                Next::Exit
            }
            Command::Detach(reply) => {
                let _ = reply.send(());
                Next::Exit
            }
            Command::Unhealthy(_) => Next::Phase(Phase::Idle),
        }
    }

    async fn on_command_running(&mut self, cmd: Command, mut running: Running) -> Next {
        match cmd {
            Command::Start(reply) => {
                let _ = reply.send(());
                Next::Phase(Phase::Running(running))
            }
            Command::Stop(reply) => {
                running.end_health();
                self.set_marker(self.stopped_marker(), true);
                self.stop().await;
                running.finish().await;
                self.update(|s| s.state = State::Stopped);
                let _ = reply.send(());
                Next::Phase(Phase::Idle)
            }
            Command::Shutdown(reply) => {
                running.end_health();
                self.set_marker(self.monitor.dir().join(STOPPED_BY_PADDOCKD), true);
                self.stop().await;
                running.finish().await;
                self.update(|s| s.state = State::Stopped);
                let _ = reply.send(());
                Next::Exit
            }
            Command::Restart(reply) => {
                running.end_health();
                self.stop().await;
                running.finish().await;
                self.user_start();
                self.update(|s| s.restarts += 1);
                let _ = reply.send(());
                Next::Phase(Phase::Starting)
            }
            Command::Remove(reply) => {
                running.end_health();
                // remove() stops it first.
                self.remove().await;
                running.finish().await;
                let _ = reply.send(());
                Next::Exit
            }
            Command::Detach(reply) => {
                running.finish().await;
                let _ = reply.send(());
                Next::Exit
            }
            Command::Unhealthy(generation) => {
                let restart = self
                    .manifest
                    .healthcheck
                    .as_ref()
                    .is_some_and(|h| h.restart_on_unhealthy);
                let current = self.generation.load(std::sync::atomic::Ordering::SeqCst);
                if generation != current || !restart {
                    return Next::Phase(Phase::Running(running));
                }
                tracing::warn!(container = %self.name(), "unhealthy: restarting");
                let ran_for = running.started.elapsed();
                running.end_health();
                self.stop().await;
                running.finish().await;
                self.update(|s| {
                    s.state = State::Restarting;
                    s.last_error = Some("restarted because it was unhealthy".into());
                });
                Next::Phase(Phase::Backoff(self.next_delay(ran_for)))
            }
        }
    }
}
