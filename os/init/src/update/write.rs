//! Streaming a request body onto a partition or into a file while hashing
//! it, then reading back exactly what was written (past the page cache) to
//! prove it reached the disk intact.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

use super::error::UpdateError;

/// What was written: its SHA-256 (hex) and length.
pub use paddock_wire::update::Written;

/// How to open the target.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// A partition (or a file standing in for one): written in place from
    /// byte 0, never truncated; at most `limit` bytes.
    Partition { limit: u64 },
    /// A new file (created or truncated); at most `limit` bytes.
    File { limit: u64 },
}

/// Streams `body` into `path`, fsyncs, and returns the hash of the bytes
/// received.
pub async fn stream_to(body: Body, path: &Path, target: Target) -> Result<Written, UpdateError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let file_path = path.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || -> Result<Written, UpdateError> {
        let mut f = open(&file_path, target)?;
        let mut hash = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            bytes += chunk.len() as u64;
            let (Target::Partition { limit } | Target::File { limit }) = target;
            if bytes > limit {
                return Err(UpdateError::TooLarge { got: bytes, limit });
            }
            hash.update(&chunk);
            f.write_all(&chunk)
                .map_err(UpdateError::io("writing", &file_path))?;
        }
        f.sync_all()
            .map_err(UpdateError::io("syncing", &file_path))?;
        Ok(Written {
            sha256: hex::encode(hash.finalize()),
            bytes,
        })
    });
    let mut body = body;
    let mut body_error = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    if tx.send(data).await.is_err() {
                        // The writer stopped: its error is the answer.
                        break;
                    }
                }
            }
            Err(e) => {
                body_error = Some(UpdateError::Body(e.to_string()));
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| UpdateError::Body(format!("writer task: {e}")))??;
    match body_error {
        Some(e) => Err(e),
        None => Ok(written),
    }
}

fn open(path: &Path, target: Target) -> Result<File, UpdateError> {
    let mut o = OpenOptions::new();
    o.write(true);
    match target {
        Target::Partition { .. } => {}
        Target::File { .. } => {
            o.create(true).truncate(true);
        }
    }
    o.open(path).map_err(UpdateError::io("opening", path))
}

/// Reads the first `bytes` bytes of `path` back from the disk (the page
/// cache dropped first) and returns their SHA-256.
pub async fn read_back(path: &Path, bytes: u64) -> Result<String, UpdateError> {
    let path: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || read_back_blocking(&path, bytes))
        .await
        .map_err(|e| UpdateError::Body(format!("read-back task: {e}")))?
}

pub fn read_back_blocking(path: &Path, bytes: u64) -> Result<String, UpdateError> {
    let mut f = File::open(path).map_err(UpdateError::io("opening", path))?;
    // Written pages are clean after the fsync; dropping them makes the
    // reads below come from the disk.
    if let Err(e) = nix::fcntl::posix_fadvise(
        f.as_raw_fd(),
        0,
        0,
        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
    ) {
        tracing::debug!("posix_fadvise {}: {e}", path.display());
    }
    let mut hash = Sha256::new();
    let mut left = bytes;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        f.read_exact(&mut buf[..want])
            .map_err(UpdateError::io("reading back", path))?;
        hash.update(&buf[..want]);
        left -= want as u64;
    }
    Ok(hex::encode(hash.finalize()))
}

/// The size of a partition or file, in bytes.
pub fn size_of(path: &Path) -> Result<u64, UpdateError> {
    use std::io::Seek;
    let mut f = File::open(path).map_err(UpdateError::io("opening", path))?;
    f.seek(std::io::SeekFrom::End(0))
        .map_err(UpdateError::io("sizing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_hashes_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let part = tmp.path().join("part");
        std::fs::write(&part, vec![0xAAu8; 4 << 20]).unwrap();
        let data: Vec<u8> = (0..(3 << 20) + 17).map(|i| (i % 251) as u8).collect();
        let want = hex::encode(Sha256::digest(&data));
        let w = stream_to(
            Body::from(data.clone()),
            &part,
            Target::Partition { limit: 4 << 20 },
        )
        .await
        .unwrap();
        assert_eq!(
            w,
            Written {
                sha256: want.clone(),
                bytes: data.len() as u64
            }
        );
        assert_eq!(read_back(&part, w.bytes).await.unwrap(), want);
        // In place: the rest of the partition is untouched.
        assert_eq!(std::fs::metadata(&part).unwrap().len(), 4 << 20);
        let err = stream_to(
            Body::from(vec![1u8; 5 << 20]),
            &part,
            Target::Partition { limit: 4 << 20 },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, UpdateError::TooLarge { .. }), "{err}");
    }
}
