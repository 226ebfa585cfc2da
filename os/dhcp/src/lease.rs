//! A DHCP lease as the client uses it, taken from an ACK: the address and
//! what goes with it, and when to renew (T1), rebind (T2) and give up.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use dhcproto::v4::{DhcpOption, Message, OptionCode};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub ntp: Vec<Ipv4Addr>,
    pub domain: Option<String>,
    /// The server that granted it (option 54); renewals go there.
    pub server: Ipv4Addr,
    pub lease_time: Duration,
    pub t1: Duration,
    pub t2: Duration,
    /// When the ACK arrived.
    pub acquired: Instant,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LeaseError {
    #[error("ack without {0}")]
    Missing(&'static str),
    #[error("ack offers unusable address {0}")]
    BadAddress(Ipv4Addr),
}

/// Lease time when the server names none (RFC 2131 leaves it open).
const DEFAULT_LEASE: Duration = Duration::from_secs(3600);

impl Lease {
    /// Reads a lease from an ACK (or an OFFER, to learn what is offered).
    /// `server` is the sender's address, used when option 54 is missing.
    pub fn from_message(
        msg: &Message,
        server: Ipv4Addr,
        acquired: Instant,
    ) -> Result<Self, LeaseError> {
        let address = msg.yiaddr();
        if address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
            return Err(LeaseError::BadAddress(address));
        }
        let opts = msg.opts();
        let prefix_len = match opts.get(OptionCode::SubnetMask) {
            Some(DhcpOption::SubnetMask(mask)) => u32::from(*mask).count_ones() as u8,
            _ => default_prefix(address),
        };
        let ips = |code| match opts.get(code) {
            Some(
                DhcpOption::Router(v) | DhcpOption::DomainNameServer(v) | DhcpOption::NtpServers(v),
            ) => v.clone(),
            _ => Vec::new(),
        };
        let secs = |code| match opts.get(code) {
            Some(
                DhcpOption::AddressLeaseTime(s) | DhcpOption::Renewal(s) | DhcpOption::Rebinding(s),
            ) => Some(Duration::from_secs(u64::from(*s))),
            _ => None,
        };
        let server = match opts.get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(s)) => *s,
            _ if !server.is_unspecified() => server,
            _ => return Err(LeaseError::Missing("server identifier")),
        };
        let lease_time = secs(OptionCode::AddressLeaseTime).unwrap_or(DEFAULT_LEASE);
        // RFC 2131 4.4.5: T1 = 0.5, T2 = 0.875 of the lease unless the server says.
        let t1 = secs(OptionCode::Renewal)
            .unwrap_or(lease_time / 2)
            .min(lease_time);
        let t2 = secs(OptionCode::Rebinding)
            .unwrap_or(lease_time * 7 / 8)
            .clamp(t1, lease_time);
        let domain = match opts.get(OptionCode::DomainName) {
            Some(DhcpOption::DomainName(d)) => Some(d.clone()),
            _ => None,
        };
        Ok(Self {
            address,
            prefix_len,
            router: ips(OptionCode::Router).first().copied(),
            dns: ips(OptionCode::DomainNameServer),
            ntp: ips(OptionCode::NtpServers),
            domain,
            server,
            lease_time,
            t1,
            t2,
            acquired,
        })
    }

    pub fn renew_at(&self) -> Instant {
        self.acquired + self.t1
    }

    pub fn rebind_at(&self) -> Instant {
        self.acquired + self.t2
    }

    pub fn expires_at(&self) -> Instant {
        self.acquired + self.lease_time
    }

    /// The on-disk summary (`/run/paddock/dhcp-lease.json`).
    pub fn record(&self, interface: &str, how: &'static str) -> LeaseRecord {
        LeaseRecord {
            interface: interface.to_string(),
            address: format!("{}/{}", self.address, self.prefix_len),
            router: self.router,
            dns: self.dns.clone(),
            ntp: self.ntp.clone(),
            server: self.server,
            lease_secs: self.lease_time.as_secs(),
            t1_secs: self.t1.as_secs(),
            t2_secs: self.t2.as_secs(),
            how,
            acquired_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}

/// What the client last did, for people and tests to read.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseRecord {
    pub interface: String,
    pub address: String,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub ntp: Vec<Ipv4Addr>,
    pub server: Ipv4Addr,
    pub lease_secs: u64,
    pub t1_secs: u64,
    pub t2_secs: u64,
    /// `discover`, `renew`, `rebind` or `static`.
    pub how: &'static str,
    pub acquired_unix: u64,
}

/// Classful default when the server sends no subnet mask.
fn default_prefix(a: Ipv4Addr) -> u8 {
    match a.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v4::{MessageType, Opcode};

    fn ack() -> Message {
        let mut m = Message::new(
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(10, 0, 0, 5),
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &[1, 2, 3, 4, 5, 6],
        );
        m.set_opcode(Opcode::BootReply);
        let o = m.opts_mut();
        o.insert(DhcpOption::MessageType(MessageType::Ack));
        o.insert(DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)));
        o.insert(DhcpOption::Router(vec![Ipv4Addr::new(10, 0, 0, 1)]));
        o.insert(DhcpOption::DomainNameServer(vec![
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(10, 0, 0, 3),
        ]));
        o.insert(DhcpOption::NtpServers(vec![Ipv4Addr::new(10, 0, 0, 4)]));
        o.insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 1)));
        o.insert(DhcpOption::AddressLeaseTime(600));
        m
    }

    #[test]
    fn reads_an_ack() {
        let now = Instant::now();
        let l = Lease::from_message(&ack(), Ipv4Addr::UNSPECIFIED, now).unwrap();
        assert_eq!(l.address, Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(l.prefix_len, 24);
        assert_eq!(l.router, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(l.dns.len(), 2);
        assert_eq!(l.ntp, vec![Ipv4Addr::new(10, 0, 0, 4)]);
        assert_eq!(
            (l.t1.as_secs(), l.t2.as_secs(), l.lease_time.as_secs()),
            (300, 525, 600)
        );
        assert_eq!(l.renew_at(), now + Duration::from_secs(300));
    }

    #[test]
    fn server_timers_are_kept_in_order() {
        let mut m = ack();
        m.opts_mut().insert(DhcpOption::Renewal(10));
        m.opts_mut().insert(DhcpOption::Rebinding(5));
        let l = Lease::from_message(&m, Ipv4Addr::UNSPECIFIED, Instant::now()).unwrap();
        assert_eq!(
            (l.t1.as_secs(), l.t2.as_secs()),
            (10, 10),
            "T2 is never before T1"
        );
    }

    #[test]
    fn rejects_nonsense() {
        let mut m = ack();
        m.set_yiaddr(Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            Lease::from_message(&m, Ipv4Addr::UNSPECIFIED, Instant::now()),
            Err(LeaseError::BadAddress(Ipv4Addr::UNSPECIFIED))
        );
        let mut m = ack();
        m.opts_mut().remove(OptionCode::ServerIdentifier);
        assert_eq!(
            Lease::from_message(&m, Ipv4Addr::UNSPECIFIED, Instant::now()),
            Err(LeaseError::Missing("server identifier"))
        );
    }
}
