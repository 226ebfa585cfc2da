//! `/etc/paddock/system.json`: what init needs to know about the device,
//! written by `paddock build` (crates/paddock) with this very struct.
//!
//! Wire type: field names are the JSON schema documented in os/README.md;
//! unknown fields are rejected so a typo in a build does not go unnoticed.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the system binaries live on the device.
pub const BIN_DIR: &str = "/usr/bin";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_path_to_error::Error<serde_json::Error>,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The whole device configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {
    /// Set with sethostname(2) at boot and sent to the DHCP server.
    pub hostname: String,
    /// Port of the device's web/API interface (issue #5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// Port of the web/API interface over HTTPS, when the image has a
    /// certificate (`/etc/paddock/tls/`); `http_port` then only redirects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_port: Option<u16>,
    /// Hash of the update password (issue #5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_password_hash: Option<String>,
    /// Start the breakglass SSH server at boot (otherwise only on demand).
    #[serde(default, skip_serializing_if = "is_false")]
    pub breakglass: bool,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub ntp: Ntp,
    /// Over-the-air updates (issue #5): probation of a newly booted slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateSettings>,
    /// Everything init starts and supervises, system services and the
    /// user's programs alike, in start order.
    #[serde(default)]
    pub services: Vec<Service>,
}

/// How the network interface gets its address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum Network {
    Dhcp {
        #[serde(default = "default_interface")]
        interface: String,
    },
    Static {
        #[serde(default = "default_interface")]
        interface: String,
        /// Address with prefix length, e.g. `192.168.1.10/24`.
        address: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<Ipv4Addr>,
        #[serde(default)]
        dns: Vec<IpAddr>,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_interface() -> String {
    "eth0".to_string()
}

impl Default for Network {
    fn default() -> Self {
        Self::Dhcp {
            interface: default_interface(),
        }
    }
}

/// NTP servers (host names or addresses, optional `:port`). Empty: use the
/// ones the DHCP lease names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ntp {
    #[serde(default)]
    pub servers: Vec<String>,
}

/// `update`: how a newly installed slot is put on probation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    /// How long a new slot may take to become healthy before init reboots
    /// (back to the old slot once its tries are used up). Default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_timeout_secs: Option<u64>,
    /// How long everything must stay healthy, without a restart, before
    /// the slot is marked good. Default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_for_secs: Option<u64>,
    /// Boots a new slot gets before systemd-boot gives up on it. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries: Option<u32>,
}

/// One supervised program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Unique; used in logs and on the control socket.
    pub name: String,
    /// Absolute path of the executable.
    pub path: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Start only once `/run/paddock/clock-synced` exists.
    #[serde(default)]
    pub wait_for_clock: bool,
    /// Do not start at boot (start it over the control socket).
    #[serde(default)]
    pub dont_start: bool,
}

impl Service {
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            wait_for_clock: false,
            dont_start: false,
        }
    }

    pub fn with_args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn with_wait_for_clock(mut self, wait: bool) -> Self {
        self.wait_for_clock = wait;
        self
    }

    pub fn with_dont_start(mut self, dont_start: bool) -> Self {
        self.dont_start = dont_start;
        self
    }
}

