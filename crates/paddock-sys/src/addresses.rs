//! Which local addresses the device's management servers (the web UI and
//! API, breakglass) may listen on: loopback, private and link-local ones
//! only, never a public address, and never the container bridge (containers
//! must not reach the management plane). [`follow`] keeps a server's
//! listeners in step with the addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Interfaces whose addresses are never listened on: paddockd's container
/// bridge and the host ends of its veths.
const EXCLUDED_PREFIXES: [&str; 2] = ["paddock", "pd-"];

/// One address a server may bind, with the interface it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListenAddress {
    pub interface: String,
    pub addr: SocketAddr,
}

/// Every loopback, private or link-local address the host has right now,
/// with `port`. Link-local IPv6 addresses carry their interface's scope id
/// so they can be bound.
pub fn private(port: u16) -> std::io::Result<Vec<ListenAddress>> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)? {
        if EXCLUDED_PREFIXES
            .iter()
            .any(|p| ifa.interface_name.starts_with(p))
        {
            continue;
        }
        let Some(storage) = ifa.address else { continue };
        let addr = if let Some(v4) = storage.as_sockaddr_in() {
            let ip = v4.ip();
            if !is_private_v4(ip) {
                continue;
            }
            SocketAddr::new(IpAddr::V4(ip), port)
        } else if let Some(v6) = storage.as_sockaddr_in6() {
            let ip = v6.ip();
            if !is_private_v6(ip) {
                continue;
            }
            let scope = if is_link_local_v6(ip) {
                v6.scope_id()
            } else {
                0
            };
            SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope))
        } else {
            continue;
        };
        let entry = ListenAddress {
            interface: ifa.interface_name.clone(),
            addr,
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Keeps a listener on every [`private`] address with `port`, checked every
/// `interval` (DHCP hands out addresses late; a fresh IPv6 address is
/// tentative for a moment, so a failed bind is retried next round). `serve`
/// gets each new listener and returns the task accepting on it; the task is
/// aborted when its address goes away. `server` names the server in logs.
/// Never returns.
pub async fn follow(
    port: u16,
    interval: Duration,
    server: &str,
    mut serve: impl FnMut(TcpListener) -> JoinHandle<()>,
) {
    let mut bound: HashMap<SocketAddr, JoinHandle<()>> = HashMap::new();
    // The last bind error per address, so each failure is logged once.
    let mut failed: HashMap<SocketAddr, String> = HashMap::new();
    loop {
        match private(port) {
            Ok(now) => {
                bound.retain(|addr, task| {
                    let keep = now.iter().any(|a| a.addr == *addr) && !task.is_finished();
                    if !keep {
                        tracing::info!(server, %addr, "address gone; not listening there any more");
                        task.abort();
                    }
                    keep
                });
                failed.retain(|addr, _| now.iter().any(|a| a.addr == *addr));
                for a in now {
                    if bound.contains_key(&a.addr) {
                        continue;
                    }
                    match TcpListener::bind(a.addr).await {
                        Ok(l) => {
                            tracing::info!(server, addr = %a.addr, interface = %a.interface, "listening");
                            failed.remove(&a.addr);
                            bound.insert(a.addr, serve(l));
                        }
                        Err(e) => {
                            let msg = e.to_string();
                            if failed.get(&a.addr) != Some(&msg) {
                                tracing::warn!(server, addr = %a.addr, interface = %a.interface, "cannot listen (retrying): {msg}");
                                failed.insert(a.addr, msg);
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(server, "listing addresses: {e}"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// RFC 1918, loopback, link-local (169.254/16) and shared address space
/// (100.64/10, used by carrier NAT and Tailscale).
pub fn is_private_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
}

/// Loopback, unique local (fc00::/7) and link-local (fe80::/10).
pub fn is_private_v6(ip: Ipv6Addr) -> bool {
    ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00 || is_link_local_v6(ip)
}

fn is_link_local_v6(ip: Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

/// Whether a peer address counts as local network (private, loopback or
/// link-local, including IPv4-mapped IPv6).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for p in [
            "10.0.2.15",
            "192.168.1.2",
            "172.16.0.1",
            "127.0.0.1",
            "169.254.3.4",
            "100.100.1.1",
            "::1",
            "fe80::1",
            "fd00::5",
            "::ffff:192.168.0.1",
        ] {
            assert!(is_private(p.parse().unwrap()), "{p} is private");
        }
        for p in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_private(p.parse().unwrap()), "{p} is public");
        }
    }

    #[test]
    fn lists_loopback_and_nothing_public() {
        let all = private(8080).unwrap();
        assert!(all.iter().any(|a| a.addr.ip().is_loopback()), "{all:?}");
        assert!(all
            .iter()
            .all(|a| is_private(a.addr.ip()) && a.addr.port() == 8080));
    }
}
