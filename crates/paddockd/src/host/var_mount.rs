//! `/var` on the persistent partition.
//!
//! The root filesystem is a read-only SquashFS, so container storage lives on
//! /perm. As the seed's podman wrapper did, paddockd bind-mounts
//! `/perm/container-storage` at `/var`, unless something is mounted there
//! already (a tmpfs the user chose, or a previous paddockd's bind mount).

use std::path::PathBuf;

use nix::mount::{mount, MsFlags};

use super::mountinfo;
use crate::paths::Paths;

#[derive(Debug, thiserror::Error)]
pub enum VarMountError {
    #[error("creating {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading /proc/self/mountinfo: {0}")]
    MountInfo(std::io::Error),
    #[error("bind-mounting {from} at {to}: {source}")]
    Bind {
        from: PathBuf,
        to: PathBuf,
        source: nix::Error,
    },
}

/// What [`ensure_var_mount`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarMount {
    AlreadyMounted,
    BindMounted,
}

/// Makes `<root>/var` the bind mount of `<root>/perm/container-storage`.
pub fn ensure_var_mount(paths: &Paths) -> Result<VarMount, VarMountError> {
    let var = paths.var();
    let storage = paths.container_storage();
    for dir in [&var, &storage] {
        std::fs::create_dir_all(dir).map_err(|source| VarMountError::Create {
            path: dir.clone(),
            source,
        })?;
    }
    let var = var.canonicalize().map_err(|source| VarMountError::Create {
        path: var.clone(),
        source,
    })?;
    if mountinfo::is_mount_point(&var).map_err(VarMountError::MountInfo)? {
        tracing::info!(path = %var.display(), "already a mount point, leaving it alone");
        return Ok(VarMount::AlreadyMounted);
    }
    mount(
        Some(&storage),
        &var,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|source| VarMountError::Bind {
        from: storage.clone(),
        to: var.clone(),
        source,
    })?;
    tracing::info!(from = %storage.display(), to = %var.display(), "bind-mounted container storage");
    Ok(VarMount::BindMounted)
}
