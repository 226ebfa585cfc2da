//! The address and host ports each container holds, persisted in
//! `/var/lib/paddock/network/allocations.json` so that neither a restarted
//! container nor a restarted paddockd ever hands out a duplicate; the kernel
//! state (veths, rules) is rebuilt from this record.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::manifest::Protocol;
use paddock_sys::fs::{write_atomic, PRIVATE};

/// One published port as it is in effect (ephemeral host ports resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// `None`: every address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl std::fmt::Display for PublishedPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ip = self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let proto = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        write!(
            f,
            "{ip}:{}->{}/{proto}",
            self.host_port, self.container_port
        )
    }
}

/// What one container holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// Its address on the bridge; `None` for `network: none`.
    pub address: Option<Ipv4Addr>,
    pub ports: Vec<PublishedPort>,
    /// Its namespace, veth and rules are in place (the container is meant
    /// to run). A stopped container keeps its address but not its rules.
    pub attached: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AllocationError {
    #[error("no free address left in {0}")]
    Exhausted(Ipv4Net),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Every container's allocation, and the file they live in.
#[derive(Debug)]
pub struct Allocations {
    path: PathBuf,
    pub containers: BTreeMap<String, Allocation>,
}

impl Allocations {
    /// Reads the record; a missing file is an empty record. An unreadable one
    /// is set aside (renamed `*.corrupt`) and started afresh, since every
    /// address in it can be handed out again once the containers restart.
    pub fn load(path: &Path) -> Self {
        let containers = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(c) => c,
                Err(error) => {
                    let aside = path.with_extension("json.corrupt");
                    tracing::error!(path = %path.display(), %error, aside = %aside.display(), "unreadable address record: starting afresh");
                    let _ = std::fs::rename(path, &aside);
                    BTreeMap::new()
                }
            },
            Err(_) => BTreeMap::new(),
        };
        Self {
            path: path.to_path_buf(),
            containers,
        }
    }

    pub fn save(&self) -> Result<(), AllocationError> {
        let json = serde_json::to_vec_pretty(&self.containers).unwrap_or_default();
        let err = |source| AllocationError::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        write_atomic(&self.path, &json, PRIVATE).map_err(err)
    }

    /// `name`'s address, allocating the lowest free one (after the gateway)
    /// if it has none.
    pub fn address_for(
        &mut self,
        name: &str,
        subnet: Ipv4Net,
        gateway: Ipv4Addr,
    ) -> Result<Ipv4Addr, AllocationError> {
        if let Some(address) = self.containers.get(name).and_then(|a| a.address) {
            if subnet.contains(&address) && address != gateway {
                return Ok(address);
            }
        }
        let taken: std::collections::BTreeSet<Ipv4Addr> = self
            .containers
            .iter()
            .filter(|(n, _)| n.as_str() != name)
            .filter_map(|(_, a)| a.address)
            .collect();
        let address = subnet
            .hosts()
            .find(|a| *a != gateway && !taken.contains(a))
            .ok_or(AllocationError::Exhausted(subnet))?;
        self.containers.entry(name.to_string()).or_default().address = Some(address);
        Ok(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet() -> Ipv4Net {
        "10.88.0.0/29".parse().unwrap()
    }

    #[test]
    fn addresses_are_unique_stable_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("allocations.json");
        let gw = Ipv4Addr::new(10, 88, 0, 1);
        let mut a = Allocations::load(&path);
        let web = a.address_for("web", subnet(), gw).unwrap();
        let db = a.address_for("db", subnet(), gw).unwrap();
        assert_eq!(web, Ipv4Addr::new(10, 88, 0, 2));
        assert_eq!(db, Ipv4Addr::new(10, 88, 0, 3));
        assert_eq!(a.address_for("web", subnet(), gw).unwrap(), web);
        a.save().unwrap();

        let mut b = Allocations::load(&path);
        assert_eq!(b.address_for("db", subnet(), gw).unwrap(), db);
        let next = b.address_for("cache", subnet(), gw).unwrap();
        assert_eq!(next, Ipv4Addr::new(10, 88, 0, 4));
        // Freed addresses are reused.
        b.containers.remove("web");
        assert_eq!(b.address_for("new", subnet(), gw).unwrap(), web);
    }

    #[test]
    fn a_full_subnet_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Allocations::load(&dir.path().join("a.json"));
        let gw = Ipv4Addr::new(10, 88, 0, 1);
        // /29: .1 is the gateway, .2-.6 for containers.
        for i in 0..5 {
            a.address_for(&format!("c{i}"), subnet(), gw).unwrap();
        }
        let err = a.address_for("one-too-many", subnet(), gw).unwrap_err();
        assert_eq!(err.to_string(), "no free address left in 10.88.0.0/29");
    }

    #[test]
    fn a_corrupt_record_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("allocations.json");
        std::fs::write(&path, b"{ not json").unwrap();
        let a = Allocations::load(&path);
        assert!(a.containers.is_empty());
        assert!(dir.path().join("allocations.json.corrupt").exists());
    }
}
