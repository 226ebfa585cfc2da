//! Image records, `<store>/images/<sha256(reference)>.json`: what a
//! reference resolved to when it was pulled, and which blobs and layers it
//! needs. Written atomically; a record is written last, after everything it
//! names is committed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::fsutil::is_temp_name;
use super::platform::Platform;
use super::reference::{ImageRef, ReferenceError};
use crate::oci_reference;
use paddock_sys::fs::{write_atomic, PRIVATE};

/// Errors reading or writing image records.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image record {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("image record {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Digest of the blob as stored (compressed).
    pub digest: Digest,
    /// Digest of the uncompressed tar; names the unpacked dir.
    pub diff_id: Digest,
    /// Blob size in bytes.
    pub size: u64,
    pub media_type: String,
}

/// A pulled (or imported) image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Normalised reference, e.g. `docker.io/library/busybox:latest`.
    pub reference: String,
    pub manifest_digest: Digest,
    /// The index (manifest list) the manifest was chosen from, if any.
    #[serde(default)]
    pub index_digest: Option<Digest>,
    pub config_digest: Digest,
    /// Bottom layer first, as in the manifest.
    pub layers: Vec<LayerRecord>,
    pub platform: Platform,
    pub pulled_at: DateTime<Utc>,
    /// Sum of the layer blob sizes.
    pub size: u64,
}

impl ImageRecord {
    /// The layers' diff_ids, bottom first.
    pub fn diff_ids(&self) -> Vec<&Digest> {
        self.layers.iter().map(|l| &l.diff_id).collect()
    }

    /// Every blob this image needs kept.
    pub fn blobs(&self) -> Vec<&Digest> {
        let mut v = vec![&self.manifest_digest, &self.config_digest];
        v.extend(self.index_digest.as_ref());
        v.extend(self.layers.iter().map(|l| &l.digest));
        v
    }
}

/// Normalises a reference the docker way: `busybox` →
/// `docker.io/library/busybox:latest`; `localhost:5000/x` stays.
pub fn normalize_reference(reference: &str) -> Result<String, ImageError> {
    Ok(ImageRef::parse(reference)?.to_string())
}

/// Parses `reference` for oci-client without its regex parser (see
/// [`super::reference`]).
pub(crate) fn parse_reference(reference: &str) -> Result<oci_client::Reference, ImageError> {
    Ok(oci_reference(&ImageRef::parse(reference)?))
}

#[derive(Debug, Clone)]
pub(crate) struct Images {
    dir: PathBuf,
}

impl Images {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, normalized: &str) -> PathBuf {
        self.dir
            .join(format!("{}.json", Digest::of(normalized.as_bytes()).hex()))
    }

    fn read(path: &Path) -> Result<ImageRecord, ImageError> {
        let bytes = fs::read(path).map_err(|source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| ImageError::Corrupt {
            path: path.to_path_buf(),
            source,
        })
    }

    pub(crate) fn get(&self, normalized: &str) -> Result<Option<ImageRecord>, ImageError> {
        let path = self.path(normalized);
        if !path.exists() {
            return Ok(None);
        }
        Self::read(&path).map(Some)
    }

    pub(crate) fn put(&self, record: &ImageRecord) -> Result<(), ImageError> {
        let path = self.path(&record.reference);
        let io_err = |source| ImageError::Io {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_vec_pretty(record).map_err(|e| io_err(io::Error::other(e)))?;
        write_atomic(&path, &json, PRIVATE).map_err(io_err)
    }

    /// Removes a record; whether there was one.
    pub(crate) fn remove(&self, normalized: &str) -> Result<bool, ImageError> {
        let path = self.path(normalized);
        match fs::remove_file(&path) {
            Ok(()) => {
                super::fsutil::fsync_dir(&self.dir).map_err(|source| ImageError::Io {
                    path: self.dir.clone(),
                    source,
                })?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(ImageError::Io { path, source }),
        }
    }

    /// Every record, sorted by reference.
    pub(crate) fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let io_err = |source| ImageError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if is_temp_name(name) || !name.ends_with(".json") {
                continue;
            }
            out.push(Self::read(&entry.path())?);
        }
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        assert_eq!(
            normalize_reference("busybox").unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            normalize_reference("user/app:1").unwrap(),
            "docker.io/user/app:1"
        );
        assert_eq!(
            normalize_reference("localhost:5000/x").unwrap(),
            "localhost:5000/x:latest"
        );
        assert!(normalize_reference("has spaces").is_err());
        assert!(normalize_reference("x@sha256:zz").is_err());
    }
}
