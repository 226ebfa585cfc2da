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

pub use prepare::{etc_content, hostname_for};
pub use stop::remove_orphan;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::log_buffer::LogBuffer;
use super::monitor_client::MonitorClient;
use super::Shared;
use crate::manifest::Manifest;
use paddock_wire::api::status::{ContainerStatus, VolumeStatus};

/// What the rest of paddockd asks of a container task.
#[derive(Debug)]
pub enum Command {
    Start(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
    Restart(oneshot::Sender<()>),
    /// Stop it and delete its state (manifest removed or changed).
    Remove(oneshot::Sender<()>),
    /// paddockd is shutting down: stop it, without counting that as the
    /// user's stop, and end the task.
    Shutdown(oneshot::Sender<()>),
    /// End the task and leave the container running, to be re-adopted.
    Detach(oneshot::Sender<()>),
    /// Sent by the health checker of run number `.0`.
    Unhealthy(u64),
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
        let mut status = ContainerStatus::new(
            &manifest.name,
            &manifest.image,
            &manifest.source.display().to_string(),
        );
        status.volumes = manifest
            .volumes
            .iter()
            .map(|v| VolumeStatus {
                source: v.source.display().to_string(),
                target: v.target.display().to_string(),
                read_only: v.read_only,
            })
            .collect();
        let (status_tx, status_rx) = watch::channel(status);
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let monitor = MonitorClient::new(shared.paths.monitor_dir(&manifest.name));
        let task = ContainerTask {
            shared,
            manifest: manifest.clone(),
            status: status_tx,
            logs: logs.clone(),
            commands_tx: cmd_tx.clone(),
            monitor,
            attempt: 0,
            failure_restarts: 0,
            generation: std::sync::atomic::AtomicU64::new(0),
        };
        let task = tokio::spawn(task.run(cmd_rx));
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
        request(&self.commands, make).await
    }
}

/// Sends a command to a container task and waits for it to be carried out.
pub async fn request(
    commands: &mpsc::Sender<Command>,
    make: impl FnOnce(oneshot::Sender<()>) -> Command,
) -> bool {
    let (tx, rx) = oneshot::channel();
    if commands.send(make(tx)).await.is_err() {
        return false;
    }
    rx.await.is_ok()
}

/// The task's own state.
struct ContainerTask {
    shared: Arc<Shared>,
    manifest: Manifest,
    status: watch::Sender<ContainerStatus>,
    logs: Arc<LogBuffer>,
    commands_tx: mpsc::Sender<Command>,
    monitor: MonitorClient,
    /// Consecutive restarts, for the backoff.
    attempt: u32,
    /// Restarts after failures, for `on-failure:MAX`.
    failure_restarts: u32,
    /// Counts runs, so a health verdict about an earlier run is ignored.
    generation: std::sync::atomic::AtomicU64,
}

impl ContainerTask {
    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn update(&self, f: impl FnOnce(&mut ContainerStatus)) {
        self.status.send_modify(f);
    }
}
