//! The validated form of a manifest: what the rest of paddockd works with.
//!
//! Everything here has been checked; no field holds a value the supervisor
//! or the spec builder could refuse for a reason visible in the manifest.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use oci_spec::runtime::Capability;
use serde::{Serialize, Serializer};

/// One container, as declared in `/etc/paddock/containers/NAME.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 64 characters; defaults to the
    /// file name without its extension.
    pub name: String,
    /// An image reference: `docker.io/library/nginx:1.27`, `alpine`, `…@sha256:…`.
    pub image: String,
    /// Replaces the image's Cmd.
    pub command: Option<Vec<String>>,
    /// Replaces the image's Entrypoint (and resets its Cmd unless `command`
    /// is given). `Some(vec![])` clears the image's Entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// In the order given; variables named without a value were taken from
    /// paddockd's environment when the manifest was loaded (and dropped when
    /// unset there, like compose does).
    pub environment: Vec<(String, String)>,
    /// Absolute path inside the container.
    pub working_dir: Option<PathBuf>,
    pub user: Option<UserSpec>,
    pub volumes: Vec<Volume>,
    pub tmpfs: Vec<Tmpfs>,
    pub network: NetworkMode,
    /// One entry per port: ranges are expanded.
    pub ports: Vec<PortMapping>,
    pub tty: bool,
    pub restart: RestartPolicy,
    /// A signal number (default 15, SIGTERM).
    pub stop_signal: i32,
    /// Default 10 s.
    pub stop_grace_period: Duration,
    pub pull: PullPolicy,
    pub cap_add: Vec<CapabilityName>,
    pub cap_drop: Vec<CapabilityName>,
    pub privileged: bool,
    pub read_only: bool,
    pub devices: Vec<DeviceMapping>,
    /// Names with dots (`net.ipv4.ip_forward`).
    pub sysctls: BTreeMap<String, String>,
    pub ulimits: Vec<Ulimit>,
    /// Bytes.
    pub mem_limit: Option<u64>,
    pub cpus: Option<f64>,
    /// Positive, or -1 for no limit.
    pub pids_limit: Option<i64>,
    pub hostname: Option<String>,
    pub depends_on: Vec<Dependency>,
    /// `None` when the manifest has no `healthcheck` section.
    pub healthcheck: Option<Healthcheck>,
    /// Wait until the clock is set (NTP synced) before starting; default true.
    pub wait_for_clock: bool,
    /// The file this manifest was read from.
    pub source: PathBuf,
}

/// `user: uid[:gid]` or `name[:group]`; names are resolved in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSpec {
    pub user: IdOrName,
    pub group: Option<IdOrName>,
}

/// A numeric id or a name to look up in the image's /etc/passwd or /etc/group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IdOrName {
    Id(u32),
    Name(String),
}

/// A host directory bind-mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// Absolute host path (under the root prefix when paddockd runs with one).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub target: PathBuf,
    pub read_only: bool,
    /// Create `source` as a directory when it is missing (docker's short
    /// syntax always does; the long syntax's `bind.create_host_path`).
    pub create_host_path: bool,
}

/// A tmpfs mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tmpfs {
    /// Absolute path inside the container.
    pub target: PathBuf,
    /// Validated tmpfs mount options as given (`size=64m`, `mode=1777`,
    /// `noexec`, …), passed to the kernel.
    pub options: Vec<String>,
}

/// `network:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// Share the host's network namespace.
    Host,
    /// A network namespace with only loopback.
    None,
    /// paddock's bridge (the default, like docker's).
    Bridge,
    /// Join the network namespace of another container.
    Container(String),
}

/// `tcp` or `udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMapping {
    /// `None`: all addresses.
    pub host_ip: Option<IpAddr>,
    /// `None`: an ephemeral port chosen when the container starts.
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// `restart:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    No,
    Always,
    /// Restart after a non-zero exit, at most `max_retries` times if given.
    OnFailure {
        max_retries: Option<u32>,
    },
    /// Like `Always`, except after the container was stopped on purpose.
    UnlessStopped,
}

/// `pull:` / `pull_policy:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
}

/// An entry of `cap_add` / `cap_drop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapabilityName {
    All,
    Cap(Capability),
}

impl Serialize for CapabilityName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CapabilityName::All => s.serialize_str("ALL"),
            CapabilityName::Cap(c) => c.serialize(s),
        }
    }
}

/// `devices:` entry: a host device node made available in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceMapping {
    pub host_path: PathBuf,
    pub container_path: PathBuf,
    /// A non-empty subset of `rwm`, in that order.
    pub permissions: String,
}

/// `ulimits:` entry. `u64::MAX` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ulimit {
    /// Lower-case, as in compose: `nofile`, `nproc`, `core`, `memlock`, …
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// `depends_on:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub name: String,
    pub condition: DependencyCondition,
}

/// When a dependency counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyCondition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

/// `healthcheck:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Healthcheck {
    /// `None`: keep the image's test (only the timings are overridden).
    pub test: Option<HealthcheckTest>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
    /// paddock extension: restart the container when it becomes unhealthy
    /// (docker never does, moby#28400). Default true.
    pub restart_on_unhealthy: bool,
}

/// What a health check runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthcheckTest {
    /// `["CMD", "curl", "-f", "http://localhost"]`: exec directly.
    Cmd(Vec<String>),
    /// `["CMD-SHELL", "…"]` or a plain string: run with `/bin/sh -c`.
    CmdShell(String),
    /// `["NONE"]` or `disable: true`: no health check, not even the image's.
    Disabled,
}
