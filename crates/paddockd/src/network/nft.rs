//! paddock's nftables table, `inet paddock`, built from the published ports
//! and replaced as a whole in one atomic batch (add, delete, add again): a
//! reconcile can never leave duplicate or half-applied rules, and no other
//! table on the host is touched.
//!
//! ```text
//! table inet paddock {
//!   chain prerouting  { type nat hook prerouting priority dstnat
//!     iifname BRIDGE ip daddr GATEWAY udp/tcp dport 53 dnat ip to RESOLVER:53   # loopback resolver
//!     fib daddr type local jump published }
//!   chain output      { type nat hook output priority dstnat
//!     fib daddr type local jump published }                 # the host itself, localhost included
//!   chain published   { [ip daddr HOST_IP] tcp dport P dnat ip to ADDR:PORT … }
//!   chain postrouting { type nat hook postrouting priority srcnat
//!     ip saddr SUBNET oifname != BRIDGE masquerade          # containers going out
//!     oifname BRIDGE ct status dnat ip saddr SUBNET masquerade   # hairpin
//!     oifname BRIDGE ct status dnat ip saddr 127.0.0.0/8 masquerade }  # from localhost
//!   chain forward     { type filter hook forward priority filter
//!     iifname BRIDGE accept
//!     oifname BRIDGE ct state established,related accept
//!     oifname BRIDGE ct status dnat accept
//!     oifname BRIDGE drop }                                 # nothing else into the bridge
//! }
//! ```

use std::ffi::{CStr, CString};
use std::net::Ipv4Addr;
use std::ptr::NonNull;

use ipnet::Ipv4Net;
use nftnl::expr::{
    Bitwise, Cmp, CmpOp, Conntrack, ConntrackStatus, Expression, Immediate, InterfaceName,
    Ipv4HeaderField, Masquerade, Meta, Nat, NatType, NetworkHeaderField, Payload, Register, States,
    TcpHeaderField, TransportHeaderField, UdpHeaderField, Verdict,
};
use nftnl::nftnl_sys::{self as sys, libc};
use nftnl::{Batch, Chain, ChainType, Hook, MsgType, Policy, ProtoFamily, Rule, Table};

use crate::manifest::Protocol;

pub const TABLE: &CStr = c"paddock";
const PUBLISHED: &CStr = c"published";

/// One published port: traffic for `host_ip:host_port` goes to
/// `address:port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dnat {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub protocol: Protocol,
    pub address: Ipv4Addr,
    pub port: u16,
}

/// Everything the table is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// The host's resolver when it is a loopback address: containers ask the
    /// gateway, and this forwards their queries there.
    pub dns_upstream: Option<Ipv4Addr>,
    pub published: Vec<Dnat>,
    /// Any container is on the bridge; if not, the table is left empty.
    pub in_use: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("{0}: {1}")]
    Build(&'static str, String),
    #[error(
        "applying the nftables table inet paddock: {0} (does the kernel have nf_tables, \
         nft_chain_nat, nft_nat, nft_masq, nft_ct and nft_fib_inet?)"
    )]
    Apply(std::io::Error),
}

/// Replaces the table with what `ruleset` describes, atomically.
pub fn apply(ruleset: &Ruleset) -> Result<(), NftError> {
    let mut batch = Batch::new();
    let table = Table::new(TABLE, ProtoFamily::Inet);
    batch.add(&table, MsgType::Add);
    batch.add(&table, MsgType::Del);
    batch.add(&table, MsgType::Add);
    if ruleset.in_use {
        add_chains(&mut batch, &table, ruleset)?;
    }
    send(&batch.finalize()).map_err(NftError::Apply)
}

/// Deletes the table (tests and a full cleanup).
pub fn delete() -> Result<(), NftError> {
    let mut batch = Batch::new();
    let table = Table::new(TABLE, ProtoFamily::Inet);
    batch.add(&table, MsgType::Add);
    batch.add(&table, MsgType::Del);
    send(&batch.finalize()).map_err(NftError::Apply)
}

fn base_chain<'a>(
    table: &'a Table,
    name: &CStr,
    hook: Hook,
    priority: i32,
    kind: ChainType,
) -> Chain<'a> {
    let mut chain = Chain::new(name, table);
    chain.set_hook(hook, priority);
    chain.set_type(kind);
    chain.set_policy(Policy::Accept);
    chain
}

