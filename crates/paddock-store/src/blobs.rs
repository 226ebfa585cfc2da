//! The content-addressed blob directory, `<store>/blobs/sha256/<hex>`.
//!
//! A blob is only ever renamed into place after its bytes were hashed and
//! matched its digest, so a file here is always what its name says.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::digest::{Digest, DigestError, Hasher};
use super::fsutil::{fsync_dir, temp_prefix};
use paddock_sys::fs::{write_atomic, PRIVATE};

/// Errors from the blob directory.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {digest}: {source}")]
    Io { digest: Digest, source: io::Error },
    #[error(transparent)]
    Digest(#[from] DigestError),
}

#[derive(Debug, Clone)]
pub(crate) struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    pub(crate) fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    pub(crate) fn read(&self, digest: &Digest) -> Result<Vec<u8>, BlobError> {
        fs::read(self.path(digest)).map_err(|source| BlobError::Io {
            digest: digest.clone(),
            source,
        })
    }

    /// Stores `data` under `digest` after checking that it hashes to it.
    pub(crate) fn put(&self, digest: &Digest, data: &[u8], what: &str) -> Result<(), BlobError> {
        digest.verify(&Digest::of(data), what)?;
        if self.contains(digest) {
            return Ok(());
        }
        write_atomic(&self.path(digest), data, PRIVATE).map_err(|source| BlobError::Io {
            digest: digest.clone(),
            source,
        })
    }

    /// A temp file for streaming a blob in; see [`BlobWriter::commit`].
    pub(crate) fn writer(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<BlobWriter, BlobError> {
        let io_err = |source| BlobError::Io {
            digest: digest.clone(),
            source,
        };
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix())
            .tempfile_in(&self.dir)
            .map_err(io_err)?;
        Ok(BlobWriter {
            tmp,
            hasher: Hasher::default(),
            digest: digest.clone(),
            size,
            dir: self.dir.clone(),
        })
    }

    /// Every blob digest present (temp files are skipped).
    pub(crate) fn list(&self) -> io::Result<Vec<Digest>> {
        Digest::list_dir(&self.dir)
    }

    /// Removes a blob; returns its size.
    pub(crate) fn remove(&self, digest: &Digest) -> io::Result<u64> {
        let path = self.path(digest);
        let size = fs::metadata(&path)?.len();
        fs::remove_file(&path)?;
        Ok(size)
    }
}

/// A blob being written; dropped without [`commit`](Self::commit) it
/// vanishes.
pub(crate) struct BlobWriter {
    tmp: tempfile::NamedTempFile,
    hasher: Hasher,
    digest: Digest,
    size: Option<u64>,
    dir: PathBuf,
}

impl BlobWriter {
    /// Appends bytes; fails early once more arrive than the descriptor said.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), BlobError> {
        self.hasher.update(data);
        if let Some(size) = self.size {
            if self.hasher.len() > size {
                return Err(DigestError::Size {
                    what: format!("blob {}", self.digest),
                    expected: size,
                    actual: self.hasher.len(),
                }
                .into());
            }
        }
        self.tmp.write_all(data).map_err(|source| BlobError::Io {
            digest: self.digest.clone(),
            source,
        })
    }

    /// Verifies size and digest, then fsyncs and renames into place.
    #[cfg(test)]
    pub(crate) fn commit(self) -> Result<u64, BlobError> {
        self.verify()?.persist()
    }

    /// Verifies size and digest without committing yet.
    pub(crate) fn verify(self) -> Result<VerifiedBlob, BlobError> {
        let what = format!("blob {}", self.digest);
        let len = self.hasher.len();
        if let Some(size) = self.size {
            if len != size {
                return Err(DigestError::Size {
                    what,
                    expected: size,
                    actual: len,
                }
                .into());
            }
        }
        self.digest.verify(&self.hasher.finish(), &what)?;
        Ok(VerifiedBlob {
            tmp: self.tmp,
            digest: self.digest,
            dir: self.dir,
            len,
        })
    }
}

/// A blob whose bytes matched its digest, still in its temp file.
pub(crate) struct VerifiedBlob {
    tmp: tempfile::NamedTempFile,
    digest: Digest,
    dir: PathBuf,
    len: u64,
}

impl VerifiedBlob {
    /// fsyncs and renames into place; returns the size.
    pub(crate) fn persist(self) -> Result<u64, BlobError> {
        let io_err = |source| BlobError::Io {
            digest: self.digest.clone(),
            source,
        };
        self.tmp.as_file().sync_all().map_err(io_err)?;
        let dest = self.dir.join(self.digest.hex());
        self.tmp.persist(&dest).map_err(|e| io_err(e.error))?;
        fsync_dir(&self.dir).map_err(io_err)?;
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_verifies_before_commit() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path().to_path_buf());
        let good = Digest::of(b"abc");
        let mut w = blobs.writer(&good, Some(3)).unwrap();
        w.write(b"abc").unwrap();
        w.commit().unwrap();
        assert!(blobs.contains(&good));

        let bad = Digest::of(b"xyz");
        let mut w = blobs.writer(&bad, Some(3)).unwrap();
        w.write(b"abc").unwrap();
        assert!(matches!(
            w.commit(),
            Err(BlobError::Digest(DigestError::Mismatch { .. }))
        ));
        assert!(!blobs.contains(&bad));
        let mut w = blobs.writer(&bad, Some(2)).unwrap();
        assert!(w.write(b"abc").is_err());
        drop(w);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
        assert_eq!(blobs.list().unwrap(), vec![good]);
    }
}
