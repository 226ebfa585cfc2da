//! Facts about the device for the overview: kernel, uptime, slot, /perm
//! usage, addresses, and version/build time from /etc/paddock/build.json
//! (written by `paddock build`; absent on older images).

use std::path::Path;

use paddock_wire::build_info::BuildInfo;

use paddock_sys::addresses;

pub use paddock_wire::device::{Address, PermUsage, System};

pub fn gather(root: &Path) -> System {
    let build = BuildInfo::read(&root.join("etc/paddock/build.json"));
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    System {
        version: build.version,
        build_time: build.build_time,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string()),
        slot: slot(&cmdline),
        uptime_secs: std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|s| s.split('.').next().and_then(|n| n.trim().parse().ok())),
        addresses: addresses::private(0)
            .unwrap_or_default()
            .into_iter()
            .map(|a| Address {
                interface: a.interface,
                address: a.addr.ip().to_string(),
            })
            .collect(),
        perm: perm_usage(&root.join("perm")),
    }
}

/// `paddock.slot=a|b` from the kernel command line.
fn slot(cmdline: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("paddock.slot="))
        .map(String::from)
}

/// Usage of the file system mounted at `perm`; `None` when nothing is
/// mounted there (the numbers would be the root's).
fn perm_usage(perm: &Path) -> Option<PermUsage> {
    use std::os::unix::fs::MetadataExt;
    let own = std::fs::metadata(perm).ok()?;
    let parent = std::fs::metadata(perm.parent()?).ok()?;
    if own.dev() == parent.dev() {
        return None;
    }
    let st = nix::sys::statvfs::statvfs(perm).ok()?;
    let frsize = st.fragment_size();
    let total = st.blocks().saturating_mul(frsize);
    let free = st.blocks_free().saturating_mul(frsize);
    Some(PermUsage {
        total_bytes: total,
        used_bytes: total.saturating_sub(free),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_from_cmdline() {
        assert_eq!(
            slot("root=PARTUUID=x paddock.slot=b quiet"),
            Some("b".into())
        );
        assert_eq!(slot("root=/dev/vda2"), None);
    }

    #[test]
    fn perm_absent_or_not_a_mount() {
        let dir = tempfile::tempdir().unwrap();
        assert!(perm_usage(&dir.path().join("perm")).is_none());
        std::fs::create_dir(dir.path().join("perm")).unwrap();
        assert!(perm_usage(&dir.path().join("perm")).is_none());
    }
}
