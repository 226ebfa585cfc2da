//! From the wire form to a checked [`Manifest`]: every field is converted on
//! its own, so one file reports all its mistakes at once.

use std::path::Path;
use std::time::Duration;

use super::error::{Issue, Pos};
use super::mounts::{absolute, Mounts};
use super::types::{Manifest, NetworkMode, PullPolicy, RestartPolicy};
use super::value::{at, boolean, nonempty_text, text, Node};
use super::wire::WireManifest;
use super::{capabilities, command, environment, health, limits, mounts, policy, ports, user};

pub(crate) const NAME: &str = "a name matching [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters";
const IMAGE: &str = "an image reference such as \"docker.io/library/nginx:1.27\" or \"alpine\"";
const HOSTNAME: &str = "a host name such as \"web\" or \"web.example.com\"";

/// A manifest plus the positions the directory-wide checks point at.
pub(crate) struct Checked {
    pub manifest: Manifest,
    pub name_at: Pos,
    /// One per `manifest.depends_on` entry.
    pub depends_at: Vec<Pos>,
    /// Where `network: container:NAME` is, if used.
    pub network_at: Pos,
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, 1-64 characters.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 64
}

fn is_valid_hostname(h: &str) -> bool {
    h.len() <= 64
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Runs `f` on the field if present, recording its error.
fn field<T>(
    issues: &mut Vec<Issue>,
    node: &Option<Node>,
    f: impl FnOnce(&Node) -> Result<T, Issue>,
) -> Option<T> {
    let node = node.as_ref()?;
    match f(node) {
        Ok(v) => Some(v),
        Err(issue) => {
            issues.push(issue);
            None
        }
    }
}

pub(crate) fn check(
    wire: WireManifest,
    source: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Checked, Vec<Issue>> {
    let mut issues = Vec::new();
    let w = &wire;

    let (name, name_at) = match &w.name {
        Some(n) => match nonempty_text(n, "name", NAME) {
            Ok(s) if is_valid_name(&s) => (s, at(n)),
            Ok(s) => {
                issues.push(Issue::value(
                    at(n),
                    "name",
                    &s,
                    "not a valid container name",
                    NAME,
                ));
                (s, at(n))
            }
            Err(e) => {
                issues.push(e);
                (String::new(), at(n))
            }
        },
        None => {
            let stem = source
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !is_valid_name(&stem) {
                issues.push(Issue::value(
                    Pos::UNKNOWN,
                    "name",
                    &stem,
                    "the file name is not a valid container name; set name:",
                    NAME,
                ));
            }
            (stem, Pos::UNKNOWN)
        }
    };

    let image = match &w.image {
        None => {
            issues.push(Issue::new(Pos::new(1, 1), "image", "is required", IMAGE));
            String::new()
        }
        Some(n) => field(&mut issues, &Some(n.clone()), |n| {
            let s = nonempty_text(n, "image", IMAGE)?;
            // Our own parser: oci-spec's compiles a regex that costs
            // paddockd ~13 MiB of memory (benches/README.md).
            paddock_wire::reference::ImageRef::parse(&s)
                .map_err(|e| Issue::value(at(n), "image", &s, &e.to_string(), IMAGE))?;
            Ok(s)
        })
        .unwrap_or_default(),
    };

    let command = field(&mut issues, &w.command, |n| command::command(n, "command"));
    let entrypoint = field(&mut issues, &w.entrypoint, |n| {
        command::command(n, "entrypoint")
    });
    let environment = field(&mut issues, &w.environment, |n| {
        environment::environment(n, "environment", lookup)
    })
    .unwrap_or_default();
    let working_dir = field(&mut issues, &w.working_dir, |n| {
        let s = text(n, "working_dir", "an absolute path")?;
        absolute(&s).map_err(|p| {
            Issue::value(
                at(n),
                "working_dir",
                &s,
                p,
                "an absolute path in the container",
            )
        })
    });
    let user = field(&mut issues, &w.user, |n| user::user(n, "user"));

    let mut mounts = Mounts::default();
    field(&mut issues, &w.volumes, |n| {
        mounts::volumes(n, "volumes", &mut mounts)
    });
    field(&mut issues, &w.tmpfs, |n| {
        mounts::tmpfs(n, "tmpfs", &mut mounts)
    });
    check_mount_targets(&mounts, &mut issues);

    let ports = field(&mut issues, &w.ports, |n| ports::ports(n, "ports")).unwrap_or_default();
    // As the seed's podman wrapper: the host's network unless ports are
    // published, which needs a bridge (issue #3 says so too).
    let default_network = if ports.is_empty() {
        NetworkMode::Host
    } else {
        NetworkMode::Bridge
    };
    let network = field(&mut issues, &w.network, |n| policy::network(n, "network"))
        .unwrap_or(default_network);
    let network_at = w.network.as_ref().map(at).unwrap_or(Pos::UNKNOWN);
    if network == NetworkMode::Container(name.clone()) {
        issues.push(Issue::new(
            network_at,
            "network",
            "a container cannot join its own network",
            policy::NETWORK,
        ));
    }
    if !ports.is_empty() && matches!(network, NetworkMode::None | NetworkMode::Container(_)) {
        let n = w.ports.as_ref().map(at).unwrap_or(Pos::UNKNOWN);
        issues.push(Issue::new(
            n,
            "ports",
            "cannot publish ports with network: none or container:NAME",
            "network: bridge or host",
        ));
    }

    let flag = |issues: &mut Vec<Issue>, node: &Option<Node>, key: &str, default: bool| {
        field(issues, node, |n| boolean(n, key)).unwrap_or(default)
    };
    let tty = flag(&mut issues, &w.tty, "tty", false);
    let privileged = flag(&mut issues, &w.privileged, "privileged", false);
    let read_only = flag(&mut issues, &w.read_only, "read_only", false);
    let wait_for_clock = flag(&mut issues, &w.wait_for_clock, "wait_for_clock", true);

    let restart = field(&mut issues, &w.restart, |n| policy::restart(n, "restart"))
        .unwrap_or(RestartPolicy::No);
    let stop_signal = field(&mut issues, &w.stop_signal, |n| {
        policy::stop_signal(n, "stop_signal")
    })
    .unwrap_or(15);
    let stop_grace_period = field(&mut issues, &w.stop_grace_period, |n| {
        super::units::duration(n, "stop_grace_period")
    })
    .unwrap_or(Duration::from_secs(10));
    let pull =
        field(&mut issues, &w.pull, |n| policy::pull(n, "pull")).unwrap_or(PullPolicy::Missing);
    let cap_add = field(&mut issues, &w.cap_add, |n| {
        capabilities::capabilities(n, "cap_add")
    })
    .unwrap_or_default();
    let cap_drop = field(&mut issues, &w.cap_drop, |n| {
        capabilities::capabilities(n, "cap_drop")
    })
    .unwrap_or_default();
    let devices =
        field(&mut issues, &w.devices, |n| mounts::devices(n, "devices")).unwrap_or_default();
    let sysctls = field(&mut issues, &w.sysctls, |n| {
        limits::sysctls(n, "sysctls", &network)
    })
    .unwrap_or_default();
    let ulimits =
        field(&mut issues, &w.ulimits, |n| limits::ulimits(n, "ulimits")).unwrap_or_default();
    let mem_limit = field(&mut issues, &w.mem_limit, |n| {
        limits::mem_limit(n, "mem_limit")
    });
    let cpus = field(&mut issues, &w.cpus, |n| limits::cpus(n, "cpus"));
    let pids_limit = field(&mut issues, &w.pids_limit, |n| {
        limits::pids_limit(n, "pids_limit")
    });
    let hostname = field(&mut issues, &w.hostname, |n| {
        let s = nonempty_text(n, "hostname", HOSTNAME)?;
        if !is_valid_hostname(&s) {
            return Err(Issue::value(
                at(n),
                "hostname",
                &s,
                "not a valid host name",
                HOSTNAME,
            ));
        }
        Ok(s)
    });

    let depends = field(&mut issues, &w.depends_on, |n| {
        health::depends_on(n, "depends_on")
    })
    .unwrap_or_default();
    for (dep, loc) in &depends {
        if dep.name == name {
            issues.push(Issue::value(
                *loc,
                "depends_on",
                &dep.name,
                "a container cannot depend on itself",
                health::DEPENDS_ON,
            ));
        }
    }
    let healthcheck = match &w.healthcheck {
        Some(h) => match health::healthcheck(h, "healthcheck") {
            Ok(h) => Some(h),
            Err(e) => {
                issues.push(e);
                None
            }
        },
        None => None,
    };

    if !issues.is_empty() {
        issues.sort_by_key(|i| (i.at.line(), i.at.column()));
        return Err(issues);
    }
    let (depends_on, depends_at) = depends.into_iter().unzip();
    Ok(Checked {
        manifest: Manifest {
            name,
            image,
            command,
            entrypoint,
            environment,
            working_dir,
            user,
            volumes: mounts.volumes,
            tmpfs: mounts.tmpfs,
            network,
            ports,
            tty,
            restart,
            stop_signal,
            stop_grace_period,
            pull,
            cap_add,
            cap_drop,
            privileged,
            read_only,
            devices,
            sysctls,
            ulimits,
            mem_limit,
            cpus,
            pids_limit,
            hostname,
            depends_on,
            healthcheck,
            wait_for_clock,
            source: source.to_path_buf(),
        },
        name_at,
        depends_at,
        network_at,
    })
}

/// Two mounts on the same container path: docker refuses ("duplicate mount point").
fn check_mount_targets(m: &Mounts, issues: &mut Vec<Issue>) {
    let targets: Vec<_> = m
        .volumes
        .iter()
        .map(|v| &v.target)
        .zip(&m.volume_at)
        .chain(m.tmpfs.iter().map(|t| &t.target).zip(&m.tmpfs_at))
        .collect();
    for (i, (target, (loc, path))) in targets.iter().enumerate() {
        if let Some((_, (first, first_path))) = targets[..i].iter().find(|(t, _)| t == target) {
            issues.push(Issue::new(
                *loc,
                path,
                &format!(
                    "{} is already mounted by {first_path} (line {})",
                    target.display(),
                    first.line()
                ),
                "each container path once",
            ));
        }
    }
}
