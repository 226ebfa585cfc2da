//! A container's root filesystem: overlayfs with the image's unpacked
//! layers as lower dirs (top first, see [`super::Store::lower_dirs`]) and a
//! per-container upper and work dir.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

/// Errors mounting or unmounting a rootfs.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("overlay needs at least one lower dir")]
    NoLowers,
    #[error("path {0} contains ',' or ':' which overlayfs options cannot carry")]
    BadPath(PathBuf),
    /// The kernel takes at most one page of mount options; an image with
    /// very many layers (or a long store path) does not fit.
    #[error(
        "overlay mount options are {len} bytes, over the kernel's {limit}-byte limit \
         ({layers} layers); use a shorter store path or an image with fewer layers"
    )]
    TooLong {
        len: usize,
        limit: usize,
        layers: usize,
    },
    #[error("mount overlay on {target}: {source}")]
    Mount { target: PathBuf, source: nix::Error },
    #[error("unmount {target}: {source}")]
    Unmount { target: PathBuf, source: nix::Error },
}

/// The limit on mount data (one page).
const OPTIONS_LIMIT: usize = 4096 - 1;

fn check(p: &Path) -> Result<&str, OverlayError> {
    match p.to_str() {
        Some(s) if !s.contains(',') && !s.contains(':') => Ok(s),
        _ => Err(OverlayError::BadPath(p.to_path_buf())),
    }
}

/// The `-o` string for overlayfs.
pub fn overlay_options(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
) -> Result<String, OverlayError> {
    if lowers.is_empty() {
        return Err(OverlayError::NoLowers);
    }
    let lower = lowers
        .iter()
        .map(|p| check(p))
        .collect::<Result<Vec<_>, _>>()?
        .join(":");
    let opts = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        check(upper)?,
        check(work)?
    );
    if opts.len() > OPTIONS_LIMIT {
        return Err(OverlayError::TooLong {
            len: opts.len(),
            limit: OPTIONS_LIMIT,
            layers: lowers.len(),
        });
    }
    Ok(opts)
}

/// Mounts overlayfs at `target` (lowers top first; upper and work must be
/// empty dirs on one filesystem).
pub fn mount_rootfs(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), OverlayError> {
    let opts = overlay_options(lowers, upper, work)?;
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    )
    .map_err(|source| OverlayError::Mount {
        target: target.to_path_buf(),
        source,
    })
}

/// Unmounts a rootfs mounted by [`mount_rootfs`].
pub fn unmount_rootfs(target: &Path) -> Result<(), OverlayError> {
    nix::mount::umount2(target, MntFlags::empty()).map_err(|source| OverlayError::Unmount {
        target: target.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_limits() {
        let l = vec![PathBuf::from("/s/l/b"), PathBuf::from("/s/l/a")];
        assert_eq!(
            overlay_options(&l, Path::new("/c/u"), Path::new("/c/w")).unwrap(),
            "lowerdir=/s/l/b:/s/l/a,upperdir=/c/u,workdir=/c/w"
        );
        assert!(matches!(
            overlay_options(&[PathBuf::from("/a:b")], Path::new("/u"), Path::new("/w")),
            Err(OverlayError::BadPath(_))
        ));
        let many: Vec<PathBuf> = (0..100)
            .map(|i| PathBuf::from(format!("/var/lib/paddock/layers/{:064}", i)))
            .collect();
        assert!(matches!(
            overlay_options(&many, Path::new("/u"), Path::new("/w")),
            Err(OverlayError::TooLong { layers: 100, .. })
        ));
    }
}
