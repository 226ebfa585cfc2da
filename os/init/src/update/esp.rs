//! The EFI system partition, mounted (vfat) only while an update step or
//! the probation needs it, so it is clean on disk whenever power goes.
//!
//! Several users may need it at once (the probation marking its entry good
//! while `paddock update` polls `/update/status`): the first mounts, later
//! ones share that mount, the last one out syncs and unmounts. A second
//! mount on the same place would fail with EBUSY.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use nix::mount::{MntFlags, MsFlags};

use super::error::UpdateError;

/// Where the ESP's files are.
#[derive(Debug, Clone)]
pub enum Esp {
    /// The GPT partition named `partname`, mounted at `mountpoint` on demand.
    Partition {
        partname: String,
        mountpoint: PathBuf,
    },
    /// An already present directory (tests on a host without vfat).
    Dir(PathBuf),
}

/// How many [`MountedEsp`]s use each mount point we mounted.
static USERS: Mutex<BTreeMap<PathBuf, usize>> = Mutex::new(BTreeMap::new());

fn users() -> MutexGuard<'static, BTreeMap<PathBuf, usize>> {
    // A panic elsewhere while holding it leaves the counts valid.
    USERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One user of a mount point: `mount` runs for the first, `unmount` after
/// the last is dropped.
struct Shared {
    mountpoint: PathBuf,
    unmount: fn(&Path),
}

impl Shared {
    fn acquire(
        mountpoint: &Path,
        mount: impl FnOnce() -> Result<(), UpdateError>,
        unmount: fn(&Path),
    ) -> Result<Self, UpdateError> {
        let mut counts = users();
        match counts.get_mut(mountpoint) {
            Some(n) => *n += 1,
            None => {
                mount()?;
                counts.insert(mountpoint.to_path_buf(), 1);
            }
        }
        Ok(Self {
            mountpoint: mountpoint.to_path_buf(),
            unmount,
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let mut counts = users();
        let last = match counts.get_mut(&self.mountpoint) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => true,
        };
        if last {
            counts.remove(&self.mountpoint);
            // Under the lock: nobody mounts it again half-way.
            (self.unmount)(&self.mountpoint);
        }
    }
}

fn unmount_esp(path: &Path) {
    nix::unistd::sync();
    if let Err(e) = nix::mount::umount2(path, MntFlags::empty()) {
        tracing::warn!("unmounting the ESP at {}: {e}", path.display());
    }
}

/// The mounted ESP; unmounted when the last user drops it.
pub struct MountedEsp {
    path: PathBuf,
    _shared: Option<Shared>,
}

impl MountedEsp {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Esp {
    /// Mounts the ESP (when it is a partition); `device` finds the partition.
    pub fn mount(
        &self,
        device: impl Fn(&str) -> Option<PathBuf>,
    ) -> Result<MountedEsp, UpdateError> {
        let (partname, mountpoint) = match self {
            Esp::Dir(dir) => {
                return Ok(MountedEsp {
                    path: dir.clone(),
                    _shared: None,
                })
            }
            Esp::Partition {
                partname,
                mountpoint,
            } => (partname, mountpoint),
        };
        let shared = Shared::acquire(
            mountpoint,
            || mount_vfat(partname, mountpoint, device),
            unmount_esp,
        )?;
        Ok(MountedEsp {
            path: mountpoint.clone(),
            _shared: Some(shared),
        })
    }
}

fn mount_vfat(
    partname: &str,
    mountpoint: &Path,
    device: impl Fn(&str) -> Option<PathBuf>,
) -> Result<(), UpdateError> {
    let dev = device(partname).ok_or_else(|| UpdateError::NoPartition(partname.to_string()))?;
    if let Err(e) = paddock_kmod::ensure_loaded(&["vfat"]) {
        tracing::warn!("{e}");
    }
    // The code page and character set named below (kernels differ in
    // their defaults: Debian's cloud kernel says "ascii").
    for nls in ["nls_cp437", "nls_iso8859_1"] {
        if let Err(e) = paddock_kmod::ensure_loaded(&[nls]) {
            tracing::debug!("{e}");
        }
    }
    std::fs::create_dir_all(mountpoint).map_err(UpdateError::io("creating", mountpoint))?;
    nix::mount::mount(
        Some(dev.as_path()),
        mountpoint,
        Some("vfat"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("codepage=437,iocharset=iso8859-1"),
    )
    .map_err(|e| {
        UpdateError::Mount(format!(
            "mount {} (vfat) at {}: {e}",
            dev.display(),
            mountpoint.display()
        ))
    })?;
    tracing::debug!(device = %dev.display(), "mounted the ESP at {}", mountpoint.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static UNMOUNTS: AtomicUsize = AtomicUsize::new(0);

    fn count_unmount(_: &Path) {
        UNMOUNTS.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn users_share_one_mount_and_the_last_unmounts() {
        let at = Path::new("/nonexistent/paddock-test-esp");
        let mounts = AtomicUsize::new(0);
        let mount = || {
            mounts.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        let a = Shared::acquire(at, mount, count_unmount).unwrap();
        let b = Shared::acquire(at, mount, count_unmount).unwrap();
        assert_eq!(mounts.load(Ordering::SeqCst), 1);
        drop(a);
        assert_eq!(UNMOUNTS.load(Ordering::SeqCst), 0, "b still uses it");
        drop(b);
        assert_eq!(UNMOUNTS.load(Ordering::SeqCst), 1);
        // Mounted again for the next user.
        let c = Shared::acquire(at, mount, count_unmount).unwrap();
        assert_eq!(mounts.load(Ordering::SeqCst), 2);
        drop(c);
        assert_eq!(UNMOUNTS.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_mount_leaves_no_user_behind() {
        let at = Path::new("/nonexistent/paddock-test-esp-failing");
        let failed = Shared::acquire(at, || Err(UpdateError::Mount("no".into())), count_unmount);
        assert!(failed.is_err());
        let mut mounted = false;
        let s = Shared::acquire(
            at,
            || {
                mounted = true;
                Ok(())
            },
            |_| {},
        )
        .unwrap();
        assert!(mounted, "the next user mounts it");
        drop(s);
    }
}
