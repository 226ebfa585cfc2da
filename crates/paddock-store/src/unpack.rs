//! Unpacks one layer tarball into an empty directory, safely.
//!
//! Every entry is created relative to a directory fd reached by walking the
//! entry's parent components one at a time with `O_NOFOLLOW|O_DIRECTORY`, so
//! no entry can land outside the layer: `..` components and absolute names are
//! refused, a symlinked parent makes the walk fail (`ELOOP`), hard links must
//! point at something this layer already created (again reached without
//! following symlinks), and device nodes are refused unless allowed. OCI
//! whiteouts become overlayfs whiteouts (see [`super::whiteout`]).
//!
//! The caller unpacks into a temp dir and renames it into place only when the
//! whole layer succeeded and its diff_id matched, so a refused layer leaves
//! nothing behind.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;
use tar::EntryType;

use super::digest::{Digest, HashingReader};
use super::whiteout::{self, Whiteout};

/// Errors unpacking a layer.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// An entry that would escape the layer or is not allowed.
    #[error("unsafe layer entry {path:?}: {reason}")]
    Unsafe { path: String, reason: String },
    #[error("layer entry {path:?}: {context}: {source}")]
    Entry {
        path: String,
        context: &'static str,
        source: io::Error,
    },
    #[error("layer entry {path:?}: unsupported entry type {kind:?}")]
    Unsupported { path: String, kind: EntryType },
    #[error("reading layer: {0}")]
    Read(#[source] io::Error),
}

/// What an unpack may create besides files, dirs, links and fifos.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnpackOptions {
    /// Allow char/block device nodes (other than whiteouts, always allowed).
    pub allow_devices: bool,
}

/// Compression of a layer blob, sniffed from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Decompresses `blob` (gzip, zstd or plain tar, sniffed), unpacks it into
/// `dest` and returns the diff_id (digest of the uncompressed tar) and its
/// length. The whole stream is read, so the caller's compressed-digest check
/// covers every byte.
pub fn unpack_layer<R: Read>(
    blob: R,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<(Digest, u64), UnpackError> {
    let mut buf = BufReader::with_capacity(256 * 1024, blob);
    let head = buf.fill_buf().map_err(UnpackError::Read)?;
    let compression = sniff(head);
    let tar: Box<dyn Read> = match compression {
        Compression::None => Box::new(buf),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buf)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(buf).map_err(UnpackError::Read)?)
        }
    };
    let mut hashing = HashingReader::new(tar);
    unpack_tar(&mut hashing, dest, opts)?;
    hashing.finish().map_err(UnpackError::Read)
}

/// Unpacks an uncompressed tar stream into the existing directory `dest`.
pub fn unpack_tar<R: Read>(tar: R, dest: &Path, opts: &UnpackOptions) -> Result<(), UnpackError> {
    let mut u = Unpacker::new(dest, *opts)?;
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().map_err(UnpackError::Read)? {
        let entry = entry.map_err(UnpackError::Read)?;
        u.entry(entry)?;
    }
    u.finish()
}

struct Unpacker {
    root: OwnedFd,
    root_path: PathBuf,
    opts: UnpackOptions,
    dir_times: Vec<(Vec<OsString>, u64)>,
}

/// The metadata of one entry, PAX overrides applied.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

fn display(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// Splits an entry name into normal components, refusing `..` and absolute
/// names.
fn components(raw: &[u8]) -> Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => return Err("path contains a '..' component".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute path".into());
            }
        }
    }
    Ok(out)
}

impl Unpacker {
    fn new(dest: &Path, opts: UnpackOptions) -> Result<Self, UnpackError> {
        let root = rustix::fs::open(
            dest,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| UnpackError::Entry {
            path: dest.display().to_string(),
            context: "open layer directory",
            source: e.into(),
        })?;
        // The layer root of a temp dir is 0700; a layer without a "./" entry
        // gets the usual 0755.
        rustix::fs::fchmod(&root, Mode::from_raw_mode(0o755)).map_err(|e| UnpackError::Entry {
            path: ".".into(),
            context: "chmod layer root",
            source: e.into(),
        })?;
        Ok(Self {
            root,
            root_path: dest.to_path_buf(),
            opts,
            dir_times: Vec::new(),
        })
    }

