//! A disk staged in files, as init's updater sees a real one: sysfs entries
//! for `vda` with partitions vda1 `root-a` and vda2 `root-b` (1 MiB plain
//! files under `dev/`) and a GPT header whose partition GUIDs are 0x11… and
//! 0x22…; with [`stage_device`] also an ESP directory, a kernel command
//! line, build.json, system.json and an update key. The update routes run against it on
//! the host.

use std::path::{Path, PathBuf};

/// Where the staged disk's `sys/` and `dev/` are.
pub struct StagedDisk {
    pub sys: PathBuf,
    pub dev: PathBuf,
}

/// Stages the disk under `dir`.
pub fn stage(dir: &Path) -> StagedDisk {
    let (sys, dev) = (dir.join("sys"), dir.join("dev"));
    let disk_dir = sys.join("devices/virtio1/block/vda");
    std::fs::create_dir_all(disk_dir.join("queue")).unwrap();
    std::fs::write(disk_dir.join("queue/logical_block_size"), "512\n").unwrap();
    std::fs::create_dir_all(sys.join("class/block")).unwrap();
    std::fs::create_dir_all(&dev).unwrap();
    for (n, name) in [(1, "root-a"), (2, "root-b")] {
        let part = disk_dir.join(format!("vda{n}"));
        std::fs::create_dir_all(&part).unwrap();
        std::fs::write(part.join("partition"), format!("{n}\n")).unwrap();
        std::fs::write(
            part.join("uevent"),
            format!("MAJOR=254\nPARTN={n}\nDEVNAME=vda{n}\nPARTNAME={name}\n"),
        )
        .unwrap();
        std::os::unix::fs::symlink(&part, sys.join(format!("class/block/vda{n}"))).unwrap();
        std::fs::write(dev.join(format!("vda{n}")), vec![0u8; 1 << 20]).unwrap();
    }
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
    StagedDisk { sys, dev }
}

/// The staged disk and the rest of what init's updater reads.
pub struct StagedDevice {
    pub disk: StagedDisk,
    /// The ESP, a directory, with `loader/entries/ENTRY` for each entry.
    pub esp: PathBuf,
    /// `root=x paddock.slot=RUNNING`.
    pub cmdline: PathBuf,
    pub build_json: PathBuf,
    /// `{"hostname":"t","update":{"tries":3}}`.
    pub system_json: PathBuf,
    /// The update key the device trusts (`update.pub`, its public half).
    pub update_key: paddock_trust::SigningKey,
    pub update_pub: PathBuf,
    /// Where the anti-rollback record goes (absent at first).
    pub marked_good: PathBuf,
}

/// Stages the disk, the ESP with `entries` (empty files but a title), the
/// command line of slot `running` and `build_json` under `dir`.
pub fn stage_device(dir: &Path, running: char, entries: &[&str], build_json: &str) -> StagedDevice {
    let disk = stage(dir);
    let esp = dir.join("esp");
    std::fs::create_dir_all(esp.join("loader/entries")).unwrap();
    for entry in entries {
        std::fs::write(esp.join("loader/entries").join(entry), "title t\n").unwrap();
    }
    let cmdline = dir.join("cmdline");
    std::fs::write(&cmdline, format!("root=x paddock.slot={running}\n")).unwrap();
    let build = dir.join("build.json");
    std::fs::write(&build, build_json).unwrap();
    let system_json = dir.join("system.json");
    std::fs::write(&system_json, r#"{"hostname":"t","update":{"tries":3}}"#).unwrap();
    let (update_key, _) = paddock_trust::SigningKey::generate().unwrap();
    let update_pub = dir.join("update.pub");
    std::fs::write(&update_pub, update_key.public().to_pem()).unwrap();
    StagedDevice {
        disk,
        esp,
        cmdline,
        build_json: build,
        system_json,
        update_key,
        update_pub,
        marked_good: dir.join("perm/paddock/update/marked-good.json"),
    }
}