fn add_chains(batch: &mut Batch, table: &Table, r: &Ruleset) -> Result<(), NftError> {
    let bridge = CString::new(r.bridge.as_str())
        .map_err(|e| NftError::Build("bridge name", e.to_string()))?;
    let bridge = InterfaceName::Exact(bridge);

    let prerouting = base_chain(table, c"prerouting", Hook::PreRouting, -100, ChainType::Nat);
    let output = base_chain(table, c"output", Hook::Out, -100, ChainType::Nat);
    let postrouting = base_chain(
        table,
        c"postrouting",
        Hook::PostRouting,
        100,
        ChainType::Nat,
    );
    let forward = base_chain(table, c"forward", Hook::Forward, 0, ChainType::Filter);
    let published = Chain::new(PUBLISHED, table);
    for chain in [&prerouting, &output, &postrouting, &forward, &published] {
        batch.add(chain, MsgType::Add);
    }

    // prerouting: the DNS forward, then published ports.
    if let Some(upstream) = r.dns_upstream {
        for protocol in [Protocol::Udp, Protocol::Tcp] {
            let mut rule = Rule::new(&prerouting);
            ipv4(&mut rule);
            rule.add_expr(&Meta::IifName);
            rule.add_expr(&Cmp::new(CmpOp::Eq, &bridge));
            rule.add_expr(&Payload::Network(NetworkHeaderField::Ipv4(
                Ipv4HeaderField::Daddr,
            )));
            rule.add_expr(&Cmp::new(CmpOp::Eq, r.gateway));
            dport(&mut rule, protocol, 53);
            dnat_to(&mut rule, upstream, 53);
            batch.add(&rule, MsgType::Add);
        }
    }
    for chain in [&prerouting, &output] {
        let mut rule = Rule::new(chain);
        rule.add_expr(&FibDaddrType);
        rule.add_expr(&Cmp::new(CmpOp::Eq, RTN_LOCAL));
        rule.add_expr(&Verdict::Jump {
            chain: PUBLISHED.to_owned(),
        });
        batch.add(&rule, MsgType::Add);
    }

    for d in &r.published {
        let mut rule = Rule::new(&published);
        ipv4(&mut rule);
        if let Some(ip) = d.host_ip {
            rule.add_expr(&Payload::Network(NetworkHeaderField::Ipv4(
                Ipv4HeaderField::Daddr,
            )));
            rule.add_expr(&Cmp::new(CmpOp::Eq, ip));
        }
        dport(&mut rule, d.protocol, d.host_port);
        dnat_to(&mut rule, d.address, d.port);
        batch.add(&rule, MsgType::Add);
    }

    // postrouting: outbound, hairpin, from localhost.
    {
        let mut rule = Rule::new(&postrouting);
        ipv4(&mut rule);
        saddr_in(&mut rule, r.subnet);
        rule.add_expr(&Meta::OifName);
        rule.add_expr(&Cmp::new(CmpOp::Neq, &bridge));
        rule.add_expr(&Masquerade);
        batch.add(&rule, MsgType::Add);
    }
    for source in [
        r.subnet,
        Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).unwrap_or_default(),
    ] {
        let mut rule = Rule::new(&postrouting);
        ipv4(&mut rule);
        rule.add_expr(&Meta::OifName);
        rule.add_expr(&Cmp::new(CmpOp::Eq, &bridge));
        ct_status_dnat(&mut rule);
        saddr_in(&mut rule, source);
        rule.add_expr(&Masquerade);
        batch.add(&rule, MsgType::Add);
    }

    // forward: out of the bridge freely; into it only replies and
    // published ports.
    {
        let mut rule = Rule::new(&forward);
        rule.add_expr(&Meta::IifName);
        rule.add_expr(&Cmp::new(CmpOp::Eq, &bridge));
        rule.add_expr(&Verdict::Accept);
        batch.add(&rule, MsgType::Add);

        let mut rule = Rule::new(&forward);
        rule.add_expr(&Meta::OifName);
        rule.add_expr(&Cmp::new(CmpOp::Eq, &bridge));
        rule.add_expr(&Conntrack::State);
        rule.add_expr(&Bitwise::new(
            (States::ESTABLISHED | States::RELATED).bits(),
            0u32,
        ));
        rule.add_expr(&Cmp::new(CmpOp::Neq, 0u32));
        rule.add_expr(&Verdict::Accept);
        batch.add(&rule, MsgType::Add);

        let mut rule = Rule::new(&forward);
        rule.add_expr(&Meta::OifName);
        rule.add_expr(&Cmp::new(CmpOp::Eq, &bridge));
        ct_status_dnat(&mut rule);
        rule.add_expr(&Verdict::Accept);
        batch.add(&rule, MsgType::Add);

        let mut rule = Rule::new(&forward);
        rule.add_expr(&Meta::OifName);
        rule.add_expr(&Cmp::new(CmpOp::Eq, &bridge));
        rule.add_expr(&Verdict::Drop);
        batch.add(&rule, MsgType::Add);
    }
    Ok(())
}

