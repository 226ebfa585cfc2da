//! Capabilities and the /proc and /sys paths a container must not see or
//! change: docker's defaults, adjusted by `cap_add`, `cap_drop` and
//! `privileged`.

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, LinuxCapabilitiesBuilder};

use super::SpecError;
use crate::manifest::{CapabilityName, Manifest};

/// Every capability with its number (linux/capability.h).
pub(crate) const ALL_CAPABILITIES: [(Capability, u8); 41] = [
    (Capability::Chown, 0),
    (Capability::DacOverride, 1),
    (Capability::DacReadSearch, 2),
    (Capability::Fowner, 3),
    (Capability::Fsetid, 4),
    (Capability::Kill, 5),
    (Capability::Setgid, 6),
    (Capability::Setuid, 7),
    (Capability::Setpcap, 8),
    (Capability::LinuxImmutable, 9),
    (Capability::NetBindService, 10),
    (Capability::NetBroadcast, 11),
    (Capability::NetAdmin, 12),
    (Capability::NetRaw, 13),
    (Capability::IpcLock, 14),
    (Capability::IpcOwner, 15),
    (Capability::SysModule, 16),
    (Capability::SysRawio, 17),
    (Capability::SysChroot, 18),
    (Capability::SysPtrace, 19),
    (Capability::SysPacct, 20),
    (Capability::SysAdmin, 21),
    (Capability::SysBoot, 22),
    (Capability::SysNice, 23),
    (Capability::SysResource, 24),
    (Capability::SysTime, 25),
    (Capability::SysTtyConfig, 26),
    (Capability::Mknod, 27),
    (Capability::Lease, 28),
    (Capability::AuditWrite, 29),
    (Capability::AuditControl, 30),
    (Capability::Setfcap, 31),
    (Capability::MacOverride, 32),
    (Capability::MacAdmin, 33),
    (Capability::Syslog, 34),
    (Capability::WakeAlarm, 35),
    (Capability::BlockSuspend, 36),
    (Capability::AuditRead, 37),
    (Capability::Perfmon, 38),
    (Capability::Bpf, 39),
    (Capability::CheckpointRestore, 40),
];

/// Docker's default capability set.
pub(crate) const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Docker's masked paths: bind-mounted over with /dev/null or an empty
/// read-only tmpfs.
pub(crate) const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub(crate) const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The capabilities this kernel knows: "ALL" must not name one it does not
/// (the runtime would fail to set it).
fn known_capabilities() -> Vec<Capability> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .unwrap_or(u8::MAX);
    // Only what we can hand on: a sandboxed paddockd (seen: a VM whose root
    // lacks CAP_SYS_RESOURCE) would otherwise fail every privileged start
    // with EPERM from capset.
    let ours = own_bounding_set();
    ALL_CAPABILITIES
        .iter()
        .filter(|(_, n)| *n <= last && ours.is_none_or(|set| set & (1u64 << n) != 0))
        .map(|(c, _)| *c)
        .collect()
}

/// This process's capability bounding set, from /proc/self/status.
fn own_bounding_set() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapBnd:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// The container's capabilities, in capability-number order, computed as
/// docker's `TweakCapabilities` does: `cap_add: [ALL]` starts from every
/// capability, `cap_drop: [ALL]` from none; otherwise the defaults minus
/// `cap_drop` plus `cap_add` (an added capability wins over a dropped one).
pub(crate) fn capability_list(m: &Manifest) -> Vec<Capability> {
    let known = known_capabilities();
    if m.privileged {
        return known;
    }
    let named = |list: &[CapabilityName]| -> Vec<Capability> {
        list.iter()
            .filter_map(|c| match c {
                CapabilityName::Cap(c) => Some(*c),
                CapabilityName::All => None,
            })
            .collect()
    };
    let (add, drop) = (named(&m.cap_add), named(&m.cap_drop));
    let mut caps: Vec<Capability> = if m.cap_add.contains(&CapabilityName::All) {
        known
            .iter()
            .copied()
            .filter(|c| !drop.contains(c))
            .collect()
    } else if m.cap_drop.contains(&CapabilityName::All) {
        add
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .copied()
            .filter(|c| !drop.contains(c))
            .chain(add)
            .collect()
    };
    caps.sort_by_key(number);
    caps.dedup();
    caps
}

fn number(c: &Capability) -> u8 {
    ALL_CAPABILITIES
        .iter()
        .find(|(cap, _)| cap == c)
        .map(|(_, n)| *n)
        .unwrap_or(u8::MAX)
}

/// Bounding, effective and permitted sets as docker sets them; inheritable
/// and ambient stay empty (docker ≥ 20.10, CVE-2022-24769).
pub(crate) fn capabilities(caps: &[Capability]) -> Result<LinuxCapabilities, SpecError> {
    let set: Capabilities = caps.iter().copied().collect();
    Ok(LinuxCapabilitiesBuilder::default()
        .bounding(set.clone())
        .effective(set.clone())
        .permitted(set)
        .inheritable(Capabilities::new())
        .ambient(Capabilities::new())
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::load_str;
    use std::path::Path;

    fn caps(yaml: &str) -> Vec<Capability> {
        let m = load_str(&format!("image: a\n{yaml}"), Path::new("t.yaml")).unwrap();
        capability_list(&m)
    }

    fn sorted(mut v: Vec<Capability>) -> Vec<Capability> {
        v.sort_by_key(number);
        v
    }

    #[test]
    fn defaults() {
        assert_eq!(caps(""), sorted(DEFAULT_CAPABILITIES.to_vec()));
    }

    #[test]
    fn add_and_drop() {
        let got = caps("cap_add: [NET_ADMIN, CAP_SYS_TIME]\ncap_drop: [MKNOD, NET_RAW]\n");
        let mut want: Vec<_> = DEFAULT_CAPABILITIES
            .iter()
            .copied()
            .filter(|c| !matches!(c, Capability::Mknod | Capability::NetRaw))
            .collect();
        want.extend([Capability::NetAdmin, Capability::SysTime]);
        assert_eq!(got, sorted(want));
    }

    #[test]
    fn added_wins_over_dropped() {
        assert!(caps("cap_add: [CHOWN]\ncap_drop: [CHOWN]\n").contains(&Capability::Chown));
    }

    #[test]
    fn drop_all_keeps_only_added() {
        assert_eq!(
            caps("cap_drop: [ALL]\ncap_add: [NET_BIND_SERVICE, CHOWN]\n"),
            vec![Capability::Chown, Capability::NetBindService]
        );
        assert_eq!(caps("cap_drop: [ALL]\n"), vec![]);
    }

    #[test]
    fn add_all_minus_dropped() {
        let got = caps("cap_add: [ALL]\ncap_drop: [SYS_ADMIN]\n");
        assert!(!got.contains(&Capability::SysAdmin));
        assert_eq!(got.len(), known_capabilities().len() - 1);
    }

    #[test]
    fn privileged_gets_everything_the_kernel_knows() {
        let got = caps("privileged: true\ncap_drop: [ALL]\n");
        assert_eq!(got, known_capabilities());
        assert!(got.len() >= 38, "kernel knows {} capabilities", got.len());
    }
}
