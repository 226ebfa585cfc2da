//! `/etc/paddock/system.json`, written with paddock-init's own wire type
//! (`paddock_init::config::SystemConfig`) so builder and init cannot drift:
//! the system services in init's order, then the user's programs.

use std::net::{IpAddr, Ipv4Addr};

use paddock_init::config::{Network as InitNetwork, Ntp, Service, SystemConfig};

use super::error::{BuildError, Result};
use crate::instance::config::{InstanceConfig, Network};

pub fn build(c: &InstanceConfig) -> Result<SystemConfig> {
    let invalid = |m: String| BuildError::Layout(format!("config.yaml: {m}"));
    let mut s = SystemConfig::new(c.hostname.clone());
    s.http_port = Some(c.http_port);
    s.breakglass = c.breakglass;
    s.network = match &c.network {
        Network::Dhcp => InitNetwork::default(),
        Network::Static(st) => InitNetwork::Static {
            interface: "eth0".into(),
            address: st.address.clone(),
            gateway: st
                .gateway
                .as_ref()
                .map(|g| g.parse::<Ipv4Addr>())
                .transpose()
                .map_err(|e| invalid(format!("network.static.gateway: {e}")))?,
            dns: st
                .dns
                .iter()
                .map(|d| d.parse::<IpAddr>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| invalid(format!("network.static.dns: {e}")))?,
        },
    };
    s.ntp = Ntp {
        servers: c.ntp_servers.clone(),
    };
    let mut services = s.system_services();
    for p in &c.programs {
        services.push(
            Service::new(p.name.clone(), format!("/user/{}", p.name))
                .with_args(p.flags.clone())
                .with_wait_for_clock(p.wait_for_clock)
                .with_dont_start(p.dont_start),
        );
        if let Some(last) = services.last_mut() {
            last.env = p.env.clone();
        }
    }
    s.services = services;
    s.validate().map_err(|e| invalid(e.to_string()))?;
    Ok(s)
}