    /// Walks `comps` below the root without following symlinks, creating
    /// missing directories (0755, root-owned) when `create`.
    fn open_dir(
        &self,
        comps: &[OsString],
        create: bool,
        path: &str,
    ) -> Result<OwnedFd, UnpackError> {
        let unsafe_err = |reason: String| UnpackError::Unsafe {
            path: path.to_string(),
            reason,
        };
        let io_err = |context, e: Errno| UnpackError::Entry {
            path: path.to_string(),
            context,
            source: e.into(),
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut fd = rustix::io::dup(&self.root).map_err(|e| io_err("dup", e))?;
        for (i, c) in comps.iter().enumerate() {
            let next = match rustix::fs::openat(&fd, c.as_os_str(), flags, Mode::empty()) {
                Ok(n) => n,
                Err(Errno::NOENT) if create => {
                    rustix::fs::mkdirat(&fd, c.as_os_str(), Mode::from_raw_mode(0o755))
                        .map_err(|e| io_err("create parent directory", e))?;
                    rustix::fs::openat(&fd, c.as_os_str(), flags, Mode::empty())
                        .map_err(|e| io_err("open parent directory", e))?
                }
                Err(Errno::NOENT) => {
                    return Err(unsafe_err(format!(
                        "{} does not exist in this layer",
                        Path::new(&comps[..=i].join(OsStr::new("/"))).display()
                    )))
                }
                Err(Errno::LOOP | Errno::NOTDIR) => {
                    let what =
                        match rustix::fs::statat(&fd, c.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                                "is a symlink"
                            }
                            _ => "is not a directory",
                        };
                    return Err(unsafe_err(format!(
                        "parent {} {what}",
                        Path::new(&comps[..=i].join(OsStr::new("/"))).display()
                    )));
                }
                Err(e) => return Err(io_err("open parent directory", e)),
            };
            fd = next;
        }
        Ok(fd)
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let raw_path = entry.path_bytes().into_owned();
        let path = display(&raw_path);
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }
        let comps = components(&raw_path).map_err(|reason| UnpackError::Unsafe {
            path: path.clone(),
            reason,
        })?;
        let meta = self.meta(&mut entry, &path)?;

        let Some((name, parents)) = comps.split_last() else {
            // The layer root itself ("./").
            if kind != EntryType::Directory {
                return Err(UnpackError::Unsafe {
                    path,
                    reason: "the layer root must be a directory".into(),
                });
            }
            let dot = OsString::from(".");
            self.apply_meta(&self.root, &dot, &[], &meta, true, &path)?;
            self.dir_times.push((Vec::new(), meta.mtime));
            return Ok(());
        };

        if let Some(w) = whiteout::parse(name) {
            let parent = self.open_dir(parents, true, &path)?;
            return match w {
                Whiteout::Opaque => whiteout::mark_opaque(&parent),
                Whiteout::File(target) => {
                    self.remove_existing(&parent, &target, parents, false, &path)?;
                    whiteout::create(&parent, &target)
                }
                Whiteout::Meta => Ok(()),
            }
            .map_err(|source| UnpackError::Entry {
                path,
                context: "create whiteout",
                source,
            });
        }

