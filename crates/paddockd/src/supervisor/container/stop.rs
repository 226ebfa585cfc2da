//! Stopping a container (stop signal, grace period, SIGKILL) and removing
//! everything a container left behind.

use std::time::Duration;

use super::ContainerTask;
use crate::host::etc_files::EtcFiles;
use crate::host::mountinfo;
use crate::paths::Paths;
use crate::supervisor::monitor_client::MonitorClient;
use crate::supervisor::Shared;
use paddock_wire::api::status::State;

/// How long to wait for a SIGKILLed container before giving up on it.
const KILL_WAIT: Duration = Duration::from_secs(10);

impl ContainerTask {
    /// Stops the container if its monitor runs, then unmounts its rootfs.
    pub(super) async fn stop(&self) {
        if let Ok(status) = self.monitor.status().await {
            if status.is_running() {
                self.update(|s| s.state = State::Stopping);
                let grace = self.manifest.stop_grace_period;
                tracing::info!(container = %self.name(), signal = self.manifest.stop_signal, ?grace, "stopping");
                if let Err(error) = self.monitor.kill(self.manifest.stop_signal).await {
                    tracing::warn!(container = %self.name(), %error, "sending the stop signal");
                }
                let exit = match tokio::time::timeout(grace, self.monitor.wait()).await {
                    Ok(exit) => exit.ok(),
                    Err(_) => {
                        tracing::warn!(container = %self.name(), "grace period over: SIGKILL");
                        let _ = self.monitor.kill(libc::SIGKILL).await;
                        tokio::time::timeout(KILL_WAIT, self.monitor.wait())
                            .await
                            .ok()
                            .and_then(Result::ok)
                    }
                };
                if let Some(exit) = exit.or_else(|| self.monitor.read_status_file()) {
                    self.record_exit(&exit, State::Stopping);
                }
            }
        }
        self.unmount_rootfs();
        self.detach_network().await;
    }

    /// Stops the container and deletes everything it left.
    pub(super) async fn remove(&self) {
        self.stop().await;
        if let Err(error) = self.shared.network.release(self.name()).await {
            tracing::warn!(container = %self.name(), %error, "releasing the container's network");
        }
        remove_state_in_background(&self.shared.paths, self.name()).await;
    }
}

/// Stops and deletes a container that no manifest declares any more (found
/// running after paddockd restarted): SIGTERM, 10 s, SIGKILL.
pub async fn remove_orphan(shared: &Shared, name: &str) {
    let paths = &shared.paths;
    let monitor = MonitorClient::new(paths.monitor_dir(name));
    if monitor.status().await.is_ok_and(|s| s.is_running()) {
        let _ = monitor.kill(libc::SIGTERM).await;
        if tokio::time::timeout(KILL_WAIT, monitor.wait())
            .await
            .is_err()
        {
            let _ = monitor.kill(libc::SIGKILL).await;
            let _ = tokio::time::timeout(KILL_WAIT, monitor.wait()).await;
        }
    }
    let rootfs = paths.container_dir(name).join("rootfs");
    if mountinfo::is_mount_point(&rootfs).unwrap_or(false) {
        let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
    }
    if let Err(error) = shared.network.release(name).await {
        tracing::warn!(container = %name, %error, "releasing the container's network");
    }
    remove_state_in_background(paths, name).await;
}

/// [`remove_state`] off the async workers: a writable layer can be large.
async fn remove_state_in_background(paths: &Paths, name: &str) {
    let (paths, name) = (paths.clone(), name.to_string());
    if let Err(error) = tokio::task::spawn_blocking(move || remove_state(&paths, &name)).await {
        tracing::warn!(%error, "removing a container's state");
    }
}

/// Deletes a container's bundle, writable layer, monitor state, /etc copies
/// and logs.
fn remove_state(paths: &Paths, name: &str) {
    let rootfs = paths.container_dir(name).join("rootfs");
    if mountinfo::is_mount_point(&rootfs).unwrap_or(true) {
        tracing::error!(container = %name, "rootfs still mounted: not deleting its state");
        return;
    }
    for dir in [
        paths.container_dir(name),
        paths.monitor_dir(name),
        paths.log_dir(name),
    ] {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(container = %name, path = %dir.display(), error = %e, "removing");
            }
        }
    }
    EtcFiles::for_container(paths, name).remove();
    tracing::info!(container = %name, "removed");
}
