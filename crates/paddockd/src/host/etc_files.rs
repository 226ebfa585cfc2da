//! `/etc/resolv.conf`, `/etc/hosts` and `/etc/hostname` as containers see them.
//!
//! podman copies resolv.conf once, when a container starts; a container started
//! before DHCP has run keeps an empty resolver for ever (which is why the
//! seed's wrapper waits for the clock first). paddockd instead keeps one copy
//! per container and rewrites it whenever the host's changes. The copies are
//! bind-mounted into the container, and a bind mount pins an inode, so they
//! are rewritten in place, never replaced by rename.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::paths::Paths;

#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct EtcFilesError {
    path: PathBuf,
    source: std::io::Error,
}

/// The host-side copies for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFiles {
    pub resolv_conf: PathBuf,
    pub hosts: PathBuf,
    pub hostname: PathBuf,
}

/// What goes into the copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcContent {
    pub resolv_conf: String,
    pub hosts: String,
    pub hostname: String,
}

impl EtcFiles {
    /// Where a container's copies live (`/run/paddock/etc/<name>/`).
    pub fn for_container(paths: &Paths, name: &str) -> Self {
        let dir = paths.run_paddock().join("etc").join(name);
        Self {
            resolv_conf: dir.join("resolv.conf"),
            hosts: dir.join("hosts"),
            hostname: dir.join("hostname"),
        }
    }

    /// Writes every copy whose content differs; returns whether any changed.
    pub fn write(&self, content: &EtcContent) -> Result<bool, EtcFilesError> {
        let mut changed = false;
        for (path, text) in [
            (&self.resolv_conf, &content.resolv_conf),
            (&self.hosts, &content.hosts),
            (&self.hostname, &content.hostname),
        ] {
            changed |= write_in_place(path, text.as_bytes()).map_err(|source| EtcFilesError {
                path: path.clone(),
                source,
            })?;
        }
        Ok(changed)
    }

    /// Removes the copies.
    pub fn remove(&self) {
        if let Some(dir) = self.hosts.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// What a container on the host's network sees: the host's own files (under
/// the root prefix; missing ones give sensible defaults).
pub fn host_content(paths: &Paths, hostname: &str) -> EtcContent {
    let read = |rel: &str| std::fs::read_to_string(paths.root().join(rel)).ok();
    let resolv_conf = read("etc/resolv.conf").unwrap_or_default();
    let mut hosts = read("etc/hosts").unwrap_or_default();
    if !hosts
        .lines()
        .any(|l| l.split_whitespace().skip(1).any(|n| n == "localhost"))
    {
        hosts.insert_str(0, LOCALHOST);
    }
    if !hosts
        .lines()
        .any(|l| l.split_whitespace().skip(1).any(|n| n == hostname))
    {
        hosts.push_str(&format!("127.0.1.1\t{hostname}\n"));
    }
    EtcContent {
        resolv_conf,
        hosts,
        hostname: format!("{hostname}\n"),
    }
}

const LOCALHOST: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/// The host's hostname as the kernel knows it.
pub fn host_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "paddock".to_string())
}

/// Rewrites `path` to hold `content`, keeping its inode; creates it if needed.
fn write_in_place(path: &Path, content: &[u8]) -> std::io::Result<bool> {
    if std::fs::read(path).ok().as_deref() == Some(content) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(content)?;
    // No fsync: /run is a tmpfs on the device, and the copies are
    // rewritten from the host's files whenever they differ.
    file.set_len(content.len() as u64)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn rewrites_keep_the_inode() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let files = EtcFiles::for_container(&paths, "web");
        let mut content = EtcContent {
            resolv_conf: "nameserver 10.0.0.1\n".into(),
            hosts: LOCALHOST.into(),
            hostname: "web\n".into(),
        };
        assert!(files.write(&content).unwrap());
        let inode = std::fs::metadata(&files.resolv_conf).unwrap().ino();
        assert!(
            !files.write(&content).unwrap(),
            "unchanged content is not rewritten"
        );
        content.resolv_conf = "nameserver 1.1.1.1\n".into();
        assert!(files.write(&content).unwrap());
        assert_eq!(std::fs::metadata(&files.resolv_conf).unwrap().ino(), inode);
        assert_eq!(
            std::fs::read_to_string(&files.resolv_conf).unwrap(),
            "nameserver 1.1.1.1\n"
        );
    }

    #[test]
    fn host_content_adds_localhost_and_hostname() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/resolv.conf"), "nameserver 192.0.2.1\n").unwrap();
        let c = host_content(&paths, "box");
        assert_eq!(c.resolv_conf, "nameserver 192.0.2.1\n");
        assert!(c.hosts.contains("localhost"));
        assert!(c.hosts.contains("127.0.1.1\tbox"));
        assert_eq!(c.hostname, "box\n");
    }
}
