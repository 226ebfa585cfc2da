//! Resource limits and kernel knobs: `ulimits`, `mem_limit`, `cpus`,
//! `pids_limit`, `sysctls`.

use std::collections::BTreeMap;

use super::environment::key_values;
use super::error::{Issue, Pos};
use super::types::{NetworkMode, Ulimit};
use super::units::{bytes, BYTES};
use super::value::{at, integer, wrong_kind, Fields, Node, Value};

pub(crate) const ULIMITS: &str =
    "a mapping such as {nofile: 65536} or {nofile: {soft: 1024, hard: 65536}}";
const ULIMIT_VALUE: &str = "a number (-1 for unlimited) or {soft: N, hard: N}";
pub(crate) const CPUS: &str = "a number of CPUs such as 0.5 or 2";
pub(crate) const PIDS: &str = "a positive number, or -1 for no limit";
pub(crate) const SYSCTLS: &str =
    "a mapping such as {net.ipv4.ip_forward: 1} or a list such as [\"net.ipv4.ip_forward=1\"]";

/// The names compose and docker know, plus `as`.
pub const ULIMIT_NAMES: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Docker refuses memory limits below 6 MiB: the container could not start.
pub(crate) const MIN_MEMORY: u64 = 6 * 1024 * 1024;

pub(crate) fn ulimits(node: &Node, path: &str) -> Result<Vec<Ulimit>, Issue> {
    let Value::Map(entries) = &node.value else {
        return Err(wrong_kind(node, path, ULIMITS));
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let p = format!("{path}.{}", key.value);
        let name = key.value.to_ascii_lowercase();
        if !ULIMIT_NAMES.contains(&name.as_str()) {
            return Err(Issue::new(
                Pos::from(key.referenced),
                &p,
                "unknown limit",
                &format!("one of: {}", ULIMIT_NAMES.join(", ")),
            ));
        }
        let (soft, hard) = match &value.value {
            Value::Map(_) => {
                let f = Fields::new(value, &p, &["soft", "hard"], ULIMIT_VALUE)?;
                let get = |k: &str| {
                    let n = f.get(k).ok_or_else(|| {
                        Issue::new(at(value), &f.path(k), "is required", ULIMIT_VALUE)
                    })?;
                    limit(n, &f.path(k))
                };
                (get("soft")?, get("hard")?)
            }
            _ => {
                let v = limit(value, &p)?;
                (v, v)
            }
        };
        if soft > hard {
            return Err(Issue::new(
                at(value),
                &p,
                "soft limit is above the hard limit",
                ULIMIT_VALUE,
            ));
        }
        out.push(Ulimit { name, soft, hard });
    }
    Ok(out)
}

/// A limit value: ≥ 0, or -1 for unlimited (`u64::MAX`).
fn limit(node: &Node, path: &str) -> Result<u64, Issue> {
    let n = integer(node, path, ULIMIT_VALUE)?;
    match n {
        -1 => Ok(u64::MAX),
        n => u64::try_from(n).map_err(|_| {
            Issue::value(
                at(node),
                path,
                &n.to_string(),
                "must be ≥ 0, or -1 for unlimited",
                ULIMIT_VALUE,
            )
        }),
    }
}

pub(crate) fn mem_limit(node: &Node, path: &str) -> Result<u64, Issue> {
    let b = bytes(node, path)?;
    if b < MIN_MEMORY {
        let shown = node.value.scalar_text().unwrap_or_default();
        return Err(Issue::value(
            at(node),
            path,
            &shown,
            "must be at least 6m",
            BYTES,
        ));
    }
    Ok(b)
}

pub(crate) fn cpus(node: &Node, path: &str) -> Result<f64, Issue> {
    let (v, shown) = match &node.value {
        Value::Int(i) => (*i as f64, i.to_string()),
        Value::Float(f) => (*f, f.to_string()),
        Value::Str(s) => match s.trim().parse::<f64>() {
            Ok(f) => (f, s.clone()),
            Err(_) => return Err(Issue::value(at(node), path, s, "not a number", CPUS)),
        },
        _ => return Err(wrong_kind(node, path, CPUS)),
    };
    // The kernel's smallest CFS quota is 1 ms per 100 ms period.
    if !v.is_finite() || v < 0.01 {
        return Err(Issue::value(
            at(node),
            path,
            &shown,
            "must be at least 0.01",
            CPUS,
        ));
    }
    Ok(v)
}

