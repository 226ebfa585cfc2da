//! `ports`: compose's short syntax (`"127.0.0.1:8080:80/tcp"`, ranges,
//! `[::1]:53:53/udp`) and long syntax (`{target, published, protocol, host_ip}`).

use std::net::IpAddr;
use std::ops::RangeInclusive;

use super::error::{Issue, Pos};
use super::types::{PortMapping, Protocol};
use super::value::{at, integer, list, text, Fields, Node, Value};

pub(crate) const PORT: &str = "\"[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]\"";
const LONG: &str = "{target: PORT, published: PORT, protocol: tcp|udp, host_ip: IP}";

pub(crate) fn ports(node: &Node, path: &str) -> Result<Vec<PortMapping>, Issue> {
    let mut out: Vec<PortMapping> = Vec::new();
    for (i, item) in list(node, path, &format!("a list of {PORT}"))?
        .iter()
        .enumerate()
    {
        let p = format!("{path}[{i}]");
        let (mappings, loc, shown) = match &item.value {
            Value::Map(_) => (long(item, &p)?, at(item), None),
            _ => {
                let s = text(item, &p, PORT)?;
                let m =
                    short(&s).map_err(|problem| Issue::value(at(item), &p, &s, &problem, PORT))?;
                (m, at(item), Some(s))
            }
        };
        for m in mappings {
            check_clash(&out, &m, loc, &p, shown.as_deref())?;
            out.push(m);
        }
    }
    Ok(out)
}

fn check_clash(
    existing: &[PortMapping],
    m: &PortMapping,
    loc: Pos,
    path: &str,
    shown: Option<&str>,
) -> Result<(), Issue> {
    let Some(port) = m.host_port else {
        return Ok(());
    };
    let clash = existing.iter().any(|e| {
        e.host_port == Some(port)
            && e.protocol == m.protocol
            && (e.host_ip.is_none() || m.host_ip.is_none() || e.host_ip == m.host_ip)
    });
    if !clash {
        return Ok(());
    }
    let problem = format!("host port {port} is published twice");
    Err(match shown {
        Some(s) => Issue::value(loc, path, s, &problem, "each host port once"),
        None => Issue::new(loc, path, &problem, "each host port once"),
    })
}

/// Parses the short syntax.
pub(crate) fn short(s: &str) -> Result<Vec<PortMapping>, String> {
    let (spec, protocol) = match s.rsplit_once('/') {
        Some((spec, proto)) => (spec, protocol(proto)?),
        None => (s, Protocol::Tcp),
    };
    let (host_ip, rest) = if let Some(after) = spec.strip_prefix('[') {
        let (ip, rest) = after
            .split_once(']')
            .ok_or_else(|| "missing ']' after the IPv6 address".to_string())?;
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| "expected ':' after the IPv6 address".to_string())?;
        (Some(ip), rest)
    } else {
        match spec.matches(':').count() {
            0 | 1 => (None, spec),
            2 => {
                let (ip, rest) = spec.split_once(':').unwrap_or(("", spec));
                (Some(ip), rest)
            }
            _ => {
                return Err(
                    "too many ':' (write IPv6 addresses in brackets: \"[::1]:8080:80\")".into(),
                )
            }
        }
    };
    let host_ip = host_ip.map(ip).transpose()?;
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (Some(h), c),
        None => (None, rest),
    };
    if host_ip.is_some() && host.is_none() {
        return Err("a host IP needs a host port (or \"IP::CONTAINER_PORT\" for any port)".into());
    }
    let container = range(container, "container port")?;
    let host = match host {
        Some("") | None => None,
        Some(h) => Some(range(h, "host port")?),
    };
    expand(host_ip, host, container, protocol)
}

fn expand(
    host_ip: Option<IpAddr>,
    host: Option<RangeInclusive<u16>>,
    container: RangeInclusive<u16>,
    protocol: Protocol,
) -> Result<Vec<PortMapping>, String> {
    let count = container.end() - container.start();
    if let Some(h) = &host {
        if h.end() - h.start() != count {
            return Err(format!(
                "host range has {} ports but container range has {}",
                h.end() - h.start() + 1,
                count + 1
            ));
        }
    }
    Ok((0..=count)
        .map(|offset| PortMapping {
            host_ip,
            host_port: host.as_ref().map(|h| h.start() + offset),
            container_port: container.start() + offset,
            protocol,
        })
        .collect())
}

