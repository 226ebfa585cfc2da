//! One cgroup v2 per service (`/sys/fs/cgroup/services/NAME` on the device),
//! so a service's memory can be read from `memory.current` whatever it
//! forks; and the fallback when there is none: the VmRSS of the service's
//! process group from /proc. Every failure here is logged, never fatal.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;

/// Where service cgroups go on the device (cgroup2 is mounted at
/// /sys/fs/cgroup by stage 2).
pub const DEVICE_ROOT: &str = "/sys/fs/cgroup/services";

/// Makes `root` (a directory in a cgroup v2 hierarchy) ready to hold
/// service cgroups: created, and the `memory` controller enabled for it and
/// its children when the hierarchy offers it. `false` if it cannot be used.
pub fn prepare_root(root: &Path) -> bool {
    if let Err(e) = std::fs::create_dir_all(root) {
        tracing::warn!("service cgroups: create {}: {e}", root.display());
        return false;
    }
    if !root.join("cgroup.procs").exists() {
        tracing::warn!(
            "service cgroups: {} is not in a cgroup v2 hierarchy",
            root.display()
        );
        return false;
    }
    if let Some(parent) = root.parent() {
        enable_memory(parent);
    }
    enable_memory(root);
    true
}

/// `+memory` in `dir`'s subtree_control if `dir` has the controller.
fn enable_memory(dir: &Path) {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    if !available.split_whitespace().any(|c| c == "memory") {
        tracing::debug!("service cgroups: no memory controller in {}", dir.display());
        return;
    }
    let control = dir.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&control).unwrap_or_default();
    if enabled.split_whitespace().any(|c| c == "memory") {
        return;
    }
    if let Err(e) = std::fs::write(&control, "+memory") {
        tracing::warn!(
            "service cgroups: enable memory in {}: {e}",
            control.display()
        );
    }
}

/// The cgroup directory of service `name` under `root`.
pub fn service_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name)
}

/// Creates the service's cgroup and opens its `cgroup.procs` (close-on-exec)
/// for the child to write itself into before exec.
pub fn open_procs(dir: &Path) -> Option<File> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::warn!("service cgroup {}: {e}", dir.display());
        return None;
    }
    match OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
    {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!("service cgroup {}: open cgroup.procs: {e}", dir.display());
            None
        }
    }
}

/// Whether `pid` is in the cgroup `dir` (checked after spawning, since the
/// child cannot report a failed move).
pub fn contains(dir: &Path, pid: Pid) -> bool {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|procs| procs.lines().any(|l| l.trim() == pid.as_raw().to_string()))
        .unwrap_or(false)
}

/// Moves `pid` into the cgroup (the parent's fallback when the child could
/// not do it itself).
pub fn move_into(dir: &Path, pid: Pid) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))?;
    f.write_all(pid.as_raw().to_string().as_bytes())
}

/// The service's memory: `memory.current` of its cgroup when there is one
/// with the memory controller, else the summed VmRSS of its process group.
pub fn memory_bytes(dir: Option<&Path>, pgid: Option<Pid>) -> Option<u64> {
    if let Some(dir) = dir {
        if let Some(v) = std::fs::read_to_string(dir.join("memory.current"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Some(v);
        }
    }
    pgid.and_then(group_rss)
}

/// Sum of VmRSS over the processes whose process group is `pgid`.
pub fn group_rss(pgid: Pid) -> Option<u64> {
    let mut total = 0u64;
    let mut found = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if stat_pgrp(&stat) != Some(pgid.as_raw()) {
            continue;
        }
        found = true;
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            total += vm_rss(&status).unwrap_or(0);
        }
    }
    found.then_some(total)
}

/// The process group from a `/proc/PID/stat` line (fields after the
/// parenthesised command name: state ppid pgrp …).
fn stat_pgrp(stat: &str) -> Option<i32> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(2)?.parse().ok()
}

/// `VmRSS:  1234 kB` from `/proc/PID/status`, in bytes.
fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(stat_pgrp("42 (a (b) c) S 1 40 40 0 -1 4194560 …"), Some(40));
        assert_eq!(vm_rss("Name:\tsh\nVmRSS:\t    1500 kB\n"), Some(1_536_000));
        assert_eq!(vm_rss("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn own_group_has_memory() {
        let pgid = nix::unistd::getpgrp();
        assert!(group_rss(pgid).unwrap() > 0);
    }
}
