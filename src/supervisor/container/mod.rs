//! One container's life: a tokio task per declared container that starts it,
//! watches it, restarts it per its policy, and obeys start/stop/restart/remove.
//!
//! The task never touches libcontainer; it drives `paddock-runner monitor`
//! (see docs/runner-protocol.md) and learns of exits through the monitor's
//! control socket, so a restarted paddockd re-adopts what is still running.

mod health;
mod launch;
mod lifecycle;
mod prepare;
mod stop;

pub use prepare::hostname_for;
pub use stop::remove_orphan;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::log_buffer::LogBuffer;
use super::monitor_client::MonitorClient;
use super::status::ContainerStatus;
use super::Shared;
use crate::manifest::Manifest;

/// What the rest of paddockd asks of a container task.
#[derive(Debug)]
pub enum Command {
    Start(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
    Restart(oneshot::Sender<()>),
    /// Stop it and delete its state (manifest removed or changed).
    Remove(oneshot::Sender<()>),
    /// Stop it but leave it to be re-adopted (paddockd shutting down for an
    /// upgrade keeps containers running; a plain shutdown stops them).
    Detach(oneshot::Sender<()>),
    /// Sent by the health checker.
    Unhealthy,
}

/// The handle paddockd keeps for each container task.
#[derive(Debug)]
pub struct ContainerHandle {
    pub manifest: Manifest,
    pub status: watch::Receiver<ContainerStatus>,
    pub logs: Arc<LogBuffer>,
    pub commands: mpsc::Sender<Command>,
    pub task: tokio::task::JoinHandle<()>,
}

impl ContainerHandle {
    /// Starts the task for `manifest`; it re-adopts a running monitor first.
    pub fn spawn(shared: Arc<Shared>, manifest: Manifest, logs: Arc<LogBuffer>) -> Self {
        let status = ContainerStatus::new(
            &manifest.name,
            &manifest.image,
            &manifest.source.display().to_string(),
        );
        let (status_tx, status_rx) = watch::channel(status);
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let monitor = MonitorClient::new(shared.paths.monitor_dir(&manifest.name));
        let task = ContainerTask {
            shared,
            manifest: manifest.clone(),
            status: status_tx,
            logs: logs.clone(),
            commands: cmd_rx,
            commands_tx: cmd_tx.clone(),
            monitor,
            attempt: 0,
            failure_restarts: 0,
        };
        let task = tokio::spawn(task.run());
        Self {
            manifest,
            status: status_rx,
            logs,
            commands: cmd_tx,
            task,
        }
    }

    /// Sends a command and waits for the task to carry it out.
    pub async fn request(&self, make: impl FnOnce(oneshot::Sender<()>) -> Command) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(make(tx)).await.is_err() {
            return false;
        }
        rx.await.is_ok()
    }
}

/// The task's own state.
struct ContainerTask {
    shared: Arc<Shared>,
    manifest: Manifest,
    status: watch::Sender<ContainerStatus>,
    logs: Arc<LogBuffer>,
    commands: mpsc::Receiver<Command>,
    commands_tx: mpsc::Sender<Command>,
    monitor: MonitorClient,
    /// Consecutive restarts, for the backoff.
    attempt: u32,
    /// Restarts after failures, for `on-failure:MAX`.
    failure_restarts: u32,
}

impl ContainerTask {
    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn update(&self, f: impl FnOnce(&mut ContainerStatus)) {
        self.status.send_modify(f);
    }
}
