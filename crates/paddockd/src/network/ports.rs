//! Host ports held for published container ports.
//!
//! Traffic to a published port is redirected by nftables before any socket
//! sees it, so without a reservation a host service could bind the same port
//! and silently lose its traffic (or a container could take a port a host
//! service already serves). paddockd therefore binds — without listening —
//! every published host port while the container is up: a conflict with a
//! host service or another container is a clear error on whichever comes
//! second, and ephemeral ports (`"80"` without a host port) come from the
//! kernel.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;

use nix::sys::socket::{bind, getsockname, socket, AddressFamily, SockFlag, SockType, SockaddrIn};

use super::allocations::PublishedPort;
use crate::manifest::{PortMapping, Protocol};

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("port {port}/{protocol} is already published by container {other}")]
    TakenByContainer {
        port: u16,
        protocol: &'static str,
        other: String,
    },
    #[error("host port {port}/{protocol} is in use by another program on the host")]
    TakenByHost { port: u16, protocol: &'static str },
    #[error("{address} is not an address of this host (port {port}/{protocol})")]
    NotLocal {
        address: Ipv4Addr,
        port: u16,
        protocol: &'static str,
    },
    #[error("publishing on {0}: only IPv4 host addresses are supported")]
    Ipv6(std::net::IpAddr),
    #[error("reserving port {port}/{protocol}: {source}")]
    Other {
        port: u16,
        protocol: &'static str,
        source: nix::Error,
    },
}

pub fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// The sockets held per container.
#[derive(Debug, Default)]
pub struct Reservations {
    held: BTreeMap<String, Vec<(PublishedPort, OwnedFd)>>,
}

fn overlaps(a: Option<Ipv4Addr>, b: Option<Ipv4Addr>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

impl Reservations {
    /// Reserves `wanted` for `name` (releasing what it held before). An
    /// ephemeral port keeps the host port it had in `previous`, if free.
    pub fn reserve(
        &mut self,
        name: &str,
        wanted: &[PortMapping],
        previous: &[PublishedPort],
    ) -> Result<Vec<PublishedPort>, PortError> {
        self.release(name);
        let mut held: Vec<(PublishedPort, OwnedFd)> = Vec::new();
        for m in wanted {
            let protocol = protocol_name(m.protocol);
            let host_ip = match m.host_ip {
                None => None,
                Some(std::net::IpAddr::V4(ip)) if ip.is_unspecified() => None,
                Some(std::net::IpAddr::V4(ip)) => Some(ip),
                Some(other) => return Err(PortError::Ipv6(other)),
            };
            let port = match m.host_port {
                Some(p) => p,
                None => previous
                    .iter()
                    .find(|p| {
                        p.container_port == m.container_port
                            && p.protocol == m.protocol
                            && p.host_ip == host_ip
                    })
                    .map(|p| p.host_port)
                    .unwrap_or(0),
            };
            if port != 0 {
                let clash = self.held.iter().find_map(|(other, ports)| {
                    ports
                        .iter()
                        .any(|(p, _)| {
                            p.host_port == port
                                && p.protocol == m.protocol
                                && overlaps(p.host_ip, host_ip)
                        })
                        .then(|| other.clone())
                });
                if let Some(other) = clash {
                    return Err(PortError::TakenByContainer {
                        port,
                        protocol,
                        other,
                    });
                }
            }
            let (fd, bound) = match bind_port(host_ip, port, m.protocol) {
                Ok(ok) => ok,
                // The old ephemeral port was taken meanwhile: take a new one.
                Err(PortError::TakenByHost { .. }) if m.host_port.is_none() && port != 0 => {
                    bind_port(host_ip, 0, m.protocol)?
                }
                Err(e) => return Err(e),
            };
            held.push((
                PublishedPort {
                    host_ip,
                    host_port: bound,
                    container_port: m.container_port,
                    protocol: m.protocol,
                },
                fd,
            ));
        }
        let ports = held.iter().map(|(p, _)| *p).collect();
        self.held.insert(name.to_string(), held);
        Ok(ports)
    }

    /// Closes `name`'s sockets.
    pub fn release(&mut self, name: &str) {
        self.held.remove(name);
    }
}

/// Binds (without listening) `ip:port`; returns the socket and the port the
/// kernel gave.
fn bind_port(
    ip: Option<Ipv4Addr>,
    port: u16,
    protocol: Protocol,
) -> Result<(OwnedFd, u16), PortError> {
    let name = protocol_name(protocol);
    let kind = match protocol {
        Protocol::Tcp => SockType::Stream,
        Protocol::Udp => SockType::Datagram,
    };
    let other = |source| PortError::Other {
        port,
        protocol: name,
        source,
    };
    let fd = socket(AddressFamily::Inet, kind, SockFlag::SOCK_CLOEXEC, None).map_err(other)?;
    let address = SockaddrIn::from(SocketAddrV4::new(ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port));
    match bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &address) {
        Ok(()) => {}
        Err(nix::Error::EADDRINUSE) => {
            return Err(PortError::TakenByHost {
                port,
                protocol: name,
            })
        }
        Err(nix::Error::EADDRNOTAVAIL) => {
            return Err(PortError::NotLocal {
                address: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                port,
                protocol: name,
            })
        }
        Err(e) => return Err(other(e)),
    }
    let bound: SockaddrIn = getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd)).map_err(other)?;
    Ok((fd, bound.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(host_port: Option<u16>, container_port: u16, protocol: Protocol) -> PortMapping {
        PortMapping {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_port,
            container_port,
            protocol,
        }
    }

    #[test]
    fn conflicts_are_named_and_releasing_frees_the_port() {
        let mut r = Reservations::default();
        let web = r
            .reserve("web", &[mapping(None, 80, Protocol::Tcp)], &[])
            .unwrap();
        let port = web[0].host_port;
        assert_ne!(port, 0, "an ephemeral port was chosen");
        let err = r
            .reserve("other", &[mapping(Some(port), 80, Protocol::Tcp)], &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("port {port}/tcp is already published by container web")
        );
        // A host program cannot take it either.
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
        // UDP on the same number is a different port.
        r.reserve("dns", &[mapping(Some(port), 53, Protocol::Udp)], &[])
            .unwrap();
        r.release("web");
        r.reserve("other", &[mapping(Some(port), 80, Protocol::Tcp)], &[])
            .unwrap();
    }

    #[test]
    fn a_host_service_wins_with_a_clear_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut r = Reservations::default();
        let err = r
            .reserve("web", &[mapping(Some(port), 80, Protocol::Tcp)], &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("host port {port}/tcp is in use by another program on the host")
        );
    }

    #[test]
    fn an_ephemeral_port_is_kept_across_reservations() {
        let mut r = Reservations::default();
        let first = r
            .reserve("web", &[mapping(None, 80, Protocol::Udp)], &[])
            .unwrap();
        r.release("web");
        let again = r
            .reserve("web", &[mapping(None, 80, Protocol::Udp)], &first)
            .unwrap();
        assert_eq!(first, again);
    }
}
