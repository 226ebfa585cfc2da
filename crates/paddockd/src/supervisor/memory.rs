//! A running container's memory use, read from its cgroup at the moment
//! the status is asked for: cgroup v2 `memory.current`, or cgroup v1
//! `memory.usage_in_bytes`. The cgroup is found from the container's init
//! process (`/proc/PID/cgroup`) and the cgroup mounts in
//! `/proc/self/mountinfo`, so it works whatever path the runtime chose.

use std::path::PathBuf;

/// Bytes of memory the cgroup of process `pid` uses, if it can be read.
pub fn of_process(pid: i32) -> Option<u64> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    for file in candidates(&cgroups, &mountinfo) {
        if let Some(v) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Some(v);
        }
    }
    None
}

/// The files that may hold the number, best first: v1's memory controller
/// (where a hybrid host keeps memory), then v2's `memory.current`.
fn candidates(cgroups: &str, mountinfo: &str) -> Vec<PathBuf> {
    let mounts: Vec<Mount> = mountinfo.lines().filter_map(Mount::parse).collect();
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            for m in mounts.iter().filter(|m| m.fstype == "cgroup2") {
                if let Some(dir) = m.dir_for(path) {
                    v2.push(dir.join("memory.current"));
                }
            }
        } else if controllers.split(',').any(|c| c == "memory") {
            for m in mounts
                .iter()
                .filter(|m| m.fstype == "cgroup" && m.options.split(',').any(|o| o == "memory"))
            {
                if let Some(dir) = m.dir_for(path) {
                    v1.push(dir.join("memory.usage_in_bytes"));
                }
            }
        }
    }
    v1.extend(v2);
    v1
}

/// One line of /proc/self/mountinfo, the fields this needs.
struct Mount {
    /// The path within the filesystem that is mounted (field 4).
    root: String,
    mount_point: PathBuf,
    fstype: String,
    /// Super-block options (the controllers of a v1 cgroup mount).
    options: String,
}

impl Mount {
    fn parse(line: &str) -> Option<Self> {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        Some(Self {
            root: unescape(left.get(3)?),
            mount_point: PathBuf::from(unescape(left.get(4)?)),
            fstype: right.first()?.to_string(),
            options: right.get(2).unwrap_or(&"").to_string(),
        })
    }

    /// Where cgroup `path` (as /proc/PID/cgroup names it) is under this mount.
    fn dir_for(&self, path: &str) -> Option<PathBuf> {
        let rel = if self.root == "/" {
            path
        } else {
            path.strip_prefix(self.root.as_str())?
        };
        Some(self.mount_point.join(rel.trim_start_matches('/')))
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\OOO`.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
36 30 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
37 30 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
";

    #[test]
    fn hybrid_prefers_the_v1_memory_controller() {
        let cg = "5:memory:/paddock/web\n4:pids:/paddock/web\n0::/paddock/web\n";
        assert_eq!(
            candidates(cg, HYBRID),
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/paddock/web/memory.usage_in_bytes"),
                PathBuf::from("/sys/fs/cgroup/unified/paddock/web/memory.current"),
            ]
        );
    }

    #[test]
    fn pure_v2() {
        let mi = "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            candidates("0::/paddock/web\n", mi),
            vec![PathBuf::from("/sys/fs/cgroup/paddock/web/memory.current")]
        );
        // A mount of a sub-tree only sees what is below its root.
        let mi = "30 25 0:26 /services /mnt/cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            candidates("0::/services/x\n0::/other\n", mi),
            vec![PathBuf::from("/mnt/cg/x/memory.current")]
        );
    }

    #[test]
    fn this_process_has_a_number() {
        // Every test host has some cgroup with memory accounting… unless
        // the memory controller is absent altogether; then None is right.
        let v = of_process(std::process::id() as i32);
        if let Some(v) = v {
            assert!(v > 0);
        }
    }
}
