//! The initramfs: a gzip-compressed cpio (newc) archive of a staging tree,
//! written with the `cpio` and `flate2` crates, entries sorted, owned by
//! root and dated `SOURCE_DATE_EPOCH`, so it is reproducible. It holds
//! `/init` (paddock-init), `/dev/console` and the modules to mount the root.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use cpio::newc::{Builder, ModeFileType};

use super::error::{io_err, BuildError, Result};

/// Archives `tree` (plus `/dev/console`) into a gzip'd newc cpio.
pub fn make(tree: &Path, epoch: u64) -> Result<Vec<u8>> {
    let mtime = u32::try_from(epoch).unwrap_or(u32::MAX);
    let mut entries = Vec::new();
    walk(tree, tree, &mut entries)?;
    entries.sort();
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    let mut out = gz;
    let mut ino = 1u32;
    let cpio_err = |e: std::io::Error| BuildError::Layout(format!("writing the initramfs: {e}"));
    let mut has_dev = false;
    for rel in &entries {
        let path = tree.join(rel);
        let meta = std::fs::symlink_metadata(&path).map_err(io_err("reading", &path))?;
        let perm = meta.permissions().mode() & 0o7777;
        let b = Builder::new(rel).ino(ino).uid(0).gid(0).mtime(mtime);
        ino += 1;
        if rel == "dev" {
            has_dev = true;
        }
        let ft = meta.file_type();
        if ft.is_dir() {
            let w = b
                .mode(perm)
                .set_mode_file_type(ModeFileType::Directory)
                .nlink(2)
                .write(&mut out, 0);
            w.finish().map_err(cpio_err)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(io_err("reading", &path))?;
            let t = target.to_string_lossy().into_owned();
            let len =
                u32::try_from(t.len()).map_err(|_| BuildError::Layout("link too long".into()))?;
            let mut w = b
                .mode(0o777)
                .set_mode_file_type(ModeFileType::Symlink)
                .write(&mut out, len);
            w.write_all(t.as_bytes()).map_err(cpio_err)?;
            w.finish().map_err(cpio_err)?;
        } else if ft.is_file() {
            let data = std::fs::read(&path).map_err(io_err("reading", &path))?;
            let len = u32::try_from(data.len())
                .map_err(|_| BuildError::Layout(format!("{rel}: too large for cpio")))?;
            let mut w = b
                .mode(perm)
                .set_mode_file_type(ModeFileType::Regular)
                .write(&mut out, len);
            w.write_all(&data).map_err(cpio_err)?;
            w.finish().map_err(cpio_err)?;
        } else {
            return Err(BuildError::Layout(format!(
                "{rel}: only files, directories and links go into the initramfs (size {})",
                meta.size()
            )));
        }
    }
    if !has_dev {
        let w = Builder::new("dev")
            .ino(ino)
            .mtime(mtime)
            .mode(0o755)
            .set_mode_file_type(ModeFileType::Directory)
            .nlink(2)
            .write(&mut out, 0);
        w.finish().map_err(cpio_err)?;
        ino += 1;
    }
    // The kernel opens /dev/console for init's stdio before devtmpfs exists.
    let w = Builder::new("dev/console")
        .ino(ino)
        .mtime(mtime)
        .mode(0o600)
        .set_mode_file_type(ModeFileType::Char)
        .rdev_major(5)
        .rdev_minor(1)
        .write(&mut out, 0);
    w.finish().map_err(cpio_err)?;
    let out = cpio::newc::trailer(out).map_err(cpio_err)?;
    out.finish().map_err(cpio_err)
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(io_err("reading", dir))?;
    for e in rd {
        let e = e.map_err(io_err("reading", dir))?;
        let p = e.path();
        let rel = p
            .strip_prefix(base)
            .map_err(|_| BuildError::Layout("path outside the tree".into()))?
            .to_string_lossy()
            .into_owned();
        out.push(rel);
        if e.file_type().map_err(io_err("reading", &p))?.is_dir() {
            walk(base, &p, out)?;
        }
    }
    Ok(())
}
