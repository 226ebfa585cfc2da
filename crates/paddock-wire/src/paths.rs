//! Where paddock keeps things on the device.
//!
//! Every path is relative to a root prefix (`/` on the device, a temporary
//! directory in tests and the host demo: `paddockd --root DIR`), so nothing
//! outside that prefix is ever touched while testing.

use std::path::{Path, PathBuf};

/// `/etc/paddock/update.pub`'s file name: the update key the device trusts.
pub const UPDATE_KEY_FILE: &str = "update.pub";

/// `/perm/paddock/update/marked-good.json`: the highest generation this
/// device marked good (the anti-rollback floor kept across slots).
pub const MARKED_GOOD_FILE: &str = "paddock/update/marked-good.json";

/// The filesystem layout of one paddock instance under a root prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    root: PathBuf,
}

impl Paths {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The prefix itself (`/` on the device).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn under(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `/etc/paddock`: daemon and registry settings.
    pub fn etc(&self) -> PathBuf {
        self.under("etc/paddock")
    }

    /// `/etc/paddock/paddockd.yaml`.
    pub fn daemon_config(&self) -> PathBuf {
        self.etc().join("paddockd.yaml")
    }

    /// `/etc/paddock/registries.yaml`.
    pub fn registries_config(&self) -> PathBuf {
        self.etc().join("registries.yaml")
    }

    /// `/etc/paddock/containers`: one manifest per container.
    pub fn manifests(&self) -> PathBuf {
        self.etc().join("containers")
    }

    /// `/perm`: the persistent partition.
    pub fn perm(&self) -> PathBuf {
        self.under("perm")
    }

    /// `/perm/container-storage`: bind-mounted at `/var`.
    pub fn container_storage(&self) -> PathBuf {
        self.perm().join("container-storage")
    }

    /// `/var`.
    pub fn var(&self) -> PathBuf {
        self.under("var")
    }

    /// `/var/lib/paddock`: the image store and per-container state that
    /// survives a reboot.
    pub fn store(&self) -> PathBuf {
        self.var().join("lib/paddock")
    }

    /// `/var/lib/paddock/containers/<name>`: a container's bundle
    /// (config.json, rootfs mount point, overlay upper and work directories).
    pub fn container_dir(&self, name: &str) -> PathBuf {
        self.store().join("containers").join(name)
    }

    /// `/var/log/paddock/<name>`: a container's size-rotated log files.
    pub fn log_dir(&self, name: &str) -> PathBuf {
        self.var().join("log/paddock").join(name)
    }

    /// `/run`: runtime state, gone after a reboot.
    pub fn run(&self) -> PathBuf {
        self.under("run")
    }

    /// `/usr/share/paddock/preload`: image archives built into the
    /// appliance image.
    pub fn preload(&self) -> PathBuf {
        self.under("usr/share/paddock/preload")
    }

    /// `/run/paddock`.
    pub fn run_paddock(&self) -> PathBuf {
        self.run().join("paddock")
    }

    /// `/run/paddock/paddockd.sock`: the local HTTP/JSON API.
    pub fn api_socket(&self) -> PathBuf {
        self.run_paddock().join("paddockd.sock")
    }

    /// `/run/paddock/runner`: `paddock-runner --root` (libcontainer's state).
    pub fn runner_root(&self) -> PathBuf {
        self.run_paddock().join("runner")
    }

    /// `/run/paddock/monitors/<name>`: a running container's monitor
    /// (status.json, monitor.sock).
    pub fn monitor_dir(&self, name: &str) -> PathBuf {
        self.run_paddock().join("monitors").join(name)
    }

    /// The marker file an NTP client writes once the clock is synced.
    pub fn clock_synced_marker(&self) -> PathBuf {
        self.run().join("paddock/clock-synced")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_lives_under_the_root() {
        let p = Paths::new("/tmp/x");
        assert_eq!(
            p.manifests(),
            PathBuf::from("/tmp/x/etc/paddock/containers")
        );
        assert_eq!(p.store(), PathBuf::from("/tmp/x/var/lib/paddock"));
        assert_eq!(
            p.api_socket(),
            PathBuf::from("/tmp/x/run/paddock/paddockd.sock")
        );
        assert_eq!(p.log_dir("a"), PathBuf::from("/tmp/x/var/log/paddock/a"));
    }
}
