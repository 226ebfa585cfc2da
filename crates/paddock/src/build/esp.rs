//! The EFI system partition: FAT32 written with the `fatfs` crate (fixed
//! volume id, time stamps at the FAT epoch because the crate's clock is
//! off), holding systemd-boot, its loader entries and a kernel + initramfs
//! per root slot, and the loader entries of both slots.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use paddock_wire::boot_entry as entries;
use paddock_wire::slot::Slot;

use super::error::{io_err, BuildError, Result};

/// systemd-boot as Debian's `systemd-boot-efi` installs it.
pub const SYSTEMD_BOOT: &str = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";

/// One file on the ESP.
pub struct EspFile {
    /// `EFI/BOOT/BOOTX64.EFI`, …
    pub path: String,
    pub data: Vec<u8>,
}

/// Writes a FAT32 file system of `size` bytes to `out` holding `files`.
pub fn make(out: &Path, size: u64, volume_id: u32, files: &[EspFile]) -> Result<()> {
    let fat = |e: std::io::Error| BuildError::Layout(format!("writing the ESP (FAT32): {e}"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .map_err(io_err("creating", out))?;
    file.set_len(size).map_err(io_err("sizing", out))?;
    let sectors = size / 512;
    // FAT32 needs at least 65525 clusters.
    let cluster = [4096u32, 2048, 1024, 512]
        .into_iter()
        .find(|c| sectors * 512 / u64::from(*c) > 66_000)
        .ok_or_else(|| BuildError::Layout("the ESP is too small for FAT32".into()))?;
    let total =
        u32::try_from(sectors).map_err(|_| BuildError::Layout("the ESP is too large".into()))?;
    fatfs::format_volume(
        &file,
        fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .bytes_per_cluster(cluster)
            .total_sectors(total)
            .volume_id(volume_id)
            .volume_label(*b"PADDOCK-ESP"),
    )
    .map_err(fat)?;
    let fs = fatfs::FileSystem::new(&file, fatfs::FsOptions::new()).map_err(fat)?;
    let root = fs.root_dir();
    let mut sorted: Vec<&EspFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for f in sorted {
        let mut dir = root.clone();
        let parts: Vec<&str> = f.path.split('/').collect();
        let (name, dirs) = parts
            .split_last()
            .ok_or_else(|| BuildError::Layout("empty ESP path".into()))?;
        for d in dirs {
            dir = match dir.open_dir(d) {
                Ok(existing) => existing,
                Err(_) => dir.create_dir(d).map_err(fat)?,
            };
        }
        let mut w = dir.create_file(name).map_err(fat)?;
        w.truncate().map_err(fat)?;
        w.write_all(&f.data).map_err(fat)?;
    }
    drop(root);
    fs.unmount().map_err(fat)?;
    Ok(())
}

/// The initial loader entries: both slots good, slot A's generation higher
/// so systemd-boot boots it (the naming: paddock_init::update::entries).
pub fn initial_entries(
    partuuid: impl Fn(Slot) -> String,
    version: &str,
    verity: Option<&paddock_wire::verity::VerityParams>,
) -> Vec<EspFile> {
    [(Slot::A, 2), (Slot::B, 1)]
        .into_iter()
        .map(|(slot, generation)| EspFile {
            path: format!(
                "{}/{}",
                entries::ENTRIES_DIR,
                entries::file_name(generation, slot, None)
            ),
            data: entries::contents(slot, generation, &partuuid(slot), version, verity)
                .into_bytes(),
        })
        .collect()
}

/// `loader/loader.conf`: no `default` (the entries' order decides).
pub const LOADER_CONF: &str = entries::LOADER_CONF;
