//! Just enough of the device-mapper ioctl interface (linux/dm-ioctl.h) to
//! put a read-only `verity` target over the root partition in stage 1.
//!
//! Hand-written instead of the `devicemapper` crate: that crate generates
//! its bindings with bindgen (libclang at build time) and links
//! libdevmapper into the initramfs, for three ioctls on one fixed struct.
//! Android's apkdmverity does the same for the same reason.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

const DM_IOCTL: u8 = 0xfd;
const DM_DEV_CREATE_CMD: u8 = 3;
const DM_DEV_SUSPEND_CMD: u8 = 6;
const DM_TABLE_LOAD_CMD: u8 = 9;
const DM_READONLY_FLAG: u32 = 1;
const DM_NAME_LEN: usize = 128;
const DM_UUID_LEN: usize = 129;
const DM_MAX_TYPE_NAME: usize = 16;
const DATA_LEN: usize = 4096;

/// `struct dm_ioctl` (312 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
struct DmIoctl {
    version: [u32; 3],
    data_size: u32,
    data_start: u32,
    target_count: u32,
    open_count: i32,
    flags: u32,
    event_nr: u32,
    padding: u32,
    dev: u64,
    name: [u8; DM_NAME_LEN],
    uuid: [u8; DM_UUID_LEN],
    data: [u8; 7],
}

/// `struct dm_target_spec` (40 bytes), followed by its parameters.
#[repr(C)]
#[derive(Clone, Copy)]
struct DmTargetSpec {
    sector_start: u64,
    length: u64,
    status: i32,
    next: u32,
    target_type: [u8; DM_MAX_TYPE_NAME],
}

/// The header and room for one target's table line.
#[repr(C)]
struct Buffer {
    header: DmIoctl,
    data: [u8; DATA_LEN],
}

nix::ioctl_readwrite!(dm_dev_create, DM_IOCTL, DM_DEV_CREATE_CMD, DmIoctl);
nix::ioctl_readwrite!(dm_dev_suspend, DM_IOCTL, DM_DEV_SUSPEND_CMD, DmIoctl);
nix::ioctl_readwrite!(dm_table_load, DM_IOCTL, DM_TABLE_LOAD_CMD, DmIoctl);

impl Buffer {
    fn new(name: &str) -> anyhow::Result<Box<Buffer>> {
        if name.len() >= DM_NAME_LEN {
            bail!("device-mapper name {name:?} is too long");
        }
        let mut name_buf = [0u8; DM_NAME_LEN];
        name_buf[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Box::new(Buffer {
            header: DmIoctl {
                // The interface version we speak (4.0.0 and later).
                version: [4, 0, 0],
                data_size: std::mem::size_of::<Buffer>() as u32,
                data_start: std::mem::size_of::<DmIoctl>() as u32,
                target_count: 0,
                open_count: 0,
                flags: 0,
                event_nr: 0,
                padding: 0,
                dev: 0,
                name: name_buf,
                uuid: [0; DM_UUID_LEN],
                data: [0; 7],
            },
            data: [0; DATA_LEN],
        }))
    }

    fn ptr(&mut self) -> *mut DmIoctl {
        (self as *mut Buffer).cast()
    }
}

/// Creates `/dev/dm-N` named `name`: one read-only target of `sectors`
/// sectors of `target` (`verity`) with `params`; returns its /dev path.
pub fn create_read_only(
    name: &str,
    target: &str,
    sectors: u64,
    params: &str,
) -> anyhow::Result<PathBuf> {
    let control = File::options()
        .read(true)
        .write(true)
        .open("/dev/mapper/control")
        .context("opening /dev/mapper/control (is dm_mod loaded?)")?;
    let fd = control.as_raw_fd();

    let mut create = Buffer::new(name)?;
    // SAFETY: `create` is a live, correctly sized dm_ioctl buffer whose
    // data_size covers the whole allocation; the kernel writes within it.
    unsafe { dm_dev_create(fd, create.ptr()) }.with_context(|| format!("DM_DEV_CREATE {name}"))?;

    let mut load = Buffer::new(name)?;
    load.header.flags = DM_READONLY_FLAG;
    load.header.target_count = 1;
    let spec_len = std::mem::size_of::<DmTargetSpec>();
    let params_len = params.len() + 1;
    let next = (spec_len + params_len).div_ceil(8) * 8;
    if next > DATA_LEN || target.len() >= DM_MAX_TYPE_NAME {
        bail!("device-mapper table for {name} is too long");
    }
    let mut target_type = [0u8; DM_MAX_TYPE_NAME];
    target_type[..target.len()].copy_from_slice(target.as_bytes());
    let spec = DmTargetSpec {
        sector_start: 0,
        length: sectors,
        status: 0,
        next: next as u32,
        target_type,
    };
    // SAFETY: DmTargetSpec is plain old data of `spec_len` bytes; viewing
    // it as bytes for the copy reads only initialised memory.
    let spec_bytes = unsafe {
        std::slice::from_raw_parts((&spec as *const DmTargetSpec).cast::<u8>(), spec_len)
    };
    load.data[..spec_len].copy_from_slice(spec_bytes);
    load.data[spec_len..spec_len + params.len()].copy_from_slice(params.as_bytes());
    // SAFETY: as for DM_DEV_CREATE; the target spec and its NUL-terminated
    // parameters lie inside `data`.
    unsafe { dm_table_load(fd, load.ptr()) }
        .with_context(|| format!("DM_TABLE_LOAD {name}: {target} {params}"))?;

    let mut resume = Buffer::new(name)?;
    // SAFETY: as for DM_DEV_CREATE. Without DM_SUSPEND_FLAG this resumes
    // the device, which makes the loaded table live.
    unsafe { dm_dev_suspend(fd, resume.ptr()) }.with_context(|| format!("resuming {name}"))?;
    let dev = resume.header.dev;
    // The kernel's huge_encode_dev.
    let major = (dev >> 8) & 0xfff;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff_ff00);
    node(major, minor)
}

/// The /dev node of block device MAJOR:MINOR (devtmpfs makes it).
fn node(major: u64, minor: u64) -> anyhow::Result<PathBuf> {
    let want = format!("{major}:{minor}");
    for _ in 0..100 {
        for entry in std::fs::read_dir("/sys/class/block")?.flatten() {
            let dev = std::fs::read_to_string(entry.path().join("dev")).unwrap_or_default();
            if dev.trim() == want {
                let path = Path::new("/dev").join(entry.file_name());
                if path.exists() {
                    return Ok(path);
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bail!("no /dev node for the device-mapper device {want}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_have_the_kernels_sizes() {
        assert_eq!(std::mem::size_of::<DmIoctl>(), 312);
        assert_eq!(std::mem::size_of::<DmTargetSpec>(), 40);
        assert_eq!(std::mem::size_of::<Buffer>(), 312 + DATA_LEN);
    }
}
