//! What paddockd reports about each container: the body of
//! `GET /containers` and `GET /containers/NAME`, shown by `paddock ps` and
//! init's web UI.

use serde::{Deserialize, Serialize};

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for the clock or for its dependencies.
    Waiting,
    /// Its image is being pulled.
    Pulling,
    /// The monitor is creating it.
    Starting,
    Running,
    /// Exited and waiting out the restart backoff.
    Restarting,
    /// Being stopped (stop signal sent, grace period running).
    Stopping,
    /// Exited, and its restart policy says to leave it.
    Exited,
    /// Stopped by the user.
    Stopped,
    /// Could not be started (image, spec or runtime error); retried with backoff.
    Failed,
    /// Its manifest has an error; see `last_error`.
    Invalid,
}

/// The health of a container with a healthcheck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

/// One container's status, as `paddock ps --json` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerStatus {
    pub name: String,
    pub state: State,
    pub image: String,
    pub image_digest: Option<String>,
    pub pid: Option<i32>,
    pub restarts: u32,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub last_exit_code: Option<i32>,
    pub last_error: Option<String>,
    pub health: Option<Health>,
    /// The manifest file this container comes from.
    pub manifest: String,
    /// Its address on paddock's bridge.
    #[serde(default)]
    pub address: Option<String>,
    /// Published ports in effect, as `HOST_IP:HOST_PORT->PORT/PROTO`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// Bind mounts from the manifest.
    #[serde(default)]
    pub volumes: Vec<VolumeStatus>,
    /// Memory its cgroup uses now (while it runs).
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// One bind mount as status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeStatus {
    /// The host path.
    pub source: String,
    /// The path inside the container.
    pub target: String,
    pub read_only: bool,
}

impl ContainerStatus {
    pub fn new(name: &str, image: &str, manifest: &str) -> Self {
        Self {
            name: name.to_string(),
            state: State::Waiting,
            image: image.to_string(),
            image_digest: None,
            pid: None,
            restarts: 0,
            started_at: None,
            finished_at: None,
            last_exit_code: None,
            last_error: None,
            health: None,
            manifest: manifest.to_string(),
            address: None,
            ports: Vec::new(),
            volumes: Vec::new(),
            memory_bytes: None,
        }
    }
}
