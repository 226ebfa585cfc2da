//! `cap_add` / `cap_drop`: capability names with or without `CAP_`, or `ALL`.

use std::str::FromStr;

use oci_spec::runtime::Capability;

use super::error::{Issue, Pos};
use super::types::CapabilityName;
use super::value::{list, text, Node};

pub(crate) const CAPABILITY: &str = "a capability such as NET_ADMIN or CAP_SYS_TIME, or ALL";

pub(crate) fn capabilities(node: &Node, path: &str) -> Result<Vec<CapabilityName>, Issue> {
    let mut out = Vec::new();
    for (i, item) in list(node, path, &format!("a list of {CAPABILITY}"))?
        .iter()
        .enumerate()
    {
        let p = format!("{path}[{i}]");
        let s = text(item, &p, CAPABILITY)?;
        let cap = parse(&s).ok_or_else(|| {
            Issue::value(
                Pos::from(item.referenced),
                &p,
                &s,
                "unknown capability",
                CAPABILITY,
            )
        })?;
        if !out.contains(&cap) {
            out.push(cap);
        }
    }
    Ok(out)
}

/// `NET_ADMIN`, `cap_net_admin`, `ALL`.
pub(crate) fn parse(s: &str) -> Option<CapabilityName> {
    let upper = s.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Some(CapabilityName::All);
    }
    let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
    // `Capability`'s FromStr takes the name without the prefix.
    if name.starts_with("CAP_") || name.is_empty() {
        return None;
    }
    Capability::from_str(name).ok().map(CapabilityName::Cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse as parse_yaml;

    #[test]
    fn names() {
        assert_eq!(
            parse("NET_ADMIN"),
            Some(CapabilityName::Cap(Capability::NetAdmin))
        );
        assert_eq!(
            parse("CAP_NET_ADMIN"),
            Some(CapabilityName::Cap(Capability::NetAdmin))
        );
        assert_eq!(
            parse("cap_sys_time"),
            Some(CapabilityName::Cap(Capability::SysTime))
        );
        assert_eq!(parse("all"), Some(CapabilityName::All));
        assert_eq!(parse("CAP_ALL"), None);
        assert_eq!(parse("NET_FLY"), None);
        assert_eq!(parse("CAP_CAP_CHOWN"), None);
    }

    #[test]
    fn list_and_errors() {
        let w = parse_yaml("cap_add: [NET_ADMIN, CAP_NET_ADMIN, SYS_TIME]\n").unwrap();
        assert_eq!(
            capabilities(&w.cap_add.unwrap(), "cap_add").unwrap(),
            vec![
                CapabilityName::Cap(Capability::NetAdmin),
                CapabilityName::Cap(Capability::SysTime)
            ]
        );
        let w = parse_yaml("cap_drop:\n  - CHOWN\n  - FLY\n").unwrap();
        let e = capabilities(&w.cap_drop.unwrap(), "cap_drop").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (3, 5));
        assert_eq!(
            e.message,
            format!("cap_drop[1]: \"FLY\": unknown capability (expected {CAPABILITY})")
        );
        let w = parse_yaml("cap_add: NET_ADMIN\n").unwrap();
        let e = capabilities(&w.cap_add.unwrap(), "cap_add").unwrap_err();
        assert!(e
            .message
            .starts_with("cap_add: found a string (expected a list of"));
    }
}
