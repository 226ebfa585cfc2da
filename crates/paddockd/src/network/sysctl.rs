//! The few kernel settings bridged networking needs, written only when they
//! differ: IPv4 forwarding, and `route_localnet` on the bridge (so that
//! traffic from the host's loopback can be redirected to a container, and a
//! container's DNS queries to a loopback resolver on the host).

use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("setting {key} = {value}: {source}")]
pub struct SysctlError {
    key: String,
    value: &'static str,
    source: std::io::Error,
}

/// Sets `/proc/sys/<key>` (key with `/`s) to `value` unless it already is.
pub fn ensure(key: &str, value: &'static str) -> Result<(), SysctlError> {
    let path = Path::new("/proc/sys").join(key);
    let err = |source| SysctlError {
        key: key.replace('/', "."),
        value,
        source,
    };
    let current = std::fs::read_to_string(&path).map_err(err)?;
    if current.trim() != value {
        std::fs::write(&path, value).map_err(err)?;
        tracing::info!(key = %key.replace('/', "."), value, "set sysctl");
    }
    Ok(())
}

/// Forwarding on, and `route_localnet` on the bridge.
pub fn for_bridge(bridge: &str) -> Result<(), SysctlError> {
    ensure("net/ipv4/ip_forward", "1")?;
    ensure(&format!("net/ipv4/conf/{bridge}/route_localnet"), "1")
}
