//! The DHCPv4 client state machine (RFC 2131 4.4): INIT (DISCOVER, OFFER,
//! REQUEST, ACK), BOUND until T1, RENEWING (unicast to the server) until
//! T2, REBINDING (broadcast) until the lease expires. A NAK or an expired
//! lease drops the address and starts over.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use dhcproto::v4::MessageType;
use tokio::time::Instant;

use crate::files::{ntp_servers, resolv_conf, write_public, WriteError};
use crate::lease::Lease;
use crate::netconf::{Interface, NetError};
use crate::packet::{self, Identity};
use crate::socket::{DhcpSocket, SocketError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Where the client writes what it learned.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub resolv_conf: PathBuf,
    pub ntp_servers: PathBuf,
    pub lease_file: PathBuf,
}

pub struct Client {
    socket: DhcpSocket,
    iface: Interface,
    id: Identity,
    out: Outputs,
}

enum Extended {
    Acked(Lease, &'static str),
    Nak,
    Expired,
}

impl Client {
    pub fn new(
        socket: DhcpSocket,
        iface: Interface,
        hostname: Option<String>,
        out: Outputs,
    ) -> Self {
        let id = Identity {
            mac: iface.mac.clone(),
            hostname,
        };
        Self {
            socket,
            iface,
            id,
            out,
        }
    }

    pub async fn run(self) -> Result<std::convert::Infallible, ClientError> {
        loop {
            let mut lease = self.obtain().await?;
            self.apply(&lease, "discover").await?;
            loop {
                match self.extend(&lease).await? {
                    Extended::Acked(new, how) => {
                        self.apply(&new, how).await?;
                        lease = new;
                    }
                    Extended::Nak => {
                        tracing::warn!(address = %lease.address, "server refused to extend the lease (NAK); starting over");
                        break;
                    }
                    Extended::Expired => {
                        tracing::warn!(address = %lease.address, "lease expired without an answer; starting over");
                        break;
                    }
                }
            }
            self.iface.remove_addresses(None).await?;
        }
    }

    /// INIT → SELECTING → REQUESTING, until a server ACKs.
    async fn obtain(&self) -> Result<Lease, ClientError> {
        let mut wait = Duration::from_secs(2);
        loop {
            let xid = new_xid();
            self.socket
                .send(&packet::discover(&self.id, xid), Ipv4Addr::BROADCAST)
                .await?;
            tracing::debug!(xid, "DISCOVER");
            let Some((offer, from)) = self.expect(xid, wait, MessageType::Offer).await? else {
                wait = (wait * 2).min(Duration::from_secs(32));
                continue;
            };
            let server = match Lease::from_message(&offer, from, std::time::Instant::now()) {
                Ok(l) => l.server,
                Err(e) => {
                    tracing::warn!(%from, "ignoring offer: {e}");
                    continue;
                }
            };
            let offered = offer.yiaddr();
            tracing::info!(%offered, %server, "offer");
            for _ in 0..3 {
                let request = packet::request_offer(&self.id, xid, offered, server);
                self.socket.send(&request, Ipv4Addr::BROADCAST).await?;
                let Some((reply, from)) = self.socket.recv(xid, Duration::from_secs(3)).await?
                else {
                    continue;
                };
                match reply.opts().msg_type() {
                    Some(MessageType::Ack) => {
                        match Lease::from_message(&reply, from, std::time::Instant::now()) {
                            Ok(lease) => return Ok(lease),
                            Err(e) => tracing::warn!(%from, "ignoring ack: {e}"),
                        }
                    }
                    Some(MessageType::Nak) => {
                        tracing::warn!(%from, %offered, "request refused (NAK)");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    _ => continue,
                }
                break;
            }
        }
    }

    /// Waits for a reply of one kind.
    async fn expect(
        &self,
        xid: u32,
        timeout: Duration,
        kind: MessageType,
    ) -> Result<Option<(dhcproto::v4::Message, Ipv4Addr)>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.socket.recv(xid, left).await? {
                None => return Ok(None),
                Some((m, from)) if m.opts().msg_type() == Some(kind) => return Ok(Some((m, from))),
                Some(_) => {}
            }
        }
    }

    /// BOUND → RENEWING → REBINDING.
    async fn extend(&self, lease: &Lease) -> Result<Extended, ClientError> {
        tokio::time::sleep_until(Instant::from_std(lease.renew_at())).await;
        let phases = [
            ("renew", lease.rebind_at(), lease.server),
            ("rebind", lease.expires_at(), Ipv4Addr::BROADCAST),
        ];
        for (phase, until, to) in phases {
            let until = Instant::from_std(until);
            tracing::info!(address = %lease.address, server = %to, "{phase}ing");
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let xid = new_xid();
                let request = packet::request_extend(&self.id, xid, lease.address);
                if let Err(e) = self.socket.send(&request, to).await {
                    // Unreachable server (no route, ARP failure): wait and retry.
                    tracing::debug!("{phase}: {e}");
                }
                // RFC 2131 4.4.5: retransmit after half the remaining time.
                let wait = (left / 2).max(Duration::from_secs(1)).min(left);
                let Some((reply, from)) = self.socket.recv(xid, wait).await? else {
                    continue;
                };
                match reply.opts().msg_type() {
                    Some(MessageType::Ack) => {
                        match Lease::from_message(&reply, from, std::time::Instant::now()) {
                            Ok(new) => return Ok(Extended::Acked(new, phase)),
                            Err(e) => tracing::warn!(%from, "ignoring ack: {e}"),
                        }
                    }
                    Some(MessageType::Nak) => return Ok(Extended::Nak),
                    _ => {}
                }
            }
        }
        Ok(Extended::Expired)
    }

    async fn apply(&self, lease: &Lease, how: &'static str) -> Result<(), ClientError> {
        self.iface
            .set_address(lease.address, lease.prefix_len)
            .await?;
        if let Some(gw) = lease.router {
            self.iface.set_default_route(gw).await?;
        }
        let dns: Vec<IpAddr> = lease.dns.iter().copied().map(IpAddr::V4).collect();
        if !dns.is_empty() {
            write_public(
                &self.out.resolv_conf,
                resolv_conf(&dns, lease.domain.as_deref()).as_bytes(),
            )?;
        }
        let ntp: Vec<IpAddr> = lease.ntp.iter().copied().map(IpAddr::V4).collect();
        if !ntp.is_empty() {
            write_public(&self.out.ntp_servers, ntp_servers(&ntp).as_bytes())?;
        }
        let record = lease.record(&self.iface.name, how);
        let mut json = serde_json::to_string_pretty(&record).unwrap_or_default();
        json.push('\n');
        write_public(&self.out.lease_file, json.as_bytes())?;
        tracing::info!(
            address = %record.address,
            router = ?lease.router,
            server = %lease.server,
            lease_secs = record.lease_secs,
            renew_in_secs = record.t1_secs,
            "{how}: bound"
        );
        Ok(())
    }
}

/// A transaction id; uniqueness per client is all that matters.
fn new_xid() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}