        let parent = self.open_dir(parents, true, &path)?;
        let io_err = |context: &'static str, source: io::Error| UnpackError::Entry {
            path: path.clone(),
            context,
            source,
        };
        match kind {
            EntryType::Directory => {
                self.remove_existing(&parent, name, parents, true, &path)?;
                match rustix::fs::mkdirat(&parent, name.as_os_str(), Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io_err("mkdir", e.into())),
                }
                self.apply_meta(&parent, name, parents, &meta, true, &path)?;
                self.dir_times.push((comps.clone(), meta.mtime));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.remove_existing(&parent, name, parents, false, &path)?;
                let fd = rustix::fs::openat(
                    &parent,
                    name.as_os_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| io_err("create file", e.into()))?;
                let mut file = File::from(fd);
                io::copy(&mut entry, &mut file).map_err(|e| io_err("write file", e))?;
                drop(file);
                self.apply_meta(&parent, name, parents, &meta, false, &path)?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| UnpackError::Unsafe {
                        path: path.clone(),
                        reason: "symlink without a target".into(),
                    })?
                    .into_owned();
                self.remove_existing(&parent, name, parents, false, &path)?;
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, name.as_os_str())
                    .map_err(|e| io_err("symlink", e.into()))?;
                self.apply_meta(&parent, name, parents, &meta, false, &path)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| UnpackError::Unsafe {
                        path: path.clone(),
                        reason: "hard link without a target".into(),
                    })?
                    .into_owned();
                self.hard_link(&parent, name, parents, &target, &path)?;
            }
            EntryType::Char | EntryType::Block => {
                let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                let is_char = kind == EntryType::Char;
                if is_char && major == 0 && minor == 0 {
                    // Already in overlayfs whiteout form.
                    self.remove_existing(&parent, name, parents, false, &path)?;
                    whiteout::create(&parent, name).map_err(|e| io_err("create whiteout", e))?;
                    return Ok(());
                }
                if !self.opts.allow_devices {
                    return Err(UnpackError::Unsafe {
                        path,
                        reason: format!(
                            "{} device node {major}:{minor} not allowed",
                            if is_char { "char" } else { "block" }
                        ),
                    });
                }
                self.remove_existing(&parent, name, parents, false, &path)?;
                let ft = if is_char {
                    FileType::CharacterDevice
                } else {
                    FileType::BlockDevice
                };
                rustix::fs::mknodat(
                    &parent,
                    name.as_os_str(),
                    ft,
                    Mode::from_raw_mode(0o600),
                    rustix::fs::makedev(major, minor),
                )
                .map_err(|e| io_err("mknod", e.into()))?;
                self.apply_meta(&parent, name, parents, &meta, false, &path)?;
            }
            EntryType::Fifo => {
                self.remove_existing(&parent, name, parents, false, &path)?;
                rustix::fs::mknodat(
                    &parent,
                    name.as_os_str(),
                    FileType::Fifo,
                    Mode::from_raw_mode(0o600),
                    0,
                )
                .map_err(|e| io_err("mkfifo", e.into()))?;
                self.apply_meta(&parent, name, parents, &meta, false, &path)?;
            }
            other => {
                return Err(UnpackError::Unsupported { path, kind: other });
            }
        }
        Ok(())
    }

    fn hard_link(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        parents: &[OsString],
        target: &[u8],
        path: &str,
    ) -> Result<(), UnpackError> {
        let unsafe_err = |reason: String| UnpackError::Unsafe {
            path: path.to_string(),
            reason,
        };
        let tcomps = components(target)
            .map_err(|r| unsafe_err(format!("hard link target {:?}: {r}", display(target))))?;
        let Some((tname, tparents)) = tcomps.split_last() else {
            return Err(unsafe_err("hard link to the layer root".into()));
        };
        let tparent = self.open_dir(tparents, false, path).map_err(|e| match e {
            UnpackError::Unsafe { reason, .. } => unsafe_err(format!(
                "hard link target {:?} is not in this layer: {reason}",
                display(target)
            )),
            other => other,
        })?;
        match rustix::fs::statat(&tparent, tname.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                return Err(unsafe_err("hard link to a directory".into()));
            }
            Ok(_) => {}
            Err(Errno::NOENT) => {
                return Err(unsafe_err(format!(
                    "hard link target {:?} is not in this layer",
                    display(target)
                )))
            }
            Err(e) => {
                return Err(UnpackError::Entry {
                    path: path.to_string(),
                    context: "stat hard link target",
                    source: e.into(),
                })
            }
        }
        if tparents == parents && tname.as_os_str() == name {
            return Ok(());
        }
        self.remove_existing(parent, name, parents, false, path)?;
        rustix::fs::linkat(&tparent, tname.as_os_str(), parent, name, AtFlags::empty()).map_err(
            |e| UnpackError::Entry {
                path: path.to_string(),
                context: "hard link",
                source: e.into(),
            },
        )
    }

    /// Removes whatever is at `name` (a later entry replaces an earlier one),
    /// keeping an existing directory when `keep_dir`.
    fn remove_existing(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        parents: &[OsString],
        keep_dir: bool,
        path: &str,
    ) -> Result<(), UnpackError> {
        let io_err = |source: io::Error| UnpackError::Entry {
            path: path.to_string(),
            context: "replace existing entry",
            source,
        };
        match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(io_err(e.into())),
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                if keep_dir {
                    return Ok(());
                }
                // The parents were just reached without symlinks, and this
                // temp dir is ours alone; remove_dir_all does not follow
                // symlinks inside.
                let mut p = self.root_path.clone();
                p.extend(parents);
                p.push(name);
                std::fs::remove_dir_all(&p).map_err(io_err)
            }
            Ok(_) => {
                rustix::fs::unlinkat(parent, name, AtFlags::empty()).map_err(|e| io_err(e.into()))
            }
        }
    }

    fn meta<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        path: &str,
    ) -> Result<Meta, UnpackError> {
        let h = entry.header();
        let bad = |what: &str, e: io::Error| UnpackError::Entry {
            path: path.to_string(),
            context: "read header",
            source: io::Error::new(e.kind(), format!("{what}: {e}")),
        };
        // A blank numeric field means 0, as Go's archive/tar reads it.
        let num = |what: &str, raw: &[u8], v: io::Result<u64>| match v {
            Ok(v) => Ok(v),
            Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
            Err(e) => Err(bad(what, e)),
        };
        let old = h.as_old();
        let mode = num("mode", &old.mode, h.mode().map(u64::from))?;
        let mode = u32::try_from(mode).unwrap_or(0);
        let mut uid = num("uid", &old.uid, h.uid())?;
        let mut gid = num("gid", &old.gid, h.gid())?;
        let mtime = num("mtime", &old.mtime, h.mtime())?;
        let mut xattrs = Vec::new();
        if let Some(exts) = entry.pax_extensions().map_err(UnpackError::Read)? {
            for ext in exts {
                let ext = ext.map_err(UnpackError::Read)?;
                let Ok(key) = ext.key() else { continue };
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    if name.starts_with("trusted.overlay.") {
                        return Err(UnpackError::Unsafe {
                            path: path.to_string(),
                            reason: format!("overlayfs xattr {name} not allowed in a layer"),
                        });
                    }
                    xattrs.push((OsString::from(name), ext.value_bytes().to_vec()));
                } else if key == "uid" {
                    uid = ext.value().ok().and_then(|v| v.parse().ok()).unwrap_or(uid);
                } else if key == "gid" {
                    gid = ext.value().ok().and_then(|v| v.parse().ok()).unwrap_or(gid);
                }
            }
        }
        let id = |v: u64, what| {
            u32::try_from(v).map_err(|_| UnpackError::Unsafe {
                path: path.to_string(),
                reason: format!("{what} {v} out of range"),
            })
        };
        Ok(Meta {
            mode: mode & 0o7777,
            uid: id(uid, "uid")?,
            gid: id(gid, "gid")?,
            mtime,
            xattrs,
        })
    }

    /// Owner, then mode (chown clears setuid), xattrs and (except for
    /// directories, done at the end) mtime.
    fn apply_meta(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        parents: &[OsString],
        meta: &Meta,
        is_dir: bool,
        path: &str,
    ) -> Result<(), UnpackError> {
        let io_err = |context: &'static str, e: io::Error| UnpackError::Entry {
            path: path.to_string(),
            context,
            source: e,
        };
        let is_symlink = matches!(
            rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW),
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink
        );
        rustix::fs::chownat(
            parent,
            name,
            Some(rustix::fs::Uid::from_raw(meta.uid)),
            Some(rustix::fs::Gid::from_raw(meta.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err("chown", e.into()))?;
        if !is_symlink {
            rustix::fs::chmodat(
                parent,
                name,
                Mode::from_raw_mode(meta.mode),
                AtFlags::empty(),
            )
            .map_err(|e| io_err("chmod", e.into()))?;
        }
        if !meta.xattrs.is_empty() {
            let mut full = self.root_path.clone();
            full.extend(parents);
            if name != OsStr::new(".") {
                full.push(name);
            }
            for (key, value) in &meta.xattrs {
                rustix::fs::lsetxattr(&full, key.as_os_str(), value, XattrFlags::empty())
                    .map_err(|e| io_err("set xattr", e.into()))?;
            }
        }
        if !is_dir {
            let t = Timespec {
                tv_sec: i64::try_from(meta.mtime).unwrap_or(i64::MAX),
                tv_nsec: 0,
            };
            let times = Timestamps {
                last_access: t,
                last_modification: t,
            };
            rustix::fs::utimensat(parent, name, &times, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| io_err("set mtime", e.into()))?;
        }
        Ok(())
    }

    /// Directory mtimes last: creating children changed them.
    fn finish(self) -> Result<(), UnpackError> {
        for (comps, mtime) in &self.dir_times {
            let path = Path::new(&comps.join(OsStr::new("/")))
                .display()
                .to_string();
            let (dir, name) = match comps.split_last() {
                Some((name, parents)) => match self.open_dir(parents, false, &path) {
                    Ok(fd) => (fd, name.clone()),
                    // Replaced by a later entry.
                    Err(UnpackError::Unsafe { .. }) => continue,
                    Err(e) => return Err(e),
                },
                None => (
                    rustix::io::dup(&self.root).map_err(|e| UnpackError::Entry {
                        path: ".".into(),
                        context: "dup",
                        source: e.into(),
                    })?,
                    OsString::from("."),
                ),
            };
            let t = Timespec {
                tv_sec: i64::try_from(*mtime).unwrap_or(i64::MAX),
                tv_nsec: 0,
            };
            let times = Timestamps {
                last_access: t,
                last_modification: t,
            };
            match rustix::fs::utimensat(&dir, name.as_os_str(), &times, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => {
                    return Err(UnpackError::Entry {
                        path,
                        context: "set directory mtime",
                        source: e.into(),
                    })
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    struct E<'a> {
        name: &'a [u8],
        kind: EntryType,
        data: &'a [u8],
        link: &'a [u8],
        mode: u32,
        dev: (u32, u32),
    }

    fn e<'a>(name: &'a str, kind: EntryType) -> E<'a> {
        E {
            name: name.as_bytes(),
            kind,
            data: b"",
            link: b"",
            mode: if kind == EntryType::Directory {
                0o755
            } else {
                0o644
            },
            dev: (0, 0),
        }
    }

    /// A tar with raw names (the tar crate's builder refuses `..`).
    fn raw_tar(entries: &[E<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for en in entries {
            let mut h = tar::Header::new_gnu();
            h.as_old_mut().name[..en.name.len()].copy_from_slice(en.name);
            h.as_old_mut().linkname[..en.link.len()].copy_from_slice(en.link);
            h.set_entry_type(en.kind);
            h.set_size(en.data.len() as u64);
            h.set_mode(en.mode);
            h.set_mtime(1_000_000);
            h.set_device_major(en.dev.0).unwrap();
            h.set_device_minor(en.dev.1).unwrap();
            h.set_cksum();
            b.append(&h, en.data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn unpack(
        entries: &[E<'_>],
        allow_devices: bool,
    ) -> (tempfile::TempDir, Result<(Digest, u64), UnpackError>) {
        let dir = tempfile::tempdir().unwrap();
        let tar = raw_tar(entries);
        let r = unpack_layer(&tar[..], dir.path(), &UnpackOptions { allow_devices });
        (dir, r)
    }

    fn assert_unsafe(r: Result<(Digest, u64), UnpackError>, needle: &str) {
        match r {
            Err(UnpackError::Unsafe { reason, .. }) => assert!(reason.contains(needle), "{reason}"),
            other => panic!("expected an unsafe-entry error with {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn refuses_parent_traversal_and_absolute_names() {
        let (_d, r) = unpack(&[e("../evil", EntryType::Regular)], false);
        assert_unsafe(r, "..");
        let (_d, r) = unpack(&[e("a/../../evil", EntryType::Regular)], false);
        assert_unsafe(r, "..");
        let (_d, r) = unpack(&[e("/etc/evil", EntryType::Regular)], false);
        assert_unsafe(r, "absolute");
    }

    #[test]
    fn refuses_entries_under_a_symlink() {
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().to_str().unwrap().to_string();
        let mut link = e("l", EntryType::Symlink);
        link.link = target.as_bytes();
        let mut file = e("l/pwned", EntryType::Regular);
        file.data = b"x";
        let (_d, r) = unpack(&[link, file], false);
        assert_unsafe(r, "symlink");
        assert!(!outside.path().join("pwned").exists());

        // Also through a relative symlink and a deeper path.
        let mut link = e("a/l", EntryType::Symlink);
        link.link = b"../..";
        let (_d, r) = unpack(
            &[
                e("a/", EntryType::Directory),
                link,
                e("a/l/x/y", EntryType::Regular),
            ],
            false,
        );
        assert_unsafe(r, "symlink");
    }

    #[test]
    fn refuses_hard_links_outside_the_layer() {
        for target in ["../../../etc/passwd", "/etc/passwd", "missing"] {
            let mut l = e("h", EntryType::Link);
            l.link = target.as_bytes();
            let (_d, r) = unpack(&[l], false);
            assert!(
                matches!(r, Err(UnpackError::Unsafe { .. })),
                "{target}: {r:?}"
            );
        }
        // Through a symlinked parent.
        let mut sym = e("etc", EntryType::Symlink);
        sym.link = b"/etc";
        let mut l = e("h", EntryType::Link);
        l.link = b"etc/passwd";
        let (d, r) = unpack(&[sym, l], false);
        assert_unsafe(r, "symlink");
        assert!(!d.path().join("h").exists());
    }

    #[test]
    fn devices_only_when_allowed() {
        let mut dev = e("null", EntryType::Char);
        dev.dev = (1, 3);
        let (_d, r) = unpack(std::slice::from_ref(&dev), false);
        assert_unsafe(r, "device");
        let mut blk = e("sda", EntryType::Block);
        blk.dev = (8, 0);
        let (_d, r) = unpack(&[blk], false);
        assert_unsafe(r, "device");
        let (d, r) = unpack(&[dev], true);
        r.unwrap();
        let m = std::fs::symlink_metadata(d.path().join("null")).unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(m.rdev(), rustix::fs::makedev(1, 3));
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        let (d, r) = unpack(
            &[
                e("etc/", EntryType::Directory),
                e("etc/.wh.passwd", EntryType::Regular),
                e("opt/", EntryType::Directory),
                e("opt/.wh..wh..opq", EntryType::Regular),
                e("opt/new", EntryType::Regular),
            ],
            false,
        );
        r.unwrap();
        let wh = std::fs::symlink_metadata(d.path().join("etc/passwd")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(wh.rdev(), 0);
        assert!(!d.path().join("etc/.wh.passwd").exists());
        let mut buf = [0u8; 4];
        let n = rustix::fs::lgetxattr(d.path().join("opt"), "trusted.overlay.opaque", &mut buf[..])
            .unwrap();
        assert_eq!(&buf[..n], b"y");
        assert!(d.path().join("opt/new").exists());
        assert!(!d.path().join("opt/.wh..wh..opq").exists());
    }

    #[test]
    fn keeps_metadata_links_and_diff_id() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Directory);
        h.set_mode(0o750);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(1_234_567);
        h.set_size(0);
        b.append_data(&mut h, "d/", io::empty()).unwrap();
        b.append_pax_extensions([("SCHILY.xattr.user.note", &b"hi"[..])])
            .unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o4755);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(7_654_321);
        h.set_size(3);
        b.append_data(&mut h, "d/suid", &b"abc"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Link);
        h.set_size(0);
        b.append_link(&mut h, "d/hard", "d/suid").unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Symlink);
        h.set_size(0);
        h.set_uid(5);
        h.set_gid(6);
        b.append_link(&mut h, "d/sym", "/nowhere/at/all").unwrap();
        let tar = b.into_inner().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let (diff_id, len) = unpack_layer(&tar[..], dir.path(), &UnpackOptions::default()).unwrap();
        assert_eq!(diff_id, Digest::of(&tar));
        assert_eq!(len, tar.len() as u64);
        let p = dir.path();
        let d = std::fs::metadata(p.join("d")).unwrap();
        assert_eq!(
            (d.uid(), d.gid(), d.permissions().mode() & 0o7777),
            (1000, 1001, 0o750)
        );
        assert_eq!(d.mtime(), 1_234_567, "dir mtime set after its children");
        let f = std::fs::metadata(p.join("d/suid")).unwrap();
        assert_eq!(
            (f.uid(), f.gid(), f.permissions().mode() & 0o7777),
            (1000, 1001, 0o4755)
        );
        assert_eq!(f.mtime(), 7_654_321);
        let mut buf = [0u8; 8];
        let n = rustix::fs::lgetxattr(p.join("d/suid"), "user.note", &mut buf[..]).unwrap();
        assert_eq!(&buf[..n], b"hi");
        assert_eq!(std::fs::metadata(p.join("d/hard")).unwrap().ino(), f.ino());
        assert_eq!(
            std::fs::read_link(p.join("d/sym")).unwrap(),
            Path::new("/nowhere/at/all")
        );
        let s = std::fs::symlink_metadata(p.join("d/sym")).unwrap();
        assert_eq!((s.uid(), s.gid()), (5, 6));
    }

    #[test]
    fn later_entries_replace_earlier_ones() {
        let mut f = e("x", EntryType::Regular);
        f.data = b"file";
        let (d, r) = unpack(
            &[
                e("x/", EntryType::Directory),
                e("x/y", EntryType::Regular),
                f,
            ],
            false,
        );
        r.unwrap();
        assert_eq!(std::fs::read(d.path().join("x")).unwrap(), b"file");
    }

    #[test]
    fn reads_gzip_and_zstd() {
        let mut f = e("f", EntryType::Regular);
        f.data = b"data";
        let tar = raw_tar(&[f]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&tar[..], 1).unwrap();
        for blob in [gz, zst, tar.clone()] {
            let dir = tempfile::tempdir().unwrap();
            let (diff_id, _) =
                unpack_layer(&blob[..], dir.path(), &UnpackOptions::default()).unwrap();
            assert_eq!(diff_id, Digest::of(&tar));
            assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"data");
        }
    }
}
