//! The EFI system partition, mounted (vfat) only while an update step or
//! the probation needs it, so it is clean on disk whenever power goes.

use std::path::{Path, PathBuf};

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

/// The mounted ESP; unmounted on drop.
pub struct MountedEsp {
    path: PathBuf,
    mounted: bool,
}

impl MountedEsp {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MountedEsp {
    fn drop(&mut self) {
        if self.mounted {
            nix::unistd::sync();
            if let Err(e) = nix::mount::umount2(&self.path, MntFlags::empty()) {
                tracing::warn!("unmounting the ESP at {}: {e}", self.path.display());
            }
        }
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
                    mounted: false,
                })
            }
            Esp::Partition {
                partname,
                mountpoint,
            } => (partname, mountpoint),
        };
        let dev = device(partname).ok_or_else(|| UpdateError::NoPartition(partname.clone()))?;
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
            mountpoint.as_path(),
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
        Ok(MountedEsp {
            path: mountpoint.clone(),
            mounted: true,
        })
    }
}
