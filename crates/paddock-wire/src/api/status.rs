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

impl State {
    /// The name on the wire: `running`, `restarting`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Pulling => "pulling",
            State::Starting => "starting",
            State::Running => "running",
            State::Restarting => "restarting",
            State::Stopping => "stopping",
            State::Exited => "exited",
            State::Stopped => "stopped",
            State::Failed => "failed",
            State::Invalid => "invalid",
        }
    }
}

/// The health of a container with a healthcheck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    /// The name on the wire: `starting`, `healthy`, `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_states_as_the_wire_does() {
        let mut c = ContainerStatus::new("web", "busybox", "web.yaml");
        c.health = Some(Health::Unhealthy);
        c.ports = vec!["0.0.0.0:8080->80/tcp".into()];
        c.volumes = vec![VolumeStatus {
            source: "/perm/www".into(),
            target: "/www".into(),
            read_only: true,
        }];
        crate::round_trip(&c);
        for state in [
            State::Waiting,
            State::Pulling,
            State::Starting,
            State::Running,
            State::Restarting,
            State::Stopping,
            State::Exited,
            State::Stopped,
            State::Failed,
            State::Invalid,
        ] {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, state.as_str());
            assert_eq!(serde_json::from_value::<State>(json).unwrap(), state);
        }
        for h in [Health::Starting, Health::Healthy, Health::Unhealthy] {
            assert_eq!(serde_json::to_value(h).unwrap(), h.as_str());
        }
    }
}
