//! The device's own API (served by init over HTTP, docs/device-api.md and
//! docs/device-api.yaml): the overview and a service's page as JSON. The
//! containers in them are paddockd's [`ContainerStatus`], passed through.

use serde::{Deserialize, Serialize};

use crate::api::status::ContainerStatus;
use crate::control::ServiceStatus;

/// One address the device's management servers listen on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub interface: String,
    pub address: String,
}

/// How full `/perm` is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermUsage {
    pub total_bytes: u64,
    pub used_bytes: u64,
}

/// Facts about the device: its image, kernel, slot, uptime, addresses and
/// persistent storage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    /// `build.json`'s version of the running root.
    pub version: Option<String>,
    pub build_time: Option<String>,
    /// The running kernel's release.
    pub kernel: Option<String>,
    /// `a` or `b`, from the kernel command line.
    pub slot: Option<String>,
    pub uptime_secs: Option<u64>,
    pub addresses: Vec<Address>,
    pub perm: Option<PermUsage>,
}

/// `GET /` with `Accept: application/json`: the device at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub hostname: String,
    #[serde(flatten)]
    pub system: System,
    pub services: Vec<ServiceStatus>,
    /// `None` when paddockd did not answer; then `containers_error` says why.
    pub containers: Option<Vec<ContainerStatus>>,
    pub containers_error: Option<String>,
}

/// `GET /services/NAME` as JSON: the service and its kept output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePage {
    pub service: ServiceStatus,
    pub logs: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ServiceState;

    #[test]
    fn round_trips() {
        let service = ServiceStatus {
            name: "paddockd".into(),
            state: ServiceState::Running,
            pid: Some(7),
            restarts: 0,
            last_exit: None,
            wait_for_clock: false,
            dont_start: false,
            memory_bytes: Some(1 << 20),
            started_at_unix: Some(1),
        };
        let o = Overview {
            hostname: "box".into(),
            system: System {
                version: Some("v".into()),
                build_time: None,
                kernel: None,
                slot: Some("a".into()),
                uptime_secs: Some(3),
                addresses: vec![Address {
                    interface: "eth0".into(),
                    address: "192.168.1.2".into(),
                }],
                perm: Some(PermUsage {
                    total_bytes: 10,
                    used_bytes: 1,
                }),
            },
            services: vec![service.clone()],
            containers: Some(vec![ContainerStatus::new("web", "busybox", "web.yaml")]),
            containers_error: None,
        };
        let text = crate::round_trip(&o);
        // The system facts sit at the top level, as the web UI always sent them.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["slot"], "a");
        assert_eq!(v["addresses"][0]["interface"], "eth0");
        let p = ServicePage {
            service,
            logs: vec!["hi".into()],
        };
        crate::round_trip(&p);
    }
}
