//! The client's messages (RFC 2131), built with dhcproto.

use std::net::Ipv4Addr;

use dhcproto::v4::{DhcpOption, Flags, HType, Message, MessageType, Opcode, OptionCode};

/// Who we are to the server.
#[derive(Debug, Clone)]
pub struct Identity {
    pub mac: Vec<u8>,
    /// Sent as option 12 so the server (and often its DNS) knows our name.
    pub hostname: Option<String>,
}

const PARAMETERS: [OptionCode; 8] = [
    OptionCode::SubnetMask,
    OptionCode::Router,
    OptionCode::DomainNameServer,
    OptionCode::DomainName,
    OptionCode::NtpServers,
    OptionCode::AddressLeaseTime,
    OptionCode::Renewal,
    OptionCode::Rebinding,
];

fn base(id: &Identity, xid: u32, kind: MessageType, ciaddr: Ipv4Addr) -> Message {
    let mut m = Message::new_with_id(
        xid,
        ciaddr,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &id.mac[..id.mac.len().min(16)],
    );
    m.set_opcode(Opcode::BootRequest).set_htype(HType::Eth);
    if ciaddr.is_unspecified() {
        // No address yet: ask for replies by broadcast (a UDP socket cannot
        // receive unicast to an address the interface does not have).
        m.set_flags(Flags::default().set_broadcast());
    }
    let opts = m.opts_mut();
    opts.insert(DhcpOption::MessageType(kind));
    let mut client_id = vec![1u8]; // hardware type Ethernet
    client_id.extend_from_slice(&id.mac);
    opts.insert(DhcpOption::ClientIdentifier(client_id));
    opts.insert(DhcpOption::ParameterRequestList(PARAMETERS.to_vec()));
    opts.insert(DhcpOption::MaxMessageSize(1500));
    if let Some(h) = &id.hostname {
        opts.insert(DhcpOption::Hostname(h.clone()));
    }
    m
}

pub fn discover(id: &Identity, xid: u32) -> Message {
    base(id, xid, MessageType::Discover, Ipv4Addr::UNSPECIFIED)
}

/// SELECTING: accept `offered` from `server`.
pub fn request_offer(id: &Identity, xid: u32, offered: Ipv4Addr, server: Ipv4Addr) -> Message {
    let mut m = base(id, xid, MessageType::Request, Ipv4Addr::UNSPECIFIED);
    m.opts_mut().insert(DhcpOption::RequestedIpAddress(offered));
    m.opts_mut().insert(DhcpOption::ServerIdentifier(server));
    m
}

/// RENEWING (unicast to the server) and REBINDING (broadcast): extend the
/// lease on `address`, which goes in ciaddr.
pub fn request_extend(id: &Identity, xid: u32, address: Ipv4Addr) -> Message {
    base(id, xid, MessageType::Request, address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::{Decodable, Encodable};

    #[test]
    fn messages_carry_what_the_server_needs() {
        let id = Identity {
            mac: vec![2, 0, 0, 0, 0, 1],
            hostname: Some("box".into()),
        };
        let bytes = request_offer(
            &id,
            7,
            Ipv4Addr::new(10, 0, 0, 5),
            Ipv4Addr::new(10, 0, 0, 1),
        )
        .to_vec()
        .unwrap();
        let m = Message::from_bytes(&bytes).unwrap();
        assert_eq!(m.xid(), 7);
        assert_eq!(m.chaddr(), &[2, 0, 0, 0, 0, 1]);
        assert!(m.flags().broadcast());
        assert_eq!(m.opts().msg_type(), Some(MessageType::Request));
        assert_eq!(
            m.opts().get(OptionCode::Hostname),
            Some(&DhcpOption::Hostname("box".into()))
        );
        assert_eq!(
            m.opts().get(OptionCode::RequestedIpAddress),
            Some(&DhcpOption::RequestedIpAddress(Ipv4Addr::new(10, 0, 0, 5)))
        );

        let m = request_extend(&id, 8, Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(m.ciaddr(), Ipv4Addr::new(10, 0, 0, 5));
        assert!(!m.flags().broadcast());
        assert!(
            m.opts().get(OptionCode::ServerIdentifier).is_none(),
            "RFC 2131: not in RENEWING"
        );
    }
}
