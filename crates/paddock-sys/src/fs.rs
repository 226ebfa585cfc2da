//! Crash-safe file writes, with one durability rule for every paddock process:
//! a temp file in the same directory (named with [`TEMP_PREFIX`] and the
//! writer's pid, so a later start can tell an orphan from a live write),
//! written, fsynced, renamed over the target, and the directory fsynced. A
//! crash or power cut leaves either the old content or the new, never a torn
//! file, and once this returns the new content survives a power cut.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Every temp file or directory paddock makes starts with this, then the
/// owning pid and a dash.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Mode of files only root may read (secrets, state).
pub const PRIVATE: u32 = 0o600;
/// Mode of files anyone may read (`resolv.conf`, markers, manifests).
pub const PUBLIC: u32 = 0o644;

/// The prefix for a new temp entry owned by this process.
pub fn temp_prefix() -> String {
    format!("{TEMP_PREFIX}{}-", std::process::id())
}

/// Whether a directory entry name is one of paddock's temp names.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// The pid recorded in a temp name: `None` if the name is not a temp name,
/// `Some(None)` if it is one without a readable pid.
pub fn temp_owner(name: &str) -> Option<Option<u32>> {
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    Some(rest.split('-').next().and_then(|p| p.parse().ok()))
}

/// fsyncs a directory, so that renames and removals in it are durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `path` with `data` (file mode `mode`) by the rule in the module
/// comment. Its directory must exist: a missing one is an error, never made
/// here (a missing `/perm` must not be created on the root).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        Some(_) => Path::new("."),
        None => {
            return Err(io::Error::other(format!(
                "{} has no parent directory",
                path.display()
            )))
        }
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    fsync_dir(dir)
}

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

/// Removes temp entries in `dir` whose owning process is gone (a write cut
/// short by a crash or power cut); returns what was removed. Call it where
/// a program starts writing into a directory that outlives it.
pub fn clean_stale_temps(dir: &Path) -> io::Result<Vec<PathBuf>> {
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
        if owner.is_some_and(|p| i32::try_from(p).is_ok_and(crate::process::pid_alive))
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
