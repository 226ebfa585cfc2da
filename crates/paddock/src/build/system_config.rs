//! `/etc/paddock/system.json`, written with paddock-init's own wire type
//! (`paddock_wire::system::SystemConfig`) so builder and init cannot drift:
//! the system services in init's order, then the user's programs, and the
//! bcrypt hash of the update password the device's web API checks.

use std::net::{IpAddr, Ipv4Addr};

use sha2::{Digest, Sha256};

use paddock_wire::system::{Network as InitNetwork, Ntp, Service, SystemConfig};

use super::error::{BuildError, Result};
use crate::instance::config::{InstanceConfig, Network};

pub fn build(c: &InstanceConfig) -> Result<SystemConfig> {
    let invalid = |m: String| BuildError::Layout(format!("config.yaml: {m}"));
    let mut s = SystemConfig::new(c.hostname.clone());
    s.http_port = Some(c.http_port);
    s.breakglass = c.breakglass;
    s.update_password_hash = Some(password_hash(&c.hostname, &c.update_password)?);
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

/// bcrypt cost: ~50 ms per check on a small device; init caches a verified
/// password, so it is paid once per password, not per request.
const BCRYPT_COST: u32 = 10;

/// bcrypt of the update password with a salt derived from the instance
/// (hostname and password), so the same instance builds the same image.
/// The salt stays secret with the password: nothing about it is weaker than
/// a random salt for one device, and two instances never share one.
pub fn password_hash(hostname: &str, password: &str) -> Result<String> {
    let mut h = Sha256::new();
    h.update(b"paddock update password salt\0");
    h.update(hostname.as_bytes());
    h.update(b"\0");
    h.update(password.as_bytes());
    let digest = h.finalize();
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&digest[..16]);
    let parts = bcrypt::hash_with_salt(password, BCRYPT_COST, salt)
        .map_err(|e| BuildError::Layout(format!("config.yaml: update_password: {e}")))?;
    Ok(parts.format_for_version(bcrypt::Version::TwoB))
}

#[cfg(test)]
mod tests {
    use super::password_hash;

    #[test]
    fn password_hash_is_deterministic_and_verifies() {
        let a = password_hash("dev1", "hunter2hunter2").unwrap();
        assert_eq!(a, password_hash("dev1", "hunter2hunter2").unwrap());
        assert!(a.starts_with("$2b$10$"), "{a}");
        assert!(bcrypt::verify("hunter2hunter2", &a).unwrap());
        assert!(!bcrypt::verify("hunter3hunter3", &a).unwrap());
        assert_ne!(a, password_hash("dev2", "hunter2hunter2").unwrap());
    }
}
