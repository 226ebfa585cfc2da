//! Root-only unix sockets that appear ready: bound and restricted under a
//! temporary name, then renamed over any stale one. A client that sees the
//! path can connect (bind and listen are two steps, and a client polling
//! for the file could otherwise be refused), and the socket is never
//! reachable with the umask's mode.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;

pub fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let staging = path.with_extension("sock.new");
    let _ = std::fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging)?;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&staging, path)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_a_stale_socket_and_is_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/x.sock");
        drop(bind_private(&path).unwrap());
        // The first listener is gone; its file stays behind, stale.
        let _listener = bind_private(&path).unwrap();
        std::os::unix::net::UnixStream::connect(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!path.with_extension("sock.new").exists());
    }
}
