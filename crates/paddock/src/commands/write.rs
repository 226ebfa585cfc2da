//! `paddock write --full DEVICE|FILE [--target-size BYTES]`: put an image on
//! a disk, as `gok overwrite --full` does. The partitions are copied, the
//! GPT is rewritten for the target's size (same GUIDs) and /perm grows to
//! the end of the target with a fresh ext4 file system holding the files
//! the image's /perm had.

use std::fs::OpenOptions;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use anyhow::{bail, Context};

use crate::build::disk::{self, Layout};
use crate::build::PERM;

pub fn run(image: &Path, full: &Path, target_size: Option<u64>) -> anyhow::Result<i32> {
    let layout = Layout::read(image)?;
    let Some(perm) = layout.part(PERM).cloned() else {
        bail!(
            "{}: no partition named perm (not a paddock image?)",
            image.display()
        );
    };
    let meta = std::fs::metadata(full).ok();
    let is_device = meta
        .as_ref()
        .is_some_and(|m| m.file_type().is_block_device());
    let current = meta.as_ref().map(|m| m.len()).unwrap_or(0);
    let size = match (is_device, target_size) {
        (true, Some(_)) => bail!("--target-size is for files; {} is a device", full.display()),
        (true, None) => device_size(full)?,
        (false, Some(s)) => s,
        (false, None) => current.max(layout.total),
    };
    let mut target = layout.clone();
    target
        .grow_to(size)
        .with_context(|| format!("{}", full.display()))?;
    // Write a file via a temp name; a device in place.
    let (mut f, tmp) = if is_device {
        let f = OpenOptions::new()
            .write(true)
            .read(true)
            .open(full)
            .with_context(|| format!("opening {}", full.display()))?;
        (f, None)
    } else {
        let dir = match full.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let t = tempfile::Builder::new()
            .prefix(".paddock-write-")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temp file in {}", dir.display()))?;
        let f = t.reopen()?;
        f.set_len(size)?;
        (f, Some(t))
    };
    let mut src =
        std::fs::File::open(image).with_context(|| format!("opening {}", image.display()))?;
    for p in layout.parts.iter().filter(|p| p.name != PERM) {
        use std::io::{Seek, SeekFrom};
        src.seek(SeekFrom::Start(p.start))?;
        disk::copy_reader(&mut src, &mut f, p.start, p.size, !is_device)?;
    }
    if is_device {
        // Old signatures where the new GPT and /perm go.
        zero(&mut f, 0, disk::ALIGN)?;
        zero(&mut f, size - disk::ALIGN, disk::ALIGN)?;
    }
    target.write_gpt(&mut f)?;
    f.sync_all()?;
    drop(f);
    let new_perm = target.part(PERM).cloned().unwrap_or(perm.clone());
    // The image's perm file system keeps its UUID; its time is the image's.
    let uuid =
        perm_uuid(image, &layout).context("reading /perm's file system UUID from the image")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = tmp
        .as_ref()
        .map(|t| t.path().to_path_buf())
        .unwrap_or(full.to_path_buf());
    // What the image's /perm starts with (breakglass.authorized_keys) stays.
    let keep = tempfile::tempdir().context("creating a temp dir")?;
    crate::build::perm::extract(image, perm.start, keep.path())
        .context("reading the files in the image's /perm")?;
    crate::build::perm::make_from(
        &path,
        new_perm.start,
        new_perm.size,
        uuid,
        now,
        Some(keep.path()),
    )?;
    if let Some(t) = tmp {
        t.persist(full)
            .map_err(|e| e.error)
            .with_context(|| format!("renaming to {}", full.display()))?;
    }
    println!(
        "wrote {} ({} MiB; /perm {} MiB)",
        full.display(),
        size >> 20,
        new_perm.size >> 20
    );
    Ok(0)
}

fn zero(f: &mut std::fs::File, at: u64, len: u64) -> anyhow::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    f.seek(SeekFrom::Start(at))?;
    f.write_all(&vec![0u8; usize::try_from(len)?])?;
    Ok(())
}

/// The ext4 UUID in the image's /perm superblock (offset 1024 + 0x68).
fn perm_uuid(image: &Path, layout: &Layout) -> Option<uuid::Uuid> {
    use std::io::{Read, Seek, SeekFrom};
    let p = layout.part(PERM)?;
    let mut f = std::fs::File::open(image).ok()?;
    f.seek(SeekFrom::Start(p.start + 1024 + 0x68)).ok()?;
    let mut b = [0u8; 16];
    f.read_exact(&mut b).ok()?;
    Some(uuid::Uuid::from_bytes(b))
}

fn device_size(dev: &Path) -> anyhow::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(dev).with_context(|| format!("opening {}", dev.display()))?;
    Ok(f.seek(SeekFrom::End(0))?)
}
