//! OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) turned into their overlayfs
//! form: a 0:0 char device named NAME, and the `trusted.overlay.opaque=y`
//! xattr on a directory.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{FileType, Mode, XattrFlags};

/// The OCI whiteout prefix.
pub const PREFIX: &str = ".wh.";
/// The opaque-directory marker.
pub const OPAQUE: &str = ".wh..wh..opq";
/// The overlayfs xattr that makes a directory opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What a `.wh.` entry means.
#[derive(Debug, PartialEq, Eq)]
pub enum Whiteout {
    /// `.wh..wh..opq`: hide everything below this dir in lower layers.
    Opaque,
    /// `.wh.NAME`: NAME is deleted.
    File(OsString),
    /// Other `.wh..wh.` names (aufs bookkeeping): ignored.
    Meta,
}

/// Classifies an entry's file name.
pub fn parse(name: &OsStr) -> Option<Whiteout> {
    let bytes = name.as_bytes();
    if bytes == OPAQUE.as_bytes() {
        return Some(Whiteout::Opaque);
    }
    let rest = bytes.strip_prefix(PREFIX.as_bytes())?;
    if rest.starts_with(PREFIX.as_bytes()) {
        return Some(Whiteout::Meta);
    }
    if rest.is_empty() || rest == b"." || rest == b".." || rest.contains(&b'/') {
        return Some(Whiteout::Meta);
    }
    Some(Whiteout::File(OsStr::from_bytes(rest).to_os_string()))
}

/// Creates the overlayfs whiteout for `name` in `dir`.
pub fn create(dir: impl AsFd, name: &OsStr) -> io::Result<()> {
    rustix::fs::mknodat(
        dir,
        name,
        FileType::CharacterDevice,
        Mode::empty(),
        rustix::fs::makedev(0, 0),
    )
    .map_err(io::Error::from)
}

/// Marks `dir` opaque.
pub fn mark_opaque(dir: impl AsFd) -> io::Result<()> {
    rustix::fs::fsetxattr(dir, OPAQUE_XATTR, b"y", XattrFlags::empty()).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names() {
        assert_eq!(parse(OsStr::new(".wh..wh..opq")), Some(Whiteout::Opaque));
        assert_eq!(
            parse(OsStr::new(".wh.foo")),
            Some(Whiteout::File("foo".into()))
        );
        assert_eq!(parse(OsStr::new(".wh..wh.plnk")), Some(Whiteout::Meta));
        assert_eq!(parse(OsStr::new(".wh...")), Some(Whiteout::Meta));
        assert_eq!(parse(OsStr::new("foo")), None);
    }
}
