//! `/etc/paddock/system.json`: paddock-init's configuration, in the shape
//! OS-CONTRACT.md gives (hostname, http_port, network, ntp servers,
//! services). TODO: use `paddock_init::config::SystemConfig` once os/init
//! exports it, so the two sides cannot drift.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::instance::config::{InstanceConfig, Network};

#[derive(Debug, Serialize)]
pub struct SystemConfig {
    pub hostname: String,
    pub http_port: u16,
    /// Not yet (#5): the update password's hash.
    pub update_password_hash: Option<String>,
    pub network: Network,
    pub ntp_servers: Vec<String>,
    pub services: Vec<Service>,
}

#[derive(Debug, Serialize)]
pub struct Service {
    pub name: String,
    pub path: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub wait_for_clock: bool,
    pub dont_start: bool,
}

fn system(name: &str, args: &[&str]) -> Service {
    Service {
        name: name.trim_start_matches("paddock-").to_string(),
        path: format!("/usr/bin/{name}"),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: BTreeMap::new(),
        wait_for_clock: false,
        dont_start: false,
    }
}

pub fn build(c: &InstanceConfig) -> SystemConfig {
    let mut services = vec![
        system("paddock-randomd", &[]),
        system("paddock-dhcp", &[]),
        system("paddock-ntp", &[]),
        // paddockd waits for the clock itself (per container).
        system("paddockd", &[]),
    ];
    if matches!(c.network, Network::Static(_)) {
        services.retain(|s| s.name != "dhcp");
    }
    for p in &c.programs {
        services.push(Service {
            name: p.name.clone(),
            path: format!("/user/{}", p.name),
            args: p.flags.clone(),
            env: p.env.clone(),
            wait_for_clock: p.wait_for_clock,
            dont_start: p.dont_start,
        });
    }
    SystemConfig {
        hostname: c.hostname.clone(),
        http_port: c.http_port,
        update_password_hash: None,
        network: c.network.clone(),
        ntp_servers: c.ntp_servers.clone(),
        services,
    }
}
