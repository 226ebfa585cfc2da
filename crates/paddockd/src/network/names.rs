//! How containers on the bridge find each other and a resolver.
//!
//! Names: every bridged container's `/etc/hosts` lists the others by
//! manifest name (kept current by paddockd's /etc keeper as containers come
//! and go) — no DNS server to run, and it works for any libc. See the README.
//!
//! Resolver: the host's `/etc/resolv.conf` as it is, except that a loopback
//! nameserver (systemd-resolved's 127.0.0.53, a local dnsmasq) cannot be
//! reached from another namespace: it becomes the bridge's gateway address,
//! and nftables forwards DNS from the bridge to the loopback resolver.

use std::net::{IpAddr, Ipv4Addr};

/// The resolv.conf a bridged container sees, and the loopback resolver (if
/// any) its queries to the gateway must be forwarded to.
pub fn translate_resolv_conf(host: &str, gateway: Ipv4Addr) -> (String, Option<Ipv4Addr>) {
    let mut upstream = None;
    let mut out = String::new();
    let mut gateway_listed = false;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            if let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) {
                if ip.is_loopback() {
                    if let (IpAddr::V4(v4), None) = (ip, upstream) {
                        upstream = Some(v4);
                    }
                    if !gateway_listed && ip.is_ipv4() {
                        out.push_str(&format!("nameserver {gateway}\n"));
                        gateway_listed = true;
                    }
                    continue;
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    (out, upstream)
}

/// `/etc/hosts` for a bridged container: localhost, itself, and its peers.
pub fn hosts_file(own: (&str, Option<Ipv4Addr>), peers: &[(String, Ipv4Addr)]) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    match own.1 {
        Some(ip) => out.push_str(&format!("{ip}\t{}\n", own.0)),
        None => out.push_str(&format!("127.0.1.1\t{}\n", own.0)),
    }
    for (name, ip) in peers {
        if name != own.0 {
            out.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GW: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);

    #[test]
    fn a_loopback_resolver_becomes_the_gateway() {
        let (conf, upstream) = translate_resolv_conf(
            "# by resolved\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\nsearch lan\n",
            GW,
        );
        assert_eq!(
            conf,
            "# by resolved\nnameserver 10.88.0.1\noptions edns0\nsearch lan\n"
        );
        assert_eq!(upstream, Some(Ipv4Addr::new(127, 0, 0, 53)));
    }

    #[test]
    fn other_resolvers_stay() {
        let host = "nameserver 192.0.2.53\nnameserver 2001:db8::53\n";
        let (conf, upstream) = translate_resolv_conf(host, GW);
        assert_eq!(conf, host);
        assert_eq!(upstream, None);
    }

    #[test]
    fn hosts_lists_itself_and_peers() {
        let peers = vec![
            ("web".to_string(), Ipv4Addr::new(10, 88, 0, 2)),
            ("db".to_string(), Ipv4Addr::new(10, 88, 0, 3)),
        ];
        let hosts = hosts_file(("web", Some(Ipv4Addr::new(10, 88, 0, 2))), &peers);
        assert!(hosts.contains("10.88.0.2\tweb\n"));
        assert!(hosts.contains("10.88.0.3\tdb\n"));
        assert_eq!(hosts.matches("web").count(), 1);
    }
}