pub(crate) fn pids_limit(node: &Node, path: &str) -> Result<i64, Issue> {
    let n = integer(node, path, PIDS)?;
    match i64::try_from(n) {
        Ok(n) if n == -1 || n > 0 => Ok(n),
        _ => Err(Issue::value(
            at(node),
            path,
            &n.to_string(),
            "must be positive or -1",
            PIDS,
        )),
    }
}

/// Only namespaced sysctls can be set for one container (docker's list);
/// `net.*` needs the container's own network namespace.
pub(crate) fn sysctls(
    node: &Node,
    path: &str,
    network: &NetworkMode,
) -> Result<BTreeMap<String, String>, Issue> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let mut out = BTreeMap::new();
    for entry in key_values(node, path, SYSCTLS)? {
        let name = entry.key.trim().replace('/', ".");
        let Some(value) = entry.value else {
            return Err(Issue::value(
                entry.at,
                &entry.path,
                &name,
                "needs a value",
                SYSCTLS,
            ));
        };
        let allowed = IPC.contains(&name.as_str())
            || name.starts_with("fs.mqueue.")
            || name.starts_with("net.");
        if !allowed {
            return Err(Issue::value(
                entry.at,
                &entry.path,
                &name,
                "not a namespaced sysctl; it would change the whole host",
                "net.*, fs.mqueue.* or kernel.msg*/sem/shm*",
            ));
        }
        if name.starts_with("net.") && *network == NetworkMode::Host {
            return Err(Issue::value(
                entry.at,
                &entry.path,
                &name,
                "net.* sysctls cannot be set with network: host",
                "",
            ));
        }
        out.insert(name, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse;

    fn node(yaml: &str) -> Node {
        let w = parse(&format!("ulimits: {yaml}\n")).unwrap();
        w.ulimits.unwrap()
    }

    #[test]
    fn ulimit_forms() {
        assert_eq!(
            ulimits(
                &node("{nofile: 1024, nproc: {soft: 10, hard: 20}, core: -1}"),
                "ulimits"
            )
            .unwrap(),
            vec![
                Ulimit {
                    name: "nofile".into(),
                    soft: 1024,
                    hard: 1024
                },
                Ulimit {
                    name: "nproc".into(),
                    soft: 10,
                    hard: 20
                },
                Ulimit {
                    name: "core".into(),
                    soft: u64::MAX,
                    hard: u64::MAX
                },
            ]
        );
    }

    #[test]
    fn ulimit_errors() {
        let e = ulimits(&node("{nofiles: 1}"), "ulimits").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 11));
        assert!(
            e.message
                .starts_with("ulimits.nofiles: unknown limit (expected one of: as, core"),
            "{}",
            e.message
        );
        let e = ulimits(&node("{nofile: {soft: 20, hard: 10}}"), "ulimits").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 19));
        assert!(e
            .message
            .starts_with("ulimits.nofile: soft limit is above the hard limit"));
        let e = ulimits(&node("{nofile: {soft: 20}}"), "ulimits").unwrap_err();
        assert!(
            e.message.starts_with("ulimits.nofile.hard: is required"),
            "{}",
            e.message
        );
        let e = ulimits(&node("{nofile: -5}"), "ulimits").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 19));
        assert!(e.message.contains("must be ≥ 0, or -1"));
        let e = ulimits(&node("{nofile: {soft: 1, hard: 2, max: 3}}"), "ulimits").unwrap_err();
        assert!(
            e.message.starts_with("ulimits.nofile.max: unknown field"),
            "{}",
            e.message
        );
        let e = ulimits(&node("[nofile]"), "ulimits").unwrap_err();
        assert!(e.message.starts_with("ulimits: found a list"));
    }

    fn n(key: &str, yaml: &str) -> Node {
        let w = parse(&format!("{key}: {yaml}\n")).unwrap();
        match key {
            "mem_limit" => w.mem_limit,
            "cpus" => w.cpus,
            "pids_limit" => w.pids_limit,
            "sysctls" => w.sysctls,
            _ => unreachable!(),
        }
        .unwrap()
    }

    #[test]
    fn memory() {
        assert_eq!(
            mem_limit(&n("mem_limit", "512m"), "mem_limit").unwrap(),
            512 << 20
        );
        assert_eq!(
            mem_limit(&n("mem_limit", "1g"), "mem_limit").unwrap(),
            1 << 30
        );
        assert_eq!(
            mem_limit(&n("mem_limit", "104857600"), "mem_limit").unwrap(),
            100 << 20
        );
        let e = mem_limit(&n("mem_limit", "1m"), "mem_limit").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 12));
        assert!(
            e.message
                .starts_with("mem_limit: \"1m\": must be at least 6m"),
            "{}",
            e.message
        );
        let e = mem_limit(&n("mem_limit", "lots"), "mem_limit").unwrap_err();
        assert!(e.message.contains("must start with a number"));
    }

    #[test]
    fn cpu_and_pids() {
        assert_eq!(cpus(&n("cpus", "0.5"), "cpus").unwrap(), 0.5);
        assert_eq!(cpus(&n("cpus", "2"), "cpus").unwrap(), 2.0);
        assert_eq!(cpus(&n("cpus", "'1.5'"), "cpus").unwrap(), 1.5);
        let e = cpus(&n("cpus", "0"), "cpus").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 7));
        assert!(e.message.starts_with("cpus: \"0\": must be at least 0.01"));
        let e = cpus(&n("cpus", "-1"), "cpus").unwrap_err();
        assert!(e.message.contains("must be at least 0.01"));
        assert_eq!(
            pids_limit(&n("pids_limit", "100"), "pids_limit").unwrap(),
            100
        );
        assert_eq!(
            pids_limit(&n("pids_limit", "-1"), "pids_limit").unwrap(),
            -1
        );
        let e = pids_limit(&n("pids_limit", "0"), "pids_limit").unwrap_err();
        assert!(e
            .message
            .starts_with("pids_limit: \"0\": must be positive or -1"));
        let e = pids_limit(&n("pids_limit", "1.5"), "pids_limit").unwrap_err();
        assert!(e.message.contains("not a whole number"));
    }

    #[test]
    fn sysctl_forms() {
        let m = sysctls(
            &n(
                "sysctls",
                "{net.core.somaxconn: 1024, net/ipv4/ip_forward: 1}",
            ),
            "sysctls",
            &NetworkMode::Bridge,
        )
        .unwrap();
        assert_eq!(m.get("net.core.somaxconn").unwrap(), "1024");
        assert_eq!(m.get("net.ipv4.ip_forward").unwrap(), "1");
        let m = sysctls(
            &n("sysctls", "['kernel.shmmax=1000', fs.mqueue.msg_max=20]"),
            "sysctls",
            &NetworkMode::Host,
        )
        .unwrap();
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn sysctl_errors() {
        let e = sysctls(
            &n("sysctls", "[kernel.panic=1]"),
            "sysctls",
            &NetworkMode::Bridge,
        )
        .unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 11));
        assert!(
            e.message
                .starts_with("sysctls[0]: \"kernel.panic\": not a namespaced sysctl"),
            "{}",
            e.message
        );
        let e = sysctls(
            &n("sysctls", "{net.core.somaxconn: 1}"),
            "sysctls",
            &NetworkMode::Host,
        )
        .unwrap_err();
        assert!(e.message.contains("cannot be set with network: host"));
        let e = sysctls(
            &n("sysctls", "[net.core.somaxconn]"),
            "sysctls",
            &NetworkMode::Bridge,
        )
        .unwrap_err();
        assert!(e.message.contains("needs a value"));
    }
}
