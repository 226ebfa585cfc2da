//! Finding a partition by its GPT unique GUID (`root=PARTUUID=…`) or name,
//! and a partition's GUID from its sysfs entry. Without
//! udev nothing publishes PARTUUIDs, so init reads the partition table.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The unique GUID of partition number `partn` (1-based) on `disk`, in the
/// usual lower-case text form.
pub fn partition_guid(
    disk: &Path,
    sector_size: u64,
    partn: u32,
) -> std::io::Result<Option<String>> {
    let mut f = File::open(disk)?;
    let mut header = [0u8; 92];
    f.seek(SeekFrom::Start(sector_size))?;
    f.read_exact(&mut header)?;
    if &header[0..8] != b"EFI PART" {
        return Ok(None);
    }
    let entries_lba = u64::from_le_bytes(header[72..80].try_into().unwrap_or_default());
    let count = u32::from_le_bytes(header[80..84].try_into().unwrap_or_default());
    let entry_size = u32::from_le_bytes(header[84..88].try_into().unwrap_or_default());
    if partn == 0 || partn > count || entry_size < 128 {
        return Ok(None);
    }
    let mut entry = [0u8; 128];
    f.seek(SeekFrom::Start(
        entries_lba * sector_size + u64::from(partn - 1) * u64::from(entry_size),
    ))?;
    f.read_exact(&mut entry)?;
    let guid: [u8; 16] = entry[16..32].try_into().unwrap_or_default();
    if guid == [0; 16] {
        return Ok(None);
    }
    Ok(Some(format_guid(&guid)))
}

