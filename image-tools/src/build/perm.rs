//! The /perm file system: ext4 made by `mkfs.ext4` (Debian `e2fsprogs`)
//! with a fixed UUID, directory hash seed and time
//! (`E2FSPROGS_FAKE_TIME`), so it is reproducible. Used by `build` (in a
//! file) and by `write` (at an offset of the target, to fill a bigger disk).

use std::path::Path;
use std::process::Command;

use uuid::Uuid;

use super::error::Result;
use super::tool;

/// Makes an ext4 file system of `size` bytes at byte `offset` of `target`.
pub fn make(target: &Path, offset: u64, size: u64, uuid: Uuid, epoch: u64) -> Result<()> {
    let mut cmd = Command::new(tool::find("mkfs.ext4", "e2fsprogs")?);
    cmd.env("E2FSPROGS_FAKE_TIME", epoch.to_string())
        .env("MKE2FS_DEVICE_SECTSIZE", "512")
        .args(["-q", "-F", "-L", "perm", "-b", "4096", "-m", "0"])
        .arg("-U")
        .arg(uuid.to_string())
        .arg("-E")
        .arg(format!(
            "hash_seed={uuid},root_owner=0:0,offset={offset},lazy_itable_init=0,lazy_journal_init=0,nodiscard"
        ))
        .arg(target)
        .arg(format!("{}k", size / 1024));
    tool::run(cmd, "mkfs.ext4 (perm)")?;
    Ok(())
}
