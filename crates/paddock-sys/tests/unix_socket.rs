//! paddock_sys::unix_socket: a stale socket replaced, root only.

use std::os::unix::fs::PermissionsExt;

use paddock_sys::unix_socket::*;

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
