//! Network namespaces pinned by a bind mount at `/run/paddock/netns/<name>`,
//! as `ip netns` does. A namespace outlives its container's restarts (the
//! address and veth stay), and `network: container:NAME` joins it by path.
//!
//! Entering a namespace changes the calling *thread*, so it is only ever done
//! on a short-lived thread of its own — never on a tokio worker.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the namespace thread panicked")]
    Thread,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> NetnsError {
    let path = path.to_path_buf();
    move |source| NetnsError::Io {
        action,
        path,
        source,
    }
}

fn errno(e: nix::Error) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// Whether `path` is a pinned namespace.
pub fn is_pinned(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

/// Makes `dir` a shared mount point (as `ip netns` does for /run/netns), so a
/// namespace unpinned here is unpinned in the mount namespaces that copied it.
pub fn prepare_dir(dir: &Path) -> Result<(), NetnsError> {
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    if !crate::host::mountinfo::is_mount_point(dir).unwrap_or(false) {
        mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| io("bind-mounting", dir)(errno(e)))?;
    }
    mount(
        None::<&str>,
        dir,
        None::<&str>,
        MsFlags::MS_SHARED | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| io("making shared", dir)(errno(e)))?;
    Ok(())
}

/// Creates a new network namespace pinned at `path`, and runs `f` inside it
/// on the same thread (sockets `f` creates stay bound to the namespace).
pub fn create_then<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, NetnsError> {
    let path = path.to_path_buf();
    std::thread::spawn(move || -> Result<T, NetnsError> {
        std::fs::File::create(&path).map_err(io("creating", &path))?;
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| io("unsharing for", &path)(errno(e)))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| io("pinning the namespace at", &path)(errno(e)))?;
        f().map_err(io("working in", &path))
    })
    .join()
    .map_err(|_| NetnsError::Thread)?
}

/// Creates a new network namespace pinned at `path`.
pub fn create(path: &Path) -> Result<(), NetnsError> {
    create_then(path, || Ok(()))
}

/// Unpins and deletes the namespace at `path` (it lives on while a process
/// is still in it); a missing one is not an error.
pub fn remove(path: &Path) -> Result<(), NetnsError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(io("unmounting", path)(errno(e))),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("removing", path)(e)),
    }
}

/// Opens the namespace at `path`.
pub fn open(path: &Path) -> Result<OwnedFd, NetnsError> {
    std::fs::File::open(path)
        .map(OwnedFd::from)
        .map_err(io("opening", path))
}

/// Runs `f` on a thread inside the namespace at `path`; sockets it creates
/// stay bound to that namespace after it returns.
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, NetnsError> {
    let ns = open(path)?;
    let path = path.to_path_buf();
    std::thread::spawn(move || -> Result<T, NetnsError> {
        setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| io("entering", &path)(errno(e)))?;
        f().map_err(io("working in", &path))
    })
    .join()
    .map_err(|_| NetnsError::Thread)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_pin_enter_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ns1");
        create(&path).unwrap();
        assert!(is_pinned(&path));
        let here = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let inside = run_in(&path, || std::fs::read_link("/proc/thread-self/ns/net")).unwrap();
        assert_ne!(here, inside, "run_in runs in the other namespace");
        assert_eq!(
            std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
            here,
            "the caller's namespace is unchanged"
        );
        remove(&path).unwrap();
        assert!(!path.exists());
        remove(&path).unwrap();
    }
}
