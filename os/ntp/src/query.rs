//! One SNTP exchange (RFC 4330) with one server, via the sntpc crate, which
//! checks the reply (origin timestamp, mode, version, stratum, leap
//! indicator, kiss-of-death) and computes offset and round trip.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use sntpc::{NtpContext, NtpUdpSocket, StdTimestampGen};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{server}: resolve: {source}")]
    Resolve {
        server: String,
        source: std::io::Error,
    },
    #[error("{server}: no address")]
    NoAddress { server: String },
    #[error("{server}: socket: {source}")]
    Socket {
        server: String,
        source: std::io::Error,
    },
    #[error("{server}: {reason:?}")]
    Sntp {
        server: String,
        reason: sntpc::Error,
    },
}

/// What one server said about our clock.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub server: SocketAddr,
    /// Server time minus our time.
    pub offset: Duration,
    /// Whether our clock is behind (the offset is to be added).
    pub behind: bool,
    pub round_trip: Duration,
    pub stratum: u8,
}

impl Sample {
    /// The offset in signed microseconds.
    pub fn offset_micros(&self) -> i128 {
        let us = self.offset.as_micros() as i128;
        if self.behind {
            us
        } else {
            -us
        }
    }
}

/// `host`, `host:port`, `1.2.3.4`, `[::1]:123`; port 123 by default.
pub fn resolve(server: &str) -> Result<SocketAddr, QueryError> {
    let with_port = if server.parse::<SocketAddr>().is_ok()
        || server
            .rsplit_once(':')
            .is_some_and(|(h, _)| !h.contains(':'))
    {
        server.to_string()
    } else if server.contains(':') {
        format!("[{server}]:123")
    } else {
        format!("{server}:123")
    };
    with_port
        .to_socket_addrs()
        .map_err(|source| QueryError::Resolve {
            server: server.into(),
            source,
        })?
        .next()
        .ok_or_else(|| QueryError::NoAddress {
            server: server.into(),
        })
}

/// sntpc's socket interface over a blocking std socket with a read timeout.
struct Socket(UdpSocket);

impl NtpUdpSocket for Socket {
    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> sntpc::Result<usize> {
        self.0.send_to(buf, addr).map_err(|_| sntpc::Error::Network)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> sntpc::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf).map_err(|_| sntpc::Error::Network)
    }
}

pub fn query(server: &str, timeout: Duration) -> Result<Sample, QueryError> {
    let addr = resolve(server)?;
    let sock_err = |source| QueryError::Socket {
        server: server.into(),
        source,
    };
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .map_err(|e| sock_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    let socket = UdpSocket::bind(bind).map_err(sock_err)?;
    socket.set_read_timeout(Some(timeout)).map_err(sock_err)?;
    let result = sntpc::sync::get_time(
        addr,
        &Socket(socket),
        NtpContext::new(StdTimestampGen::default()),
    )
    .map_err(|reason| QueryError::Sntp {
        server: server.into(),
        reason,
    })?;
    Ok(Sample {
        server: addr,
        offset: Duration::from_micros(result.offset().unsigned_abs()),
        behind: result.offset() >= 0,
        round_trip: Duration::from_micros(result.roundtrip()),
        stratum: result.stratum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_forms() {
        assert_eq!(
            resolve("127.0.0.1").unwrap(),
            "127.0.0.1:123".parse().unwrap()
        );
        assert_eq!(
            resolve("127.0.0.1:1123").unwrap(),
            "127.0.0.1:1123".parse().unwrap()
        );
        assert_eq!(resolve("::1").unwrap(), "[::1]:123".parse().unwrap());
        assert_eq!(resolve("[::1]:5").unwrap(), "[::1]:5".parse().unwrap());
        assert!(resolve("host:99999").is_err(), "port out of range");
    }
}
