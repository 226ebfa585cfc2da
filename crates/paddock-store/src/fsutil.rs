//! The store's file locks; its temp names, atomic writes and cleanup of
//! temps left by a process that died are paddock_sys's.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

pub(crate) use paddock_sys::fs::{clean_stale_temps, fsync_dir, is_temp_name, temp_prefix};

/// An advisory `flock` held until dropped (closing the file releases it).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    /// Blocks until the lock on `path` (created if missing) is held.
    pub(crate) fn acquire(path: &Path, exclusive: bool) -> io::Result<Self> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        let op = if exclusive {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::LockShared
        };
        rustix::fs::flock(&file, op)?;
        Ok(Self { _file: file })
    }

    /// [`FileLock::acquire`] off the async runtime's threads.
    pub(crate) async fn acquire_async(path: PathBuf, exclusive: bool) -> io::Result<Self> {
        tokio::task::spawn_blocking(move || Self::acquire(&path, exclusive))
            .await
            .map_err(io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paddock_sys::fs::TEMP_PREFIX;

    #[test]
    fn stale_temps_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!("{TEMP_PREFIX}{dead}-abc"));
        let live = dir.path().join(format!("{}xyz", temp_prefix()));
        let stale_dir = dir.path().join(format!("{TEMP_PREFIX}{dead}-dir"));
        fs::write(&stale, b"x").unwrap();
        fs::write(&live, b"x").unwrap();
        fs::create_dir_all(stale_dir.join("sub")).unwrap();
        fs::write(dir.path().join("keep"), b"x").unwrap();
        let removed = clean_stale_temps(dir.path()).unwrap();
        assert_eq!(removed.len(), 2);
        assert!(!stale.exists() && !stale_dir.exists());
        assert!(live.exists() && dir.path().join("keep").exists());
    }
}
