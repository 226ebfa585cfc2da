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
