//! The disk: a GPT (written with the `gpt` crate, protective MBR included)
//! with the ESP, root A, root B and /perm, each aligned to 1 MiB.
//! Partition contents are copied in sparsely (runs of zeros stay holes).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use gpt::disk::LogicalBlockSize;
use gpt::partition::Partition;
use gpt::partition_types;
use uuid::Uuid;

use super::error::{io_err, BuildError, Result};

pub const SECTOR: u64 = 512;
pub const ALIGN: u64 = 1 << 20;

/// One partition.
#[derive(Debug, Clone)]
pub struct Part {
    /// GPT partition name: `esp`, `root-a`, `root-b`, `perm`.
    pub name: String,
    pub guid: Uuid,
    pub esp: bool,
    /// Byte offset and length, multiples of [`ALIGN`].
    pub start: u64,
    pub size: u64,
}

/// Where everything goes on the disk.
#[derive(Debug, Clone)]
pub struct Layout {
    pub disk_guid: Uuid,
    pub parts: Vec<Part>,
    /// Bytes.
    pub total: u64,
}

impl Layout {
    /// Partitions in order, `perm` last; `guid(name)` gives each GUID.
    pub fn new(disk_guid: Uuid, sizes: &[(&str, u64)], guid: impl Fn(&str) -> Uuid) -> Layout {
        let mut parts = Vec::new();
        let mut at = ALIGN;
        for (name, size) in sizes {
            parts.push(Part {
                name: name.to_string(),
                guid: guid(name),
                esp: *name == "esp",
                start: at,
                size: *size,
            });
            at += size;
        }
        // Room for the backup GPT (33 sectors), rounded up.
        Layout {
            disk_guid,
            parts,
            total: at + ALIGN,
        }
    }

    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// Grows the last partition to fill a disk of `total` bytes.
    pub fn grow_to(&mut self, total: u64) -> Result<()> {
        if total < self.total {
            return Err(BuildError::Layout(format!(
                "the target has {total} bytes, the image needs at least {}",
                self.total
            )));
        }
        let end = (total - ALIGN) / ALIGN * ALIGN;
        if let Some(last) = self.parts.last_mut() {
            last.size = end - last.start;
        }
        self.total = total;
        Ok(())
    }

    /// Reads the layout of an image written by `paddock build`.
    pub fn read(path: &Path) -> Result<Layout> {
        let disk = gpt::GptConfig::new()
            .writable(false)
            .logical_block_size(LogicalBlockSize::Lb512)
            .open(path)
            .map_err(|e| BuildError::Layout(format!("{}: no GPT: {e}", path.display())))?;
        let total = std::fs::metadata(path)
            .map_err(io_err("reading", path))?
            .len();
        let parts = disk
            .partitions()
            .values()
            .map(|p| Part {
                name: p.name.clone(),
                guid: p.part_guid,
                esp: p.part_type_guid == partition_types::EFI,
                start: p.first_lba * SECTOR,
                size: (p.last_lba + 1 - p.first_lba) * SECTOR,
            })
            .collect();
        Ok(Layout {
            disk_guid: *disk.guid(),
            parts,
            total,
        })
    }

    /// Writes the protective MBR and both GPT headers to `file`.
    pub fn write_gpt(&self, file: &mut File) -> Result<()> {
        let gpt_err = |e: gpt::GptError| BuildError::Layout(format!("writing the GPT: {e}"));
        let sectors = self.total / SECTOR;
        let mbr =
            gpt::mbr::ProtectiveMBR::with_lb_size(u32::try_from(sectors - 1).unwrap_or(u32::MAX));
        mbr.overwrite_lba0(file)
            .map_err(|e| BuildError::Layout(format!("writing the MBR: {e}")))?;
        let mut disk = gpt::GptConfig::new()
            .writable(true)
            .logical_block_size(LogicalBlockSize::Lb512)
            .create_from_device(&mut *file, Some(self.disk_guid))
            .map_err(gpt_err)?;
        let mut map = BTreeMap::new();
        for (i, p) in self.parts.iter().enumerate() {
            let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
            map.insert(
                id,
                Partition {
                    part_type_guid: if p.esp {
                        partition_types::EFI
                    } else {
                        partition_types::LINUX_FS
                    },
                    part_guid: p.guid,
                    first_lba: p.start / SECTOR,
                    last_lba: (p.start + p.size) / SECTOR - 1,
                    flags: 0,
                    name: p.name.clone(),
                },
            );
        }
        disk.update_partitions(map).map_err(gpt_err)?;
        disk.write().map_err(gpt_err)?;
        Ok(())
    }
}

/// Copies `src` into `dst` at `offset`, seeking over all-zero blocks so the
/// result stays sparse. Returns the bytes copied.
pub fn copy_sparse(src: &Path, dst: &mut File, offset: u64, limit: u64) -> Result<u64> {
    let mut f = File::open(src).map_err(io_err("reading", src))?;
    let len = f.metadata().map_err(io_err("reading", src))?.len();
    if len > limit {
        return Err(BuildError::Layout(format!(
            "{} is {len} bytes, its partition {limit}",
            src.display()
        )));
    }
    copy_reader(&mut f, dst, offset, len, true)?;
    Ok(len)
}

/// Copies `len` bytes from `src` into `dst` at `offset`; with `sparse`,
/// all-zero blocks are skipped (for a fresh file, whose holes read as zeros).
pub fn copy_reader(
    src: &mut impl Read,
    dst: &mut File,
    offset: u64,
    len: u64,
    sparse: bool,
) -> Result<()> {
    let werr = |e: std::io::Error| BuildError::Layout(format!("writing the disk: {e}"));
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < len {
        let want = usize::try_from((len - done).min(buf.len() as u64)).unwrap_or(buf.len());
        src.read_exact(&mut buf[..want]).map_err(werr)?;
        for (i, chunk) in buf[..want].chunks(4096).enumerate() {
            if sparse && chunk.iter().all(|b| *b == 0) {
                continue;
            }
            dst.seek(SeekFrom::Start(offset + done + (i as u64) * 4096))
                .map_err(werr)?;
            dst.write_all(chunk).map_err(werr)?;
        }
        done += want as u64;
    }
    Ok(())
}