fn ipv4(rule: &mut Rule) {
    rule.add_expr(&Meta::NfProto);
    rule.add_expr(&Cmp::new(CmpOp::Eq, libc::NFPROTO_IPV4 as u8));
}

fn saddr_in(rule: &mut Rule, net: Ipv4Net) {
    rule.add_expr(&Payload::Network(NetworkHeaderField::Ipv4(
        Ipv4HeaderField::Saddr,
    )));
    rule.add_expr(&Bitwise::new(net.netmask(), Ipv4Addr::UNSPECIFIED));
    rule.add_expr(&Cmp::new(CmpOp::Eq, net.network()));
}

fn ct_status_dnat(rule: &mut Rule) {
    rule.add_expr(&Conntrack::Status);
    rule.add_expr(&Bitwise::new(ConntrackStatus::DST_NAT.bits(), 0u32));
    rule.add_expr(&Cmp::new(CmpOp::Neq, 0u32));
}

fn dport(rule: &mut Rule, protocol: Protocol, port: u16) {
    rule.add_expr(&Meta::L4Proto);
    let (proto, field) = match protocol {
        Protocol::Tcp => (
            libc::IPPROTO_TCP as u8,
            TransportHeaderField::Tcp(TcpHeaderField::Dport),
        ),
        Protocol::Udp => (
            libc::IPPROTO_UDP as u8,
            TransportHeaderField::Udp(UdpHeaderField::Dport),
        ),
    };
    rule.add_expr(&Cmp::new(CmpOp::Eq, proto));
    rule.add_expr(&Payload::Transport(field));
    rule.add_expr(&Cmp::new(CmpOp::Eq, port.to_be()));
}

fn dnat_to(rule: &mut Rule, address: Ipv4Addr, port: u16) {
    rule.add_expr(&Immediate::new(address, Register::Reg1));
    rule.add_expr(&Immediate::new(port.to_be(), Register::Reg2));
    rule.add_expr(&Nat {
        nat_type: NatType::DNat,
        family: ProtoFamily::Ipv4,
        ip_register: Register::Reg1,
        port_register: Some(Register::Reg2),
    });
}

/// `RTN_LOCAL`: the address type of the host's own addresses.
const RTN_LOCAL: u32 = 2;

/// `fib daddr type`: the route type of the destination address (nftnl has
/// no wrapper for the fib expression).
struct FibDaddrType;

impl Expression for FibDaddrType {
    fn to_expr(&self, _rule: &Rule) -> NonNull<sys::nftnl_expr> {
        const NFT_FIB_RESULT_ADDRTYPE: u32 = 3;
        const NFTA_FIB_F_DADDR: u32 = 1 << 1;
        // SAFETY: a valid NUL-terminated expression name.
        let raw = unsafe { sys::nftnl_expr_alloc(c"fib".as_ptr()) };
        let Some(expr) = NonNull::new(raw) else {
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<u64>());
        };
        // SAFETY: `expr` is a live fib expression and these are its u32
        // attributes.
        unsafe {
            sys::nftnl_expr_set_u32(
                expr.as_ptr(),
                sys::NFTNL_EXPR_FIB_DREG as u16,
                libc::NFT_REG_1 as u32,
            );
            sys::nftnl_expr_set_u32(
                expr.as_ptr(),
                sys::NFTNL_EXPR_FIB_RESULT as u16,
                NFT_FIB_RESULT_ADDRTYPE,
            );
            sys::nftnl_expr_set_u32(
                expr.as_ptr(),
                sys::NFTNL_EXPR_FIB_FLAGS as u16,
                NFTA_FIB_F_DADDR,
            );
        }
        expr
    }
}