impl SystemConfig {
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            http_port: None,
            https_port: None,
            update_password_hash: None,
            breakglass: false,
            network: Network::default(),
            ntp: Ntp::default(),
            update: None,
            services: Vec::new(),
        }
    }

    /// Reads and validates a system.json.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                source,
            },
            ConfigError::Invalid(m) => ConfigError::Invalid(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let config: Self =
            serde_path_to_error::deserialize(de).map_err(|source| ConfigError::Parse {
                path: PathBuf::from("system.json"),
                source,
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Pretty JSON with a trailing newline, as written into the image.
    pub fn to_json(&self) -> String {
        // A struct of strings, maps and numbers always serializes.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !valid_hostname(&self.hostname) {
            return invalid(format!(
                "hostname {:?}: expected 1-63 letters, digits or '-', not starting or ending with '-'",
                self.hostname
            ));
        }
        if let Network::Static { address, .. } = &self.network {
            if parse_cidr(address).is_none() {
                return invalid(format!("network.address {address:?}: expected an IPv4 address with prefix length, e.g. 192.168.1.10/24"));
            }
        }
        let mut names = HashSet::new();
        for s in &self.services {
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return invalid(format!(
                    "service {:?}: names are letters, digits, '-', '_' or '.'",
                    s.name
                ));
            }
            if !names.insert(s.name.as_str()) {
                return invalid(format!("service {:?} is listed twice", s.name));
            }
            if !s.path.is_absolute() {
                return invalid(format!(
                    "service {}: path {:?} must be absolute",
                    s.name, s.path
                ));
            }
        }
        Ok(())
    }

    /// The system services for this configuration, in start order: randomd,
    /// dhcp (or the static address), ntp, paddockd, breakglass (the SSH
    /// server; `dont_start` unless `breakglass` is set). `paddock build`
    /// puts these first in `services`, then the user's programs.
    pub fn system_services(&self) -> Vec<Service> {
        let bin = |name: &str| Path::new(BIN_DIR).join(name);
        let network = match &self.network {
            Network::Dhcp { interface } => {
                Service::new("dhcp", bin("paddock-dhcp")).with_args(["--interface", interface])
            }
            Network::Static {
                interface,
                address,
                gateway,
                dns,
            } => {
                let mut args = vec![
                    "--interface".to_string(),
                    interface.clone(),
                    "--static".into(),
                    address.clone(),
                ];
                if let Some(gw) = gateway {
                    args.extend(["--gateway".to_string(), gw.to_string()]);
                }
                for d in dns {
                    args.extend(["--dns".to_string(), d.to_string()]);
                }
                Service::new("network", bin("paddock-dhcp")).with_args(args)
            }
        };
        let mut ntp_args = Vec::new();
        for s in &self.ntp.servers {
            ntp_args.extend(["--server".to_string(), s.clone()]);
        }
        vec![
            Service::new("randomd", bin("paddock-randomd")),
            network,
            Service::new("ntp", bin("paddock-ntp")).with_args(ntp_args),
            // paddockd waits for the clock itself (clock.synced_marker).
            Service::new("paddockd", bin("paddockd")),
            // Keys and host key in /perm (its defaults); started on demand
            // (web UI, `paddock start breakglass`) unless configured.
            Service::new("breakglass", bin("paddock-breakglass")).with_dont_start(!self.breakglass),
        ]
    }
}

fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 63
        && !h.starts_with('-')
        && !h.ends_with('-')
        && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `192.168.1.10/24` → (address, prefix length).
pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some(())?;
    Some((addr.parse().ok()?, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_system_services() {
        let mut c = SystemConfig::new("paddock");
        c.ntp.servers = vec!["10.0.2.2".into()];
        c.services = c.system_services();
        c.services.push(
            Service::new("hello", "/user/hello")
                .with_args(["--port", "8080"])
                .with_env("RUST_LOG", "info")
                .with_wait_for_clock(true),
        );
        let json = c.to_json();
        assert_eq!(SystemConfig::from_json(&json).unwrap(), c);
        assert!(json.contains("\"mode\": \"dhcp\""), "{json}");
        let names: Vec<_> = c.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["randomd", "dhcp", "ntp", "paddockd", "breakglass", "hello"]
        );
        assert_eq!(c.services[2].args, ["--server", "10.0.2.2"]);
        assert!(c.services[4].dont_start);
        assert!(!json.contains("\"breakglass\": "), "{json}");
        c.breakglass = true;
        assert!(!c.system_services()[4].dont_start);
        let json = c.to_json();
        assert!(json.contains("\"breakglass\": true"), "{json}");
        assert_eq!(SystemConfig::from_json(&json).unwrap(), c);
    }

    #[test]
    fn minimal_and_static() {
        let c = SystemConfig::from_json(r#"{"hostname": "box"}"#).unwrap();
        assert_eq!(
            c.network,
            Network::Dhcp {
                interface: "eth0".into()
            }
        );
        let c = SystemConfig::from_json(
            r#"{"hostname": "box", "network": {"mode": "static", "address": "10.1.2.3/24", "gateway": "10.1.2.1", "dns": ["10.1.2.1"]}}"#,
        )
        .unwrap();
        let net = &c.system_services()[1];
        assert_eq!(
            net.args,
            [
                "--interface",
                "eth0",
                "--static",
                "10.1.2.3/24",
                "--gateway",
                "10.1.2.1",
                "--dns",
                "10.1.2.1"
            ]
        );
    }

    #[test]
    fn errors_say_where() {
        let e = SystemConfig::from_json(r#"{"hostname": "box", "servics": []}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `servics`"), "{e}");
        let e = SystemConfig::from_json(
            r#"{"hostname": "box", "services": [{"name": "a", "path": "/a", "args": "x"}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("services[0].args"), "{e}");
        let e = SystemConfig::from_json(r#"{"hostname": "-bad"}"#).unwrap_err();
        assert!(e.to_string().starts_with("hostname \"-bad\""), "{e}");
        let e = SystemConfig::from_json(
            r#"{"hostname": "a", "services": [{"name": "x", "path": "/x"}, {"name": "x", "path": "/y"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "service \"x\" is listed twice");
        let e = SystemConfig::from_json(
            r#"{"hostname": "a", "services": [{"name": "x", "path": "x"}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("must be absolute"), "{e}");
        let e = SystemConfig::from_json(
            r#"{"hostname": "a", "network": {"mode": "static", "address": "10.1.2.3"}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("prefix length"), "{e}");
    }
}
