//! The container task's main loop: a small state machine of phases, driven by
//! the container's exits and by commands.

use std::time::Duration;

use tokio::sync::mpsc;

use super::launch::Running;
use super::{Command, ContainerTask};
use crate::manifest::RestartPolicy;
use crate::supervisor::monitor_client::MonitorStatus;
use crate::supervisor::status::State;

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

impl ContainerTask {
    pub(super) async fn run(mut self) {
        let mut commands = std::mem::replace(&mut self.commands, mpsc::channel(1).1);
        let mut phase = match self.adopt().await {
            Some(running) => Phase::Running(running),
            None if self.start_on_boot() => Phase::Starting,
            None => Phase::Idle,
        };
        loop {
            phase = match phase {
                Phase::Idle => match commands.recv().await {
                    None => return,
                    Some(cmd) => match self.on_command_idle(cmd).await {
                        Next::Phase(p) => p,
                        Next::Exit => return,
                    },
                },
                Phase::Starting => {
                    let outcome = tokio::select! {
                        started = self.start() => Ok(started),
                        cmd = commands.recv() => Err(cmd),
                    };
                    match outcome {
                        Ok(Ok(running)) => Phase::Running(running),
                        Ok(Err(error)) => {
                            tracing::warn!(container = %self.name(), %error, "start failed");
                            self.update(|s| {
                                s.state = State::Failed;
                                s.last_error = Some(error.clone());
                                s.pid = None;
                            });
                            let delay = self.next_delay(Duration::ZERO);
                            Phase::Backoff(delay)
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
                                Err(error) => self.lost_monitor(error.to_string()),
                            };
                            running.finish();
                            self.on_exit(&exit, running.started.elapsed())
                        }
                        Err(None) => {
                            running.finish();
                            return;
                        }
                        Err(Some(cmd)) => match self.on_command_running(cmd, running).await {
                            Next::Phase(p) => p,
                            Next::Exit => return,
                        },
                    }
                }
                Phase::Backoff(delay) => {
                    let outcome = tokio::select! {
                        _ = tokio::time::sleep(delay) => None,
                        cmd = commands.recv() => Some(cmd),
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
    /// completion this boot with `restart: no`.
    fn start_on_boot(&self) -> bool {
        let stopped_by_user = self.stopped_marker().exists();
        if stopped_by_user && self.manifest.restart != RestartPolicy::Always {
            self.update(|s| s.state = State::Stopped);
            return false;
        }
        if let Some(last) = self.monitor.read_status_file() {
            if last.state == "exited" {
                self.record_exit(&last, State::Exited);
                if self.restart_delay_for(&last).is_none() {
                    return false;
                }
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

    fn set_stopped_by_user(&self, stopped: bool) {
        let marker = self.stopped_marker();
        if stopped {
            if let Some(dir) = marker.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = std::fs::write(&marker, b"");
        } else {
            let _ = std::fs::remove_file(&marker);
        }
    }

    /// The monitor vanished without answering `wait` (killed): take its last
    /// status file, or report the loss.
    fn lost_monitor(&self, error: String) -> MonitorStatus {
        tracing::warn!(container = %self.name(), %error, "lost the monitor");
        match self.monitor.read_status_file() {
            Some(s) if !s.is_running() => s,
            _ => MonitorStatus {
                id: self.name().to_string(),
                state: "exited".into(),
                error: Some(format!("monitor lost: {error}")),
                exit_code: Some(-1),
                ..MonitorStatus::default()
            },
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

    fn on_exit(&mut self, exit: &MonitorStatus, ran_for: Duration) -> Phase {
        tracing::info!(container = %self.name(), code = ?exit.exit_code, "exited");
        match self.restart_delay_for(exit) {
            Some(_) => {
                if matches!(self.manifest.restart, RestartPolicy::OnFailure { .. }) {
                    self.failure_restarts += 1;
                }
                let delay = self.next_delay(ran_for);
                self.record_exit(exit, State::Restarting);
                Phase::Backoff(delay)
            }
            None => {
                self.record_exit(exit, State::Exited);
                Phase::Idle
            }
        }
    }

    /// Whether the restart policy restarts after this exit.
    fn restart_delay_for(&self, exit: &MonitorStatus) -> Option<()> {
        let failed = exit.exit_code != Some(0);
        let restart = match self.manifest.restart {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                failed && max_retries.is_none_or(|m| self.failure_restarts < m)
            }
        };
        restart.then_some(())
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

    async fn on_command_idle(&mut self, cmd: Command) -> Next {
        match cmd {
            Command::Start(reply) | Command::Restart(reply) => {
                self.set_stopped_by_user(false);
                self.attempt = 0;
                let _ = reply.send(());
                Next::Phase(Phase::Starting)
            }
            Command::Stop(reply) => {
                self.set_stopped_by_user(true);
                self.update(|s| s.state = State::Stopped);
                let _ = reply.send(());
                Next::Phase(Phase::Idle)
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
            Command::Unhealthy => Next::Phase(Phase::Idle),
        }
    }

    async fn on_command_running(&mut self, cmd: Command, running: Running) -> Next {
        match cmd {
            Command::Start(reply) => {
                let _ = reply.send(());
                Next::Phase(Phase::Running(running))
            }
            Command::Stop(reply) => {
                running.finish();
                self.set_stopped_by_user(true);
                self.stop().await;
                self.update(|s| s.state = State::Stopped);
                let _ = reply.send(());
                Next::Phase(Phase::Idle)
            }
            Command::Restart(reply) => {
                running.finish();
                self.stop().await;
                self.attempt = 0;
                self.update(|s| s.restarts += 1);
                let _ = reply.send(());
                Next::Phase(Phase::Starting)
            }
            Command::Remove(reply) => {
                running.finish();
                self.stop().await;
                self.remove().await;
                let _ = reply.send(());
                Next::Exit
            }
            Command::Detach(reply) => {
                running.finish();
                let _ = reply.send(());
                Next::Exit
            }
            Command::Unhealthy => {
                let restart = self
                    .manifest
                    .healthcheck
                    .as_ref()
                    .is_some_and(|h| h.restart_on_unhealthy);
                if !restart {
                    return Next::Phase(Phase::Running(running));
                }
                tracing::warn!(container = %self.name(), "unhealthy: restarting");
                running.finish();
                self.stop().await;
                self.update(|s| {
                    s.state = State::Restarting;
                    s.last_error = Some("restarted because it was unhealthy".into());
                });
                let delay = self.next_delay(Duration::ZERO);
                Next::Phase(Phase::Backoff(delay))
            }
        }
    }
}
