//! Stage 1, in the initramfs: load the drivers for the hardware, find the
//! root partition named by `root=PARTUUID=…`, put a dm-verity device over
//! it when the command line carries `paddock.verity=` (every block read is
//! checked against the signed root hash; a changed one reads as an I/O
//! error), mount its SquashFS, and switch to it (the initramfs contents are
//! deleted to free their memory).

use std::convert::Infallible;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::mount::MsFlags;

use crate::gpt;
use crate::mounts::{mount, nosuid_nodev_noexec};

const ROOT_WAIT: Duration = Duration::from_secs(30);

pub fn run() -> anyhow::Result<Infallible> {
    mount(
        "devtmpfs",
        "/dev",
        "devtmpfs",
        MsFlags::MS_NOSUID,
        Some("mode=0755"),
    )?;
    mount("proc", "/proc", "proc", nosuid_nodev_noexec(), None)?;
    mount("sysfs", "/sys", "sysfs", nosuid_nodev_noexec(), None)?;

    let cmdline = std::fs::read_to_string("/proc/cmdline").context("read /proc/cmdline")?;
    let root = root_param(&cmdline)
        .context("no root= on the kernel command line (expected root=PARTUUID=<uuid>)")?
        .to_string();
    tracing::info!(%root, "stage 1: looking for the root partition");

    let loader = match paddock_kmod::ModuleIndex::for_running_kernel() {
        Ok(index) => Some(paddock_kmod::Loader::new(
            index,
            paddock_kmod::SysKernel::new(),
        )),
        Err(e) => {
            tracing::warn!("no kernel modules in the initramfs: {e}");
            None
        }
    };
    let coldplug = |loader: &Option<paddock_kmod::Loader>| {
        if let Some(l) = loader {
            let report = paddock_kmod::coldplug(l, Path::new("/sys/devices"));
            if !report.loaded.is_empty() {
                tracing::info!(modules = ?report.loaded, "coldplug");
            }
        }
    };
    coldplug(&loader);
    if let Some(l) = &loader {
        if let Err(e) = l.load("squashfs") {
            tracing::warn!("{e}");
        }
    }

    let started = Instant::now();
    let device = loop {
        if let Some(dev) = resolve_root(&root) {
            break dev;
        }
        if started.elapsed() > ROOT_WAIT {
            bail!(
                "root partition {root} did not appear within {}s",
                ROOT_WAIT.as_secs()
            );
        }
        // Slow controllers: devices may show up (and need drivers) later.
        std::thread::sleep(Duration::from_millis(250));
        coldplug(&loader);
    };
    let device = match paddock_wire::verity::VerityParams::from_cmdline(&cmdline) {
        None => {
            tracing::warn!(
                "stage 1: no paddock.verity= on the command line: the root is not verified"
            );
            device
        }
        Some(params) => {
            let params = params.map_err(anyhow::Error::msg)?;
            if let Some(l) = &loader {
                if let Err(e) = l.load("dm_verity") {
                    tracing::warn!("{e}");
                }
            }
            let dev = device.to_string_lossy().into_owned();
            let mapped = crate::device_mapper::create_read_only(
                "paddock-root",
                "verity",
                params.sectors(),
                &params.target_params(&dev),
            )
            .context("setting up dm-verity over the root")?;
            tracing::info!(root_hash = %params.root_hash, device = %mapped.display(), "stage 1: root verified by dm-verity");
            mapped
        }
    };
    tracing::info!(device = %device.display(), "stage 1: mounting root");

    let dev = device.to_string_lossy().into_owned();
    mount(&dev, "/newroot", "squashfs", MsFlags::MS_RDONLY, None)?;
    for dir in ["dev", "proc", "sys"] {
        let (from, to) = (format!("/{dir}"), format!("/newroot/{dir}"));
        nix::mount::mount(
            Some(from.as_str()),
            to.as_str(),
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .with_context(|| format!("move {from} to {to}"))?;
    }
    switch_root(Path::new("/newroot"))
}

/// The value of `root=` (the last one wins, as in the kernel).
pub fn root_param(cmdline: &str) -> Option<&str> {
    cmdline
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("root="))
        .next_back()
}

fn resolve_root(root: &str) -> Option<PathBuf> {
    if let Some(uuid) = root.strip_prefix("PARTUUID=") {
        return gpt::find_by_partuuid(Path::new("/sys/class/block"), Path::new("/dev"), uuid);
    }
    let path = Path::new(root);
    path.exists().then(|| path.to_path_buf())
}

/// Like busybox switch_root: empty the initramfs, make `new_root` the root,
/// exec its /sbin/init.
fn switch_root(new_root: &Path) -> anyhow::Result<Infallible> {
    for entry in std::fs::read_dir("/").context("read /")?.flatten() {
        let path = entry.path();
        if path == new_root {
            continue;
        }
        let removed = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if let Err(e) = removed {
            tracing::debug!(path = %path.display(), "clean initramfs: {e}");
        }
    }
    nix::unistd::chdir(new_root).context("chdir to the new root")?;
    nix::mount::mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .context("move the new root to /")?;
    nix::unistd::chroot(".").context("chroot to the new root")?;
    nix::unistd::chdir("/").context("chdir /")?;
    let init = CString::new("/sbin/init")?;
    let err = nix::unistd::execv(&init, std::slice::from_ref(&init)).unwrap_err();
    bail!("exec /sbin/init on the new root: {err}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_from_cmdline() {
        let c = "BOOT_IMAGE=/vmlinuz root=PARTUUID=0fc63daf-8483-4772-8e79-3d69d8477de4 paddock.slot=a console=ttyS0,115200\n";
        assert_eq!(
            root_param(c),
            Some("PARTUUID=0fc63daf-8483-4772-8e79-3d69d8477de4")
        );
        assert_eq!(root_param("quiet"), None);
    }
}
