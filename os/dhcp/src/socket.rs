//! The client's UDP socket: port 68 on all addresses, bound to one
//! interface (SO_BINDTODEVICE) and allowed to broadcast. With the broadcast
//! flag set in our requests, servers answer by broadcast until we have an
//! address, so no raw socket is needed.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::time::Duration;

use dhcproto::v4::Message;
use dhcproto::{Decodable, Encodable};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};
use tokio::net::UdpSocket;

pub const CLIENT_PORT: u16 = 68;
pub const SERVER_PORT: u16 = 67;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("dhcp socket on {interface}: {source}")]
    Open {
        interface: String,
        source: nix::Error,
    },
    #[error("dhcp socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("encode dhcp message: {0}")]
    Encode(#[from] dhcproto::error::EncodeError),
}

pub struct DhcpSocket {
    socket: UdpSocket,
}

impl DhcpSocket {
    pub fn open(interface: &str) -> Result<Self, SocketError> {
        let open_err = |source| SocketError::Open {
            interface: interface.to_string(),
            source,
        };
        let fd: OwnedFd = socket::socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .map_err(open_err)?;
        socket::setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(open_err)?;
        socket::setsockopt(&fd, sockopt::Broadcast, &true).map_err(open_err)?;
        socket::setsockopt(
            &fd,
            sockopt::BindToDevice,
            &std::ffi::OsString::from(interface),
        )
        .map_err(open_err)?;
        socket::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT)),
        )
        .map_err(open_err)?;
        let socket = UdpSocket::from_std(std::net::UdpSocket::from(fd))?;
        Ok(Self { socket })
    }

    /// Sends to `to` port 67 (255.255.255.255 to broadcast).
    pub async fn send(&self, msg: &Message, to: Ipv4Addr) -> Result<(), SocketError> {
        let bytes = msg.to_vec()?;
        self.socket
            .send_to(&bytes, SocketAddrV4::new(to, SERVER_PORT))
            .await?;
        Ok(())
    }

    /// The next reply with transaction id `xid`, or `None` after `timeout`.
    /// Other traffic (other clients' replies, garbage) is skipped.
    pub async fn recv(
        &self,
        xid: u32,
        timeout: Duration,
    ) -> Result<Option<(Message, Ipv4Addr)>, SocketError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut buf = vec![0u8; 1500];
        loop {
            let received = tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf)).await;
            let (n, from) = match received {
                Err(_elapsed) => return Ok(None),
                Ok(r) => r?,
            };
            let Ok(msg) = Message::from_bytes(&buf[..n]) else {
                tracing::debug!(%from, "ignoring undecodable packet");
                continue;
            };
            if msg.xid() != xid || msg.opcode() != dhcproto::v4::Opcode::BootReply {
                continue;
            }
            let from = match from.ip() {
                std::net::IpAddr::V4(a) => a,
                std::net::IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            };
            return Ok(Some((msg, from)));
        }
    }
}
