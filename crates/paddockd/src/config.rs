//! Daemon settings: `<root>/etc/paddock/paddockd.yaml`.
//!
//! Every key has a default, so a missing file is a valid configuration. Keys
//! are documented in the README ("paddockd.yaml"); unknown keys are errors, so
//! a typo never silently falls back to a default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use paddock_manifest::settings::{load_yaml, yaml_error, ConfigError, HumanDuration};

/// `paddockd.yaml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    pub clock: ClockConfig,
    pub logs: LogConfig,
    pub backoff: BackoffConfig,
    /// Bind-mount /perm/container-storage at /var when /var is not a mount.
    pub bind_var: bool,
    /// Platform to pull, as `os/arch[/variant]`; default: the host's.
    pub platform: Option<String>,
    /// Path of `paddock-runner`; default: next to `paddockd`, then $PATH.
    pub runner: Option<PathBuf>,
    /// Remove images and layers no manifest uses after manifests change.
    pub auto_prune: bool,
    /// The bridge that `network: bridge` containers join.
    pub network: NetworkConfig,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct InvalidConfig {
    path: PathBuf,
    message: String,
}

impl DaemonConfig {
    /// Values the types allow but paddock cannot use.
    pub fn validate(&self, path: &Path) -> Result<(), InvalidConfig> {
        let invalid = |message: String| {
            Err(InvalidConfig {
                path: path.to_path_buf(),
                message,
            })
        };
        if self.logs.max_file_bytes < MIN_LOG_FILE_BYTES {
            return invalid(format!(
                "logs.max_file_bytes must be at least {MIN_LOG_FILE_BYTES}"
            ));
        }
        if !(1..=1_000_000).contains(&self.logs.buffer_lines) {
            return invalid("logs.buffer_lines must be between 1 and 1000000".into());
        }
        if !(1..=1000).contains(&self.logs.max_files) {
            return invalid("logs.max_files must be between 1 and 1000".into());
        }
        if self.backoff.initial.0.is_zero() || self.backoff.max.0 < self.backoff.initial.0 {
            return invalid("backoff: need 0 < initial <= max".into());
        }
        if let Err(message) = self.network.validate() {
            return invalid(message);
        }
        Ok(())
    }
}

/// The smallest log file paddock-runner rotates at.
pub const MIN_LOG_FILE_BYTES: u64 = 32 * 1024;

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            clock: ClockConfig::default(),
            logs: LogConfig::default(),
            backoff: BackoffConfig::default(),
            bind_var: true,
            platform: None,
            runner: None,
            auto_prune: true,
            network: NetworkConfig::default(),
        }
    }
}

/// `network:` in paddockd.yaml: paddock's bridge.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Name of the bridge (at most 15 bytes, the kernel's limit).
    pub bridge: String,
    /// Container addresses come from here; the first address is the
    /// bridge's own and the containers' gateway.
    pub subnet: ipnet::Ipv4Net,
    /// MTU of the bridge and the containers' interfaces; default: the
    /// kernel's (1500).
    pub mtu: Option<u32>,
}

impl NetworkConfig {
    /// The bridge's address: the subnet's first host address.
    pub fn gateway(&self) -> std::net::Ipv4Addr {
        let base = u32::from(self.subnet.network());
        std::net::Ipv4Addr::from(base.saturating_add(1))
    }

    fn validate(&self) -> Result<(), String> {
        let name_ok = !self.bridge.is_empty()
            && self.bridge.len() <= 15
            && self
                .bridge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !name_ok {
            return Err(format!(
                "network.bridge {:?}: expected 1 to 15 letters, digits, '-', '_' or '.'",
                self.bridge
            ));
        }
        if self.subnet.prefix_len() > 29 {
            return Err(format!(
                "network.subnet {}: expected a prefix of /29 or shorter (room for the gateway and containers)",
                self.subnet
            ));
        }
        if self.subnet.network() != self.subnet.addr() {
            return Err(format!(
                "network.subnet {}: expected a network address, such as {}",
                self.subnet,
                self.subnet.trunc()
            ));
        }
        if let Some(mtu) = self.mtu {
            if !(576..=65535).contains(&mtu) {
                return Err(format!("network.mtu {mtu}: expected 576 to 65535"));
            }
        }
        Ok(())
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            bridge: "paddock0".to_string(),
            subnet: ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, 88, 0, 0), 16)
                .unwrap_or_default(),
            mtu: None,
        }
    }
}

