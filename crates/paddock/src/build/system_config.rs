//! `/etc/paddock/system.json`, written with paddock-init's own wire type
//! (`paddock_wire::system::SystemConfig`) so builder and init cannot drift:
//! the system services in init's order, then the user's programs, and the
//! bcrypt hash of the update password the device's web API checks.

use std::net::{IpAddr, Ipv4Addr};

use paddock_wire::system::{Network as InitNetwork, Ntp, Service, SystemConfig};

use super::error::{BuildError, Result};
use crate::instance::config::{InstanceConfig, Network};

pub fn build(c: &InstanceConfig, password_salt: [u8; 16]) -> Result<SystemConfig> {
    let invalid = |m: String| BuildError::Layout(format!("config.yaml: {m}"));
    let mut s = SystemConfig::new(c.hostname.clone());
    s.http_port = Some(c.http_port);
    s.https_port = Some(c.https_port);
    s.breakglass = c.breakglass;
    s.update_password_hash = Some(password_hash(&c.update_password, password_salt)?);
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

/// bcrypt of the update password with the instance's random salt
/// (`keys/password.salt`): the same instance builds the same image, and a
/// copy of an image only allows guesses at bcrypt's pace, never derived
/// from the password itself.
pub fn password_hash(password: &str, salt: [u8; 16]) -> Result<String> {
    let parts = bcrypt::hash_with_salt(password, BCRYPT_COST, salt)
        .map_err(|e| BuildError::Layout(format!("config.yaml: update_password: {e}")))?;
    Ok(parts.format_for_version(bcrypt::Version::TwoB))
}

#[cfg(test)]
mod tests {
    use super::password_hash;

    #[test]
    fn the_salt_is_the_instances_not_the_passwords() {
        let salt = [7u8; 16];
        let a = password_hash("hunter2hunter2", salt).unwrap();
        assert_eq!(a, password_hash("hunter2hunter2", salt).unwrap());
        assert!(a.starts_with("$2b$10$"), "{a}");
        assert!(bcrypt::verify("hunter2hunter2", &a).unwrap());
        assert!(!bcrypt::verify("hunter3hunter3", &a).unwrap());
        // Another instance (another random salt), same password: another hash.
        assert_ne!(a, password_hash("hunter2hunter2", [8u8; 16]).unwrap());
        // The salt bcrypt stored is the instance's, not one made from the
        // password (the old scheme: SHA-256 of hostname and password).
        let stored = a.parse::<bcrypt::HashParts>().unwrap().get_salt();
        let expected = bcrypt::hash_with_salt("x", 10, salt).unwrap().get_salt();
        assert_eq!(stored, expected);
    }
}
