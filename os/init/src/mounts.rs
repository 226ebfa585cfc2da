//! Mounting helpers for the boot stages: create the mount point, skip what
//! is already mounted, and say which mount failed.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Context;
use nix::mount::MsFlags;

/// Whether `path` is a mount point (its device differs from its parent's).
pub fn is_mountpoint(path: &Path) -> bool {
    match (std::fs::metadata(path), std::fs::metadata(path.join(".."))) {
        (Ok(a), Ok(b)) => a.dev() != b.dev() || a.ino() == b.ino(),
        _ => false,
    }
}

/// Mounts `fstype` at `target` unless something is mounted there already.
pub fn mount(
    source: &str,
    target: &str,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> anyhow::Result<()> {
    let target = Path::new(target);
    if is_mountpoint(target) {
        tracing::debug!(target = %target.display(), "already mounted");
        return Ok(());
    }
    std::fs::create_dir_all(target)
        .with_context(|| format!("create mount point {}", target.display()))?;
    nix::mount::mount(Some(source), target, Some(fstype), flags, data)
        .with_context(|| format!("mount {fstype} {source} on {}", target.display()))
}

/// Mounts each of a list, logging failures and carrying on (a missing
/// /dev/shm must not keep the device from booting).
pub fn mount_all(list: &[(&str, &str, &str, MsFlags, Option<&str>)]) {
    for (source, target, fstype, flags, data) in list {
        if let Err(e) = mount(source, target, fstype, *flags, *data) {
            tracing::warn!("{e:#}");
        }
    }
}

pub fn nosuid_nodev_noexec() -> MsFlags {
    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
}
