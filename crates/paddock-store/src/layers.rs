//! Unpacked layers, `<store>/layers/<diff_id hex>`: each layer is unpacked
//! once into a temp dir beside its final place and renamed there only after
//! the whole tar was accepted and its diff_id matched.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::digest::{Digest, DigestError};
use super::fsutil::{fsync_dir, temp_prefix};
use super::unpack::{unpack_layer, UnpackError, UnpackOptions};

/// Errors from the layer directory.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {diff_id}: {source}")]
    Unpack {
        diff_id: Digest,
        source: UnpackError,
    },
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("layer {diff_id}: {context}: {source}")]
    Io {
        diff_id: Digest,
        context: &'static str,
        source: io::Error,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Layers {
    dir: PathBuf,
}

/// A layer unpacked into a temp dir, its diff_id verified, not yet in place.
pub(crate) struct Unpacked {
    tmp: TempDir,
    diff_id: Digest,
}

impl Layers {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn path(&self, diff_id: &Digest) -> PathBuf {
        self.dir.join(diff_id.hex())
    }

    pub(crate) fn contains(&self, diff_id: &Digest) -> bool {
        self.path(diff_id).is_dir()
    }

    /// Unpacks a layer blob (any compression) into a temp dir and checks its
    /// diff_id. On any error the temp dir is removed.
    pub(crate) fn unpack<R: Read>(
        &self,
        blob: R,
        diff_id: &Digest,
        opts: &UnpackOptions,
    ) -> Result<Unpacked, LayerError> {
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix())
            .tempdir_in(&self.dir)
            .map_err(|source| LayerError::Io {
                diff_id: diff_id.clone(),
                context: "create temp dir",
                source,
            })?;
        let (actual, _len) =
            unpack_layer(blob, tmp.path(), opts).map_err(|source| LayerError::Unpack {
                diff_id: diff_id.clone(),
                source,
            })?;
        diff_id.verify(&actual, &format!("layer diff_id {diff_id}"))?;
        Ok(Unpacked {
            tmp,
            diff_id: diff_id.clone(),
        })
    }

    /// Makes an unpacked layer durable and renames it into place; if another
    /// pull got there first, ours is dropped.
    pub(crate) fn commit(&self, unpacked: Unpacked) -> Result<(), LayerError> {
        let diff_id = unpacked.diff_id.clone();
        let io_err = |context, source| LayerError::Io {
            diff_id: diff_id.clone(),
            context,
            source,
        };
        let dir = fs::File::open(unpacked.tmp.path()).map_err(|e| io_err("open", e))?;
        rustix::fs::syncfs(&dir).map_err(|e| io_err("syncfs", e.into()))?;
        let dest = self.path(&diff_id);
        match fs::rename(unpacked.tmp.path(), &dest) {
            Ok(()) => {
                // Renamed away: nothing left for TempDir to remove.
                let _ = unpacked.tmp.keep();
            }
            Err(_) if dest.is_dir() => {
                // Already there (a concurrent pull of another blob with the
                // same diff_id); `unpacked.tmp` is removed on drop.
            }
            Err(e) => return Err(io_err("rename into place", e)),
        }
        fsync_dir(&self.dir).map_err(|e| io_err("fsync", e))
    }

    /// Every unpacked layer present (temp dirs skipped).
    pub(crate) fn list(&self) -> io::Result<Vec<Digest>> {
        Digest::list_dir(&self.dir)
    }

    /// Removes an unpacked layer.
    pub(crate) fn remove(&self, diff_id: &Digest) -> io::Result<()> {
        fs::remove_dir_all(self.path(diff_id))
    }
}
