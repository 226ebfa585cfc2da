//! Crash-safe file operations of the store: atomic writes (paddock_sys's
//! rule, private to root), cleanup of temp files left by a process that
//! died, and file locks.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use paddock_sys::fs::temp_owner;
pub(crate) use paddock_sys::fs::{fsync_dir, is_temp_name, temp_prefix};

/// When this machine booted (`btime` in `/proc/stat`).
fn boot_time() -> Option<std::time::SystemTime> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let secs: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Removes temp entries in `dir` whose owning process is gone (an
/// interrupted pull); returns what was removed.
pub(crate) fn clean_stale_temps(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        // Owned by a live process, and written since boot (a pid from before
        // a reboot may have been reused).
        let since_boot = match (entry.metadata().and_then(|m| m.modified()), boot_time()) {
            (Ok(mtime), Some(boot)) => mtime >= boot,
            _ => true,
        };
        if owner.is_some_and(|p| i32::try_from(p).is_ok_and(paddock_sys::process::pid_alive))
            && since_boot
        {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
        removed.push(path);
    }
    Ok(removed)
}

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
