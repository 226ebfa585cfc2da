//! Where an update's pieces live on this device: the kernel command line
//! (running slot), the partitions (by GPT name, through sysfs), the ESP,
//! build.json and system.json. Every path is a field so tests can stage
//! them.

use paddock_wire::build_info::BuildInfo;
use std::path::PathBuf;

use super::error::UpdateError;
use super::esp::{Esp, MountedEsp};
use crate::gpt;
use paddock_wire::paths;
use paddock_wire::slot::Slot;

#[derive(Debug, Clone)]
pub struct Device {
    /// `/proc/cmdline`.
    pub cmdline: PathBuf,
    /// `/sys/class/block`.
    pub sys_block: PathBuf,
    /// `/dev`.
    pub dev: PathBuf,
    pub esp: Esp,
    /// `/etc/paddock/build.json` (version, build time, kernel).
    pub build_json: PathBuf,
    /// `/etc/paddock/system.json` (update settings).
    pub system_json: PathBuf,
    /// `/etc/paddock/update.pub`: the key updates must be signed with.
    pub update_key: PathBuf,
    /// `/perm/paddock/update/marked-good.json`: the anti-rollback record.
    pub marked_good: PathBuf,
}

impl Device {
    /// The real device.
    pub fn system() -> Self {
        Self {
            cmdline: "/proc/cmdline".into(),
            sys_block: "/sys/class/block".into(),
            dev: "/dev".into(),
            esp: Esp::Partition {
                partname: "esp".into(),
                mountpoint: "/run/paddock/esp".into(),
            },
            build_json: "/etc/paddock/build.json".into(),
            system_json: "/etc/paddock/system.json".into(),
            update_key: PathBuf::from("/etc/paddock").join(paths::UPDATE_KEY_FILE),
            marked_good: PathBuf::from("/perm").join(paths::MARKED_GOOD_FILE),
        }
    }

    /// The slot the running system booted from.
    pub fn running_slot(&self) -> Result<Slot, UpdateError> {
        let text = std::fs::read_to_string(&self.cmdline)
            .map_err(UpdateError::io("reading", &self.cmdline))?;
        Slot::from_cmdline(&text).ok_or_else(|| {
            UpdateError::Slot(format!(
                "no paddock.slot=a|b in {}: {}",
                self.cmdline.display(),
                text.trim()
            ))
        })
    }

    /// The /dev node of the partition named `name`.
    pub fn partition(&self, name: &str) -> Result<PathBuf, UpdateError> {
        gpt::find_by_partname(&self.sys_block, &self.dev, name)
            .ok_or_else(|| UpdateError::NoPartition(name.to_string()))
    }

    /// The unique GUID of a slot's root partition (for `root=PARTUUID=`).
    pub fn partuuid(&self, slot: Slot) -> Result<String, UpdateError> {
        let dev = self.partition(slot.partname())?;
        let name = dev
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        gpt::partuuid_of(&self.sys_block, &self.dev, &name)
            .map_err(UpdateError::io("reading the partition table of", &dev))?
            .ok_or_else(|| UpdateError::NoPartition(format!("{} (no GUID)", slot.partname())))
    }

    pub fn mount_esp(&self) -> Result<MountedEsp, UpdateError> {
        self.esp
            .mount(|name| gpt::find_by_partname(&self.sys_block, &self.dev, name))
    }

    /// build.json (empty when missing or unreadable).
    pub fn build_info(&self) -> BuildInfo {
        BuildInfo::read(&self.build_json)
    }
}
