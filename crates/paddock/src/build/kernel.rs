//! The kernel: a Debian `linux-image-*` package fetched with
//! `apt-get download` (a metapackage such as `linux-image-cloud-amd64` is
//! resolved through its dependency) and cached, or a local `.deb`; unpacked
//! with `dpkg-deb`, and `depmod -b` run on it because the package ships no
//! `modules.dep` (Debian's postinst makes it on install).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::{io_err, BuildError, Result};
use super::tool;

/// An unpacked kernel package.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// `uname -r`, e.g. `6.1.0-56-cloud-amd64`.
    pub release: String,
    /// The package that holds vmlinuz and the modules, and its version.
    pub package: String,
    pub package_version: String,
    /// sha256 of the .deb.
    pub deb_sha256: String,
    pub vmlinuz: PathBuf,
    /// `<unpacked>/lib/modules/<release>`, with depmod's output.
    pub modules: PathBuf,
}

/// Where the kernel comes from.
pub enum KernelInput<'a> {
    Package(&'a str),
    Deb(&'a Path),
}

/// Fetches (or takes from `cache`) and unpacks the kernel. The unpacked
/// tree, with depmod's output, is cached too, under
/// `cache/unpacked/<sha256 of the .deb>` (renamed into place when complete).
pub fn prepare(input: KernelInput<'_>, cache: &Path) -> Result<Kernel> {
    let dpkg_deb = tool::find("dpkg-deb", "dpkg")?;
    let depmod = tool::find("depmod", "kmod")?;
    let mut deb = match input {
        KernelInput::Deb(p) => p.to_path_buf(),
        KernelInput::Package(name) => download(name, cache)?,
    };
    let unpacked_dir = cache.join("unpacked");
    // A metapackage has no vmlinuz: follow its linux-image-* dependency.
    for _ in 0..3 {
        let fields = control_fields(&dpkg_deb, &deb)?;
        let package = fields.get("Package").cloned().unwrap_or_default();
        let deb_sha256 = super::sbom::sha256_file(&deb)?;
        let kernel = |root: &Path, vmlinuz: PathBuf| -> Result<Kernel> {
            let release = vmlinuz
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("vmlinuz-"))
                .unwrap_or_default()
                .to_string();
            let modules = root.join("lib/modules").join(&release);
            if !modules.is_dir() {
                return Err(BuildError::Kernel(format!(
                    "{package}: no lib/modules/{release} in the package"
                )));
            }
            Ok(Kernel {
                release,
                package: package.clone(),
                package_version: fields.get("Version").cloned().unwrap_or_default(),
                deb_sha256: deb_sha256.clone(),
                vmlinuz,
                modules,
            })
        };
        let cached = unpacked_dir.join(&deb_sha256);
        if let Some(vmlinuz) = find_vmlinuz(&cached.join("boot"))? {
            return kernel(&cached, vmlinuz);
        }
        std::fs::create_dir_all(&unpacked_dir).map_err(io_err("creating", &unpacked_dir))?;
        let tmp = tempfile::Builder::new()
            .prefix(".unpack-")
            .tempdir_in(&unpacked_dir)
            .map_err(io_err("creating a temp dir in", &unpacked_dir))?;
        let mut cmd = Command::new(&dpkg_deb);
        cmd.arg("-x").arg(&deb).arg(tmp.path());
        tool::run(cmd, &format!("dpkg-deb -x {}", deb.display()))?;
        if let Some(vmlinuz) = find_vmlinuz(&tmp.path().join("boot"))? {
            let release = kernel(tmp.path(), vmlinuz)?.release;
            let mut cmd = Command::new(&depmod);
            cmd.arg("-b").arg(tmp.path()).arg(&release);
            tool::run(cmd, "depmod")?;
            // Another build may have cached the same package meanwhile.
            let tmp = tmp.keep();
            if std::fs::rename(&tmp, &cached).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            let vmlinuz = find_vmlinuz(&cached.join("boot"))?.ok_or_else(|| {
                BuildError::Kernel(format!("{}: no boot/vmlinuz-*", cached.display()))
            })?;
            return kernel(&cached, vmlinuz);
        }
        let depends = fields.get("Depends").cloned().unwrap_or_default();
        let Some(next) = depends
            .split(',')
            .filter_map(|d| d.split('|').next())
            .filter_map(|d| d.split_whitespace().next())
            .find(|d| d.starts_with("linux-image-"))
        else {
            return Err(BuildError::Kernel(format!(
                "{package} has no boot/vmlinuz-* and depends on no linux-image-* package"
            )));
        };
        deb = download(next, cache)?;
    }
    Err(BuildError::Kernel(
        "too many metapackage levels".to_string(),
    ))
}

fn find_vmlinuz(boot: &Path) -> Result<Option<PathBuf>> {
    let Ok(rd) = std::fs::read_dir(boot) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .collect();
    found.sort();
    Ok(found.pop())
}

fn control_fields(dpkg_deb: &Path, deb: &Path) -> Result<BTreeMap<String, String>> {
    let mut cmd = Command::new(dpkg_deb);
    cmd.arg("-f").arg(deb);
    let out = tool::run(cmd, &format!("dpkg-deb -f {}", deb.display()))?;
    Ok(parse_fields(&String::from_utf8_lossy(&out.stdout)))
}