/// When the clock counts as trustworthy (images are pulled over TLS, whose
/// certificates need a correct clock).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// Wait at all (containers can still opt out with `wait_for_clock: false`).
    pub wait: bool,
    /// The file an NTP client creates once synced; relative paths are under
    /// the root prefix. Default: `/run/paddock/clock-synced`.
    pub synced_marker: Option<PathBuf>,
    /// The clock is also trusted once wall time is past this instant
    /// (RFC 3339). Default: the time paddockd was built.
    pub not_before: Option<String>,
    /// How often to look again.
    pub poll_interval: HumanDuration,
}

impl Default for ClockConfig {
    fn default() -> Self {
        Self {
            wait: true,
            synced_marker: None,
            not_before: None,
            poll_interval: HumanDuration(Duration::from_millis(500)),
        }
    }
}

/// Container log retention.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Lines of each container's output kept in memory.
    pub buffer_lines: usize,
    /// Size at which `current.log` is rotated.
    pub max_file_bytes: u64,
    /// Log files kept per container, `current.log` included.
    pub max_files: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            buffer_lines: 1000,
            max_file_bytes: 1024 * 1024,
            max_files: 3,
        }
    }
}

/// Restart backoff, as docker's: start, double each time, cap; reset once a
/// container has run for `reset_after` (moby#41856 asks for these knobs).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BackoffConfig {
    pub initial: HumanDuration,
    pub max: HumanDuration,
    pub reset_after: HumanDuration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: HumanDuration(Duration::from_millis(100)),
            max: HumanDuration(Duration::from_secs(60)),
            reset_after: HumanDuration(Duration::from_secs(10)),
        }
    }
}

impl BackoffConfig {
    /// The delay before restart number `attempt` (0 = first restart).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.initial.0.saturating_mul(factor).min(self.max.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_durations_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paddockd.yaml");
        for bad in ["1e20s", "99999999999999999999h", "-1s", "10x"] {
            std::fs::write(&path, format!("backoff:\n  max: \"{bad}\"\n")).unwrap();
            assert!(load_yaml::<DaemonConfig>(&path).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_the_runner_refuses_are_caught_early() {
        let mut c = DaemonConfig::default();
        c.logs.max_files = 0;
        assert!(c.validate(Path::new("x")).is_err());
        c.logs.max_files = 3;
        c.logs.max_file_bytes = 100;
        assert!(c.validate(Path::new("x")).is_err());
        assert!(DaemonConfig::default().validate(Path::new("x")).is_ok());
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = BackoffConfig::default();
        assert_eq!(b.delay(0), Duration::from_millis(100));
        assert_eq!(b.delay(3), Duration::from_millis(800));
        assert_eq!(b.delay(20), Duration::from_secs(60));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn unknown_keys_are_errors_with_positions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paddockd.yaml");
        std::fs::write(&path, "logs:\n  buffer_lines: 10\n  max_filez: 3\n").unwrap();
        let err = load_yaml::<DaemonConfig>(&path).unwrap_err().to_string();
        assert!(err.contains("paddockd.yaml:3:3"), "{err}");
        assert!(err.contains("max_filez"), "{err}");
    }

    #[test]
    fn missing_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let c: DaemonConfig = load_yaml(&dir.path().join("nope.yaml")).unwrap();
        assert_eq!(c, DaemonConfig::default());
    }

    #[test]
    fn values_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paddockd.yaml");
        std::fs::write(
            &path,
            "backoff:\n  initial: 50ms\n  max: 5s\nbind_var: false\n",
        )
        .unwrap();
        let c: DaemonConfig = load_yaml(&path).unwrap();
        assert_eq!(c.backoff.initial.0, Duration::from_millis(50));
        assert_eq!(c.backoff.max.0, Duration::from_secs(5));
        assert!(!c.bind_var);
    }
}
