//! The container's mounts: docker's standard filesystems, the host-kept
//! /etc files, and the manifest's volumes and tmpfs.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};

use super::{EtcFiles, SpecError};
use crate::manifest::{Manifest, Tmpfs, Volume};

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, SpecError> {
    Ok(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()?)
}

/// /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and the cgroup
/// filesystem, with docker's options (/sys and cgroups writable only when
/// privileged).
fn standard(privileged: bool) -> Result<Vec<Mount>, SpecError> {
    let ro_unless_privileged = if privileged { "rw" } else { "ro" };
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", ro_unless_privileged],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &[
                "nosuid",
                "noexec",
                "nodev",
                "relatime",
                ro_unless_privileged,
            ],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
        )?,
    ])
}

fn bind(dest: &Path, source: &Path, read_only: bool) -> Result<Mount, SpecError> {
    let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
    if read_only {
        options.push("ro".to_string());
    }
    Ok(MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(source)
        .options(options)
        .build()?)
}

/// `/perm/x` under `prefix` (`/` on the device).
pub(crate) fn under_prefix(prefix: &Path, path: &Path) -> PathBuf {
    prefix.join(path.strip_prefix("/").unwrap_or(path))
}

/// The host side of a volume; created as a directory when missing, like
/// docker does for bind mounts in the short syntax.
fn volume_source(v: &Volume, prefix: &Path) -> Result<PathBuf, SpecError> {
    let source = under_prefix(prefix, &v.source);
    match std::fs::symlink_metadata(&source) {
        Ok(_) => Ok(source),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !v.create_host_path {
                return Err(SpecError::VolumeSourceMissing { path: source });
            }
            std::fs::create_dir_all(&source).map_err(|e| SpecError::CreateVolumeSource {
                path: source.clone(),
                source: e,
            })?;
            Ok(source)
        }
        Err(e) => Err(SpecError::CreateVolumeSource {
            path: source,
            source: e,
        }),
    }
}

/// tmpfs options: docker's `noexec,nosuid,nodev` unless the manifest asks
/// for `exec`, `suid` or `dev`, then the manifest's options.
fn tmpfs_mount(t: &Tmpfs) -> Result<Mount, SpecError> {
    let mut options: Vec<String> = [("noexec", "exec"), ("nosuid", "suid"), ("nodev", "dev")]
        .iter()
        .filter(|(_, positive)| {
            !t.options
                .iter()
                .any(|o| o == positive || o == &format!("no{positive}"))
        })
        .map(|(default, _)| default.to_string())
        .collect();
    options.extend(t.options.iter().cloned());
    Ok(MountBuilder::default()
        .destination(&t.target)
        .typ("tmpfs")
        .source("tmpfs")
        .options(options)
        .build()?)
}

/// Every mount, parents before children.
pub(crate) fn mounts(m: &Manifest, etc: &EtcFiles, prefix: &Path) -> Result<Vec<Mount>, SpecError> {
    let mut out = standard(m.privileged)?;
    out.push(bind(Path::new("/etc/resolv.conf"), &etc.resolv_conf, true)?);
    out.push(bind(Path::new("/etc/hosts"), &etc.hosts, true)?);
    out.push(bind(Path::new("/etc/hostname"), &etc.hostname, true)?);
    let mut user: Vec<Mount> = Vec::new();
    for v in &m.volumes {
        user.push(bind(&v.target, &volume_source(v, prefix)?, v.read_only)?);
    }
    for t in &m.tmpfs {
        user.push(tmpfs_mount(t)?);
    }
    // Stable sort by depth, like docker: /data before /data/cache.
    user.sort_by_key(|mount| mount.destination().components().count());
    out.extend(user);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::load_str;

    fn manifest(yaml: &str) -> Manifest {
        load_str(&format!("image: a\n{yaml}"), Path::new("web.yaml")).unwrap()
    }

    fn etc() -> EtcFiles {
        EtcFiles {
            resolv_conf: "/run/paddock/etc/web/resolv.conf".into(),
            hosts: "/run/paddock/etc/web/hosts".into(),
            hostname: "/run/paddock/etc/web/hostname".into(),
        }
    }

    fn find<'a>(mounts: &'a [Mount], dest: &str) -> &'a Mount {
        mounts
            .iter()
            .find(|m| m.destination() == Path::new(dest))
            .unwrap()
    }

    fn options(m: &Mount) -> Vec<&str> {
        m.options()
            .as_ref()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn standard_mounts_and_etc_files() {
        let prefix = tempfile::tempdir().unwrap();
        let all = mounts(&manifest(""), &etc(), prefix.path()).unwrap();
        let dests: Vec<_> = all
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm",
                "/etc/resolv.conf",
                "/etc/hosts",
                "/etc/hostname"
            ]
        );
        assert!(options(find(&all, "/sys")).contains(&"ro"));
        assert!(options(find(&all, "/sys/fs/cgroup")).contains(&"ro"));
        let resolv = find(&all, "/etc/resolv.conf");
        assert_eq!(
            resolv.source().as_deref(),
            Some(Path::new("/run/paddock/etc/web/resolv.conf"))
        );
        assert_eq!(options(resolv), ["rbind", "rprivate", "ro"]);
    }

    #[test]
    fn privileged_gets_writable_sys() {
        let prefix = tempfile::tempdir().unwrap();
        let all = mounts(&manifest("privileged: true"), &etc(), prefix.path()).unwrap();
        assert!(options(find(&all, "/sys")).contains(&"rw"));
        assert!(options(find(&all, "/sys/fs/cgroup")).contains(&"rw"));
    }

    #[test]
    fn volumes_are_resolved_under_the_prefix_and_created() {
        let prefix = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(prefix.path().join("perm/existing")).unwrap();
        std::fs::write(prefix.path().join("perm/existing/file"), "x").unwrap();
        let m = manifest(
            "volumes:\n  - /perm/data/cache:/data/cache\n  - /perm/data:/data:ro\n  - /perm/existing/file:/etc/app.conf:ro\ntmpfs: ['/run:size=1m', '/data/tmp:exec']\n",
        );
        let all = mounts(&m, &etc(), prefix.path()).unwrap();
        let user: Vec<_> = all[10..]
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(
            user,
            ["/data", "/run", "/data/cache", "/etc/app.conf", "/data/tmp"]
        );
        let data = find(&all, "/data");
        assert_eq!(
            data.source().as_deref(),
            Some(prefix.path().join("perm/data").as_path())
        );
        assert_eq!(options(data), ["rbind", "rprivate", "ro"]);
        assert_eq!(options(find(&all, "/data/cache")), ["rbind", "rprivate"]);
        assert!(
            prefix.path().join("perm/data/cache").is_dir(),
            "missing source is created"
        );
        assert!(
            prefix.path().join("perm/existing/file").is_file(),
            "existing file is left alone"
        );
        assert_eq!(
            options(find(&all, "/run")),
            ["noexec", "nosuid", "nodev", "size=1048576"]
        );
        assert_eq!(
            options(find(&all, "/data/tmp")),
            ["nosuid", "nodev", "exec"]
        );
    }

    #[test]
    fn missing_source_without_create_host_path() {
        let prefix = tempfile::tempdir().unwrap();
        let m = manifest("volumes:\n  - {type: bind, source: /perm/none, target: /x, bind: {create_host_path: false}}\n");
        let e = mounts(&m, &etc(), prefix.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "volume source {} does not exist (create_host_path is false)",
                prefix.path().join("perm/none").display()
            )
        );
        assert!(!prefix.path().join("perm/none").exists());
    }
}