/// Sends a batch and waits for the kernel to acknowledge every message.
fn send(batch: &nftnl::FinalizedBatch) -> std::io::Result<()> {
    let socket = mnl::Socket::new(mnl::Bus::Netfilter)?;
    let portid = socket.portid();
    socket.send_all(batch)?;
    let mut buffer = vec![0; nftnl::nft_nlmsg_maxsize() as usize];
    let mut expected = batch.sequence_numbers();
    while !expected.is_empty() {
        for message in socket.recv(&mut buffer[..])? {
            let message = message?;
            let Some(seq) = expected.next() else {
                return Err(std::io::Error::other("unexpected acknowledgement"));
            };
            mnl::cb_run(message, seq, portid)?;
        }
    }
    Ok(())
}

/// Whether a table called `paddock` exists.
pub fn exists() -> std::io::Result<bool> {
    let socket = mnl::Socket::new(mnl::Bus::Netfilter)?;
    let portid = socket.portid();
    let seq = 1;
    socket.send(&nftnl::table::get_tables_nlmsg(seq))?;
    let mut tables = std::collections::HashSet::new();
    let mut buffer = vec![0; nftnl::nft_nlmsg_maxsize() as usize];
    loop {
        let len = socket.recv_raw(&mut buffer)?;
        if len == 0 {
            break;
        }
        match mnl::cb_run2(
            &buffer[..len],
            seq,
            portid,
            nftnl::table::get_tables_cb,
            &mut tables,
        )? {
            mnl::CbResult::Stop => break,
            mnl::CbResult::Ok => {}
        }
    }
    Ok(tables.contains(TABLE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::netns;

    fn list(ns: &std::path::Path) -> String {
        let out = std::process::Command::new("nsenter")
            .arg(format!("--net={}", ns.display()))
            .args(["nft", "list", "table", "inet", "paddock"])
            .output()
            .expect("nsenter and nft (apt-get install util-linux nftables)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ruleset(published: Vec<Dnat>) -> Ruleset {
        Ruleset {
            bridge: "paddock0".into(),
            subnet: "10.88.0.0/16".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 88, 0, 1),
            dns_upstream: Some(Ipv4Addr::new(127, 0, 0, 53)),
            published,
            in_use: true,
        }
    }

    #[test]
    fn the_table_is_replaced_whole_and_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let ns = dir.path().join("ns");
        netns::create(&ns).unwrap();
        let web = Dnat {
            host_ip: None,
            host_port: 8080,
            protocol: Protocol::Tcp,
            address: Ipv4Addr::new(10, 88, 0, 2),
            port: 80,
        };
        let dns = Dnat {
            host_ip: Some(Ipv4Addr::new(127, 0, 0, 1)),
            host_port: 5353,
            protocol: Protocol::Udp,
            address: Ipv4Addr::new(10, 88, 0, 3),
            port: 53,
        };
        let r = ruleset(vec![web, dns]);
        netns::run_in(&ns, move || {
            apply(&r).map_err(std::io::Error::other)?;
            // Twice: still one copy of each rule.
            apply(&r).map_err(std::io::Error::other)
        })
        .unwrap();
        let text = list(&ns);
        assert_eq!(
            text.matches("fib daddr type local jump published").count(),
            2
        );
        for expected in [
            "tcp dport 8080 dnat ip to 10.88.0.2:80",
            "ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.88.0.3:53",
            "ip saddr 10.88.0.0/16 oifname != \"paddock0\" masquerade",
            "oifname \"paddock0\" ct status dnat ip saddr 127.0.0.0/8 masquerade",
            "iifname \"paddock0\" ip daddr 10.88.0.1 udp dport 53 dnat ip to 127.0.0.53:53",
            "oifname \"paddock0\" drop",
        ] {
            assert_eq!(
                text.matches(expected).count(),
                1,
                "{expected:?} once in:\n{text}"
            );
        }

        let r = ruleset(vec![web]);
        netns::run_in(&ns, move || apply(&r).map_err(std::io::Error::other)).unwrap();
        assert!(!list(&ns).contains("5353"), "a removed port's rule is gone");

        let mut r = ruleset(vec![]);
        r.in_use = false;
        netns::run_in(&ns, move || {
            apply(&r).map_err(std::io::Error::other)?;
            exists().map(|e| assert!(e))
        })
        .unwrap();
        assert!(!list(&ns).contains("chain"), "no chains are left");
        netns::run_in(&ns, || {
            delete().map_err(std::io::Error::other)?;
            exists().map(|e| assert!(!e))
        })
        .unwrap();
        netns::remove(&ns).unwrap();
    }
}