/// `Key: value` lines (continuation lines are appended).
fn parse_fields(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = last.as_ref().and_then(|k| map.get_mut(k)) {
                let v: &mut String = v;
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            map.insert(k.trim().to_string(), v.trim().to_string());
            last = Some(k.trim().to_string());
        }
    }
    map
}

/// The .deb of `package` (candidate version), downloaded once into `cache`.
fn download(package: &str, cache: &Path) -> Result<PathBuf> {
    let apt_cache = tool::find("apt-cache", "apt")?;
    let apt_get = tool::find("apt-get", "apt")?;
    let mut cmd = Command::new(&apt_cache);
    cmd.args(["show", "--no-all-versions", package]);
    let out = cmd.output().map_err(io_err("running", &apt_cache))?;
    let fields = parse_fields(&String::from_utf8_lossy(&out.stdout));
    let (Some(version), Some(filename)) = (fields.get("Version"), fields.get("Filename")) else {
        return Err(BuildError::Kernel(format!(
            "package {package:?} is unknown to apt (check the name in config.yaml; run apt-get update)"
        )));
    };
    let base = Path::new(filename)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("{package}.deb")));
    let cached = cache.join(&base);
    if cached.is_file() {
        return Ok(cached);
    }
    std::fs::create_dir_all(cache).map_err(io_err("creating", cache))?;
    let tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(cache)
        .map_err(io_err("creating a temp dir in", cache))?;
    let mut cmd = Command::new(&apt_get);
    cmd.current_dir(tmp.path())
        .args(["download", "-q"])
        .arg(format!("{package}={version}"));
    tool::run(cmd, &format!("apt-get download {package}={version}"))?;
    let got = std::fs::read_dir(tmp.path())
        .map_err(io_err("reading", tmp.path()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| BuildError::Kernel(format!("apt-get download {package} wrote no .deb")))?;
    std::fs::rename(&got, &cached).map_err(io_err("caching", &cached))?;
    Ok(cached)
}

/// Modules the initramfs needs to find and mount the root on virtual
/// machines and common hardware; the first group must exist.
const REQUIRED_MODULES: &[&str] = &["virtio_pci", "virtio_blk", "squashfs", "dm_verity"];
const OPTIONAL_MODULES: &[&str] = &[
    "virtio_scsi",
    "sd_mod",
    "nvme",
    "ahci",
    "ata_piix",
    "xhci_pci",
    "ehci_pci",
    "usb_storage",
    "uas",
    "mmc_block",
    "sdhci_pci",
    "sdhci_acpi",
];

/// Copies the modules for the initramfs (and everything they depend on,
/// from `modules.dep`) into `<dest>/lib/modules/<release>` and runs depmod there.
pub fn initramfs_modules(kernel: &Kernel, dest: &Path) -> Result<Vec<String>> {
    let dep_path = kernel.modules.join("modules.dep");
    let dep_text = std::fs::read_to_string(&dep_path).map_err(io_err("reading", &dep_path))?;
    let mut deps: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for line in dep_text.lines() {
        let Some((file, rest)) = line.split_once(':') else {
            continue;
        };
        let list = rest.split_whitespace().map(str::to_string).collect();
        deps.insert(module_name(file), (file.to_string(), list));
    }
    let mut wanted: Vec<&str> = Vec::new();
    for m in REQUIRED_MODULES {
        if !deps.contains_key(*m) {
            return Err(BuildError::Kernel(format!(
                "module {m} is missing (built in kernels are not supported yet: the initramfs loads it)"
            )));
        }
        wanted.push(m);
    }
    wanted.extend(OPTIONAL_MODULES.iter().filter(|m| deps.contains_key(**m)));
    let mut files = BTreeSet::new();
    for m in wanted {
        if let Some((file, list)) = deps.get(m) {
            files.insert(file.clone());
            files.extend(list.iter().cloned());
        }
    }
    let target = dest.join("lib/modules").join(&kernel.release);
    for rel in &files {
        let to = target.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io_err("creating", parent))?;
        }
        let from = kernel.modules.join(rel);
        std::fs::copy(&from, &to).map_err(io_err("copying", &from))?;
    }
    for f in [
        "modules.order",
        "modules.builtin",
        "modules.builtin.modinfo",
    ] {
        let from = kernel.modules.join(f);
        if from.is_file() {
            std::fs::copy(&from, target.join(f)).map_err(io_err("copying", &from))?;
        }
    }
    let mut cmd = Command::new(tool::find("depmod", "kmod")?);
    cmd.arg("-b").arg(dest).arg(&kernel.release);
    tool::run(cmd, "depmod (initramfs)")?;
    Ok(files.iter().map(|f| module_name(f)).collect())
}

/// `kernel/drivers/block/virtio_blk.ko.xz` → `virtio_blk`.
fn module_name(file: &str) -> String {
    let base = file.rsplit('/').next().unwrap_or(file);
    let stem = base.split(".ko").next().unwrap_or(base);
    stem.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_fields_and_module_names() {
        let f = parse_fields("Package: linux-image-cloud-amd64\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)\nDescription: x\n more\n");
        assert_eq!(f["Version"], "6.1.192-2");
        assert_eq!(f["Description"], "x more");
        assert_eq!(
            module_name("kernel/drivers/block/virtio_blk.ko"),
            "virtio_blk"
        );
        assert_eq!(module_name("a/b/nf-tables.ko.zst"), "nf_tables");
    }
}