/// GUIDs store their first three fields little-endian.
pub fn format_guid(g: &[u8; 16]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{}",
        u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        g[8],
        g[9],
        g[10..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Looks through the partitions the kernel knows (`/sys/class/block`) for
/// the one with this unique GUID; returns its /dev node.
pub fn find_by_partuuid(sys_block: &Path, dev: &Path, partuuid: &str) -> Option<PathBuf> {
    let want = partuuid.to_ascii_lowercase();
    for entry in std::fs::read_dir(sys_block).ok()?.flatten() {
        let part = entry.path();
        let Ok(partn) = std::fs::read_to_string(part.join("partition")) else {
            continue;
        };
        let Ok(partn) = partn.trim().parse::<u32>() else {
            continue;
        };
        // /sys/class/block/vda2 → …/block/vda/vda2: the parent is the disk.
        let Some(disk) = std::fs::canonicalize(&part)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        else {
            continue;
        };
        let Some(disk_name) = disk.file_name() else {
            continue;
        };
        let sector = std::fs::read_to_string(disk.join("queue/logical_block_size"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(512);
        match partition_guid(&dev.join(disk_name), sector, partn) {
            Ok(Some(guid)) if guid == want => return Some(dev.join(entry.file_name())),
            Ok(_) => {}
            Err(e) => tracing::debug!(disk = ?disk_name, "read partition table: {e}"),
        }
    }
    None
}

/// The unique GUID of the partition `name` (`vda2`) in `sys_block`, read
/// from its disk's partition table in `dev`.
pub fn partuuid_of(sys_block: &Path, dev: &Path, name: &str) -> std::io::Result<Option<String>> {
    let part = sys_block.join(name);
    let partn: u32 = std::fs::read_to_string(part.join("partition"))?
        .trim()
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{e}")))?;
    let disk = std::fs::canonicalize(&part)?
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| std::io::Error::other("partition without a disk"))?;
    let disk_name = disk
        .file_name()
        .ok_or_else(|| std::io::Error::other("partition without a disk"))?;
    let sector = std::fs::read_to_string(disk.join("queue/logical_block_size"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(512);
    partition_guid(&dev.join(disk_name), sector, partn)
}

/// The /dev node of the partition whose GPT name is `name` (the kernel
/// publishes it as PARTNAME in the partition's uevent).
pub fn find_by_partname(sys_block: &Path, dev: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(sys_block).ok()?.flatten() {
        let Ok(uevent) = std::fs::read_to_string(entry.path().join("uevent")) else {
            continue;
        };
        if uevent
            .lines()
            .any(|l| l.strip_prefix("PARTNAME=") == Some(name))
        {
            return Some(dev.join(entry.file_name()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text_form() {
        // 0FC63DAF-8483-4772-8E79-3D69D8477DE4 (Linux filesystem data) as stored on disk.
        let stored = [
            0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47,
            0x7D, 0xE4,
        ];
        assert_eq!(format_guid(&stored), "0fc63daf-8483-4772-8e79-3d69d8477de4");
    }

    #[test]
    fn reads_a_partition_table() {
        let tmp = tempfile::tempdir().unwrap();
        let disk = tmp.path().join("disk");
        let mut img = vec![0u8; 512 * 40];
        img[512..520].copy_from_slice(b"EFI PART");
        img[512 + 72..512 + 80].copy_from_slice(&2u64.to_le_bytes());
        img[512 + 80..512 + 84].copy_from_slice(&4u32.to_le_bytes());
        img[512 + 84..512 + 88].copy_from_slice(&128u32.to_le_bytes());
        let guid = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        let second = 1024 + 128;
        img[second + 16..second + 32].copy_from_slice(&guid);
        std::fs::write(&disk, img).unwrap();
        assert_eq!(
            partition_guid(&disk, 512, 2).unwrap().as_deref(),
            Some("04030201-0605-0807-090a-0b0c0d0e0f10")
        );
        assert_eq!(partition_guid(&disk, 512, 1).unwrap(), None, "empty entry");
        assert_eq!(
            partition_guid(&disk, 512, 5).unwrap(),
            None,
            "beyond the table"
        );
    }

    /// A staged /sys/class/block (links into a device tree, as in sysfs)
    /// and /dev with the disk as a plain file.
    #[test]
    fn finds_partitions_by_guid_and_name() {
        let tmp = tempfile::tempdir().unwrap();
        let (sys, dev) = (tmp.path().join("sys"), tmp.path().join("dev"));
        let disk_dir = sys.join("devices/pci0000:00/virtio1/block/vda");
        std::fs::create_dir_all(disk_dir.join("queue")).unwrap();
        std::fs::write(disk_dir.join("queue/logical_block_size"), "512\n").unwrap();
        std::fs::create_dir_all(sys.join("class/block")).unwrap();
        std::fs::create_dir_all(&dev).unwrap();
        for (n, name) in [(1, "root-a"), (2, "perm")] {
            let part = disk_dir.join(format!("vda{n}"));
            std::fs::create_dir_all(&part).unwrap();
            std::fs::write(part.join("partition"), format!("{n}\n")).unwrap();
            std::fs::write(
                part.join("uevent"),
                format!("MAJOR=254\nPARTN={n}\nDEVNAME=vda{n}\nPARTNAME={name}\n"),
            )
            .unwrap();
            std::os::unix::fs::symlink(&part, sys.join(format!("class/block/vda{n}"))).unwrap();
        }
        std::os::unix::fs::symlink(&disk_dir, sys.join("class/block/vda")).unwrap();
        let mut img = vec![0u8; 512 * 40];
        img[512..520].copy_from_slice(b"EFI PART");
        img[512 + 72..512 + 80].copy_from_slice(&2u64.to_le_bytes());
        img[512 + 80..512 + 84].copy_from_slice(&128u32.to_le_bytes());
        img[512 + 84..512 + 88].copy_from_slice(&128u32.to_le_bytes());
        for (i, fill) in [(0usize, 0x11u8), (1, 0x22)] {
            let at = 1024 + i * 128 + 16;
            img[at..at + 16].copy_from_slice(&[fill; 16]);
        }
        std::fs::write(dev.join("vda"), img).unwrap();

        let class = sys.join("class/block");
        assert_eq!(
            find_by_partuuid(&class, &dev, "22222222-2222-2222-2222-222222222222"),
            Some(dev.join("vda2"))
        );
        assert_eq!(
            find_by_partuuid(
                &class,
                &dev,
                "11111111-1111-1111-1111-111111111111"
                    .to_uppercase()
                    .as_str()
            ),
            Some(dev.join("vda1")),
            "case does not matter"
        );
        assert_eq!(
            find_by_partuuid(&class, &dev, "33333333-3333-3333-3333-333333333333"),
            None
        );
        assert_eq!(
            find_by_partname(&class, &dev, "perm"),
            Some(dev.join("vda2"))
        );
        assert_eq!(find_by_partname(&class, &dev, "nope"), None);
        assert_eq!(
            partuuid_of(&class, &dev, "vda1").unwrap().as_deref(),
            Some("11111111-1111-1111-1111-111111111111")
        );
    }
}
