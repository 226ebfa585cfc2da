//! paddock_sys::fs on a real file system: modes, no torn files or temp
//! leftovers, temp names that record their owner, no directories made.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use paddock_sys::fs::*;

#[test]
fn replaces_content_with_the_mode_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    write_atomic(&path, b"one", PRIVATE).unwrap();
    write_atomic(&path, b"two", PUBLIC).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, PUBLIC);
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
}

#[test]
fn a_private_file_is_never_readable_by_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    write_atomic(&path, b"secret", PRIVATE).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, PRIVATE);
}

#[test]
fn temp_names_record_their_owner() {
    let name = format!("{}x", temp_prefix());
    assert!(is_temp_name(&name));
    assert_eq!(temp_owner(&name), Some(Some(std::process::id())));
    assert_eq!(temp_owner(".tmp-zz"), Some(None));
    assert_eq!(temp_owner("blob"), None);
}

#[test]
fn a_missing_directory_is_an_error_and_is_not_made() {
    assert!(write_atomic(Path::new("/"), b"x", PRIVATE).is_err());
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("perm");
    assert!(write_atomic(&missing.join("seed"), b"x", PRIVATE).is_err());
    assert!(!missing.exists());
}