fn protocol(s: &str) -> Result<Protocol, String> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        _ => Err(format!("unknown protocol {s:?} (tcp or udp)")),
    }
}

fn ip(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| format!("{s:?} is not an IP address"))
}

/// `80` or `9000-9005`; `what` names the side for the error.
fn range(s: &str, what: &str) -> Result<RangeInclusive<u16>, String> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let (a, b) = (number(a, what)?, number(b, what)?);
    if b < a {
        return Err(format!("{what} range {s} ends before it starts"));
    }
    Ok(a..=b)
}

fn number(s: &str, what: &str) -> Result<u16, String> {
    if s.is_empty() {
        return Err(format!("{what} is missing"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {s:?} is not a number"));
    }
    match s.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!("{what} must be 1-65535")),
    }
}

fn long(item: &Node, p: &str) -> Result<Vec<PortMapping>, Issue> {
    let f = Fields::new(
        item,
        p,
        &["target", "published", "protocol", "host_ip"],
        LONG,
    )?;
    let Some(target_node) = f.get("target") else {
        return Err(Issue::new(
            at(item),
            &f.path("target"),
            "is required",
            "the container port, 1-65535",
        ));
    };
    let target = integer(target_node, &f.path("target"), "a port number 1-65535")?;
    let target = u16::try_from(target)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| {
            Issue::value(
                at(target_node),
                &f.path("target"),
                &target.to_string(),
                "container port must be 1-65535",
                "a port number 1-65535",
            )
        })?;
    let host = match f.get("published") {
        None => None,
        Some(n) => {
            let s = text(
                n,
                &f.path("published"),
                "a port such as 8080 or a range such as \"8000-8001\"",
            )?;
            Some(range(&s, "host port").map_err(|problem| {
                Issue::value(
                    at(n),
                    &f.path("published"),
                    &s,
                    &problem,
                    "a port such as 8080 or a range such as \"8000-8001\"",
                )
            })?)
        }
    };
    let protocol = match f.get("protocol") {
        None => Protocol::Tcp,
        Some(n) => {
            let s = text(n, &f.path("protocol"), "tcp or udp")?;
            protocol(&s)
                .map_err(|problem| Issue::new(at(n), &f.path("protocol"), &problem, "tcp or udp"))?
        }
    };
    let host_ip = match f.get("host_ip") {
        None => None,
        Some(n) => {
            let s = text(n, &f.path("host_ip"), "an IP address")?;
            let s = s.trim_start_matches('[').trim_end_matches(']').to_string();
            Some(ip(&s).map_err(|problem| {
                Issue::new(at(n), &f.path("host_ip"), &problem, "an IP address")
            })?)
        }
    };
    expand(host_ip, host, target..=target, protocol)
        .map_err(|problem| Issue::new(at(item), p, &problem, LONG))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse;

    fn pm(ip: Option<&str>, host: Option<u16>, container: u16, protocol: Protocol) -> PortMapping {
        PortMapping {
            host_ip: ip.map(|s| s.parse().unwrap()),
            host_port: host,
            container_port: container,
            protocol,
        }
    }

    fn ports_of(yaml: &str) -> Result<Vec<PortMapping>, Issue> {
        let w = parse(&format!("ports:\n{yaml}")).unwrap();
        ports(&w.ports.unwrap(), "ports")
    }

    #[test]
    fn short_forms() {
        use Protocol::*;
        assert_eq!(
            short("8080:80").unwrap(),
            vec![pm(None, Some(8080), 80, Tcp)]
        );
        assert_eq!(
            short("127.0.0.1:8080:80").unwrap(),
            vec![pm(Some("127.0.0.1"), Some(8080), 80, Tcp)]
        );
        assert_eq!(
            short("53:53/udp").unwrap(),
            vec![pm(None, Some(53), 53, Udp)]
        );
        assert_eq!(short("80").unwrap(), vec![pm(None, None, 80, Tcp)]);
        assert_eq!(
            short("[::1]:8080:80").unwrap(),
            vec![pm(Some("::1"), Some(8080), 80, Tcp)]
        );
        assert_eq!(
            short("127.0.0.1::80").unwrap(),
            vec![pm(Some("127.0.0.1"), None, 80, Tcp)]
        );
        assert_eq!(
            short("9000-9002:9100-9102").unwrap(),
            vec![
                pm(None, Some(9000), 9100, Tcp),
                pm(None, Some(9001), 9101, Tcp),
                pm(None, Some(9002), 9102, Tcp)
            ]
        );
        assert_eq!(
            short("9000-9001").unwrap(),
            vec![pm(None, None, 9000, Tcp), pm(None, None, 9001, Tcp)]
        );
        assert_eq!(short("1:2/UDP").unwrap(), vec![pm(None, Some(1), 2, Udp)]);
    }

    #[test]
    fn short_errors() {
        assert_eq!(short("80800:80").unwrap_err(), "host port must be 1-65535");
        assert_eq!(short("80:0").unwrap_err(), "container port must be 1-65535");
        assert_eq!(
            short("80:80/sctp").unwrap_err(),
            "unknown protocol \"sctp\" (tcp or udp)"
        );
        assert_eq!(
            short("9000-9005:9000-9004").unwrap_err(),
            "host range has 6 ports but container range has 5"
        );
        assert_eq!(
            short("9005-9000:1-6").unwrap_err(),
            "host port range 9005-9000 ends before it starts"
        );
        assert_eq!(
            short("a:80").unwrap_err(),
            "host port \"a\" is not a number"
        );
        assert_eq!(
            short("1.2.3:80:80").unwrap_err(),
            "\"1.2.3\" is not an IP address"
        );
        assert!(short("::1:80:80").unwrap_err().starts_with("too many ':'"));
        assert_eq!(
            short("[::1:80:80").unwrap_err(),
            "missing ']' after the IPv6 address"
        );
        assert_eq!(short("").unwrap_err(), "container port is missing");
    }

    #[test]
    fn list_with_positions() {
        let e = ports_of("  - 8080:80\n  - \"80800:80\"\n").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (3, 5));
        assert_eq!(
            e.message,
            "ports[1]: \"80800:80\": host port must be 1-65535 (expected \"[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]\")"
        );
    }

    #[test]
    fn integer_entry() {
        assert_eq!(
            ports_of("  - 80\n").unwrap(),
            vec![pm(None, None, 80, Protocol::Tcp)]
        );
    }

    #[test]
    fn long_syntax() {
        let got = ports_of(
            "  - target: 80\n    published: 8080\n    host_ip: 127.0.0.1\n  - {target: 53, published: \"5353\", protocol: udp}\n  - {target: 22}\n",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                pm(Some("127.0.0.1"), Some(8080), 80, Protocol::Tcp),
                pm(None, Some(5353), 53, Protocol::Udp),
                pm(None, None, 22, Protocol::Tcp),
            ]
        );
    }

    #[test]
    fn long_syntax_errors() {
        let e = ports_of("  - {target: 70000}\n").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (2, 14));
        assert!(
            e.message
                .starts_with("ports[0].target: \"70000\": container port must be 1-65535"),
            "{}",
            e.message
        );
        let e = ports_of("  - {published: 80}\n").unwrap_err();
        assert_eq!(
            e.message,
            "ports[0].target: is required (expected the container port, 1-65535)"
        );
        let e = ports_of("  - {target: 80, mode: host}\n").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (2, 18));
        assert!(
            e.message.starts_with("ports[0].mode: unknown field"),
            "{}",
            e.message
        );
        let e = ports_of("  - {target: 80, published: 8080-8081}\n").unwrap_err();
        assert!(
            e.message
                .contains("host range has 2 ports but container range has 1"),
            "{}",
            e.message
        );
        let e = ports_of("  - {target: 80, protocol: icmp}\n").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (2, 28));
    }

    #[test]
    fn clashes() {
        let e = ports_of("  - 8080:80\n  - 127.0.0.1:8080:81\n").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (3, 5));
        assert!(
            e.message.contains("host port 8080 is published twice"),
            "{}",
            e.message
        );
        // Different protocols or different addresses do not clash.
        ports_of("  - 8080:80\n  - 8080:80/udp\n").unwrap();
        ports_of("  - 127.0.0.1:8080:80\n  - 127.0.0.2:8080:80\n").unwrap();
    }
}
