//! Device nodes in the container and the device cgroup rules that let the
//! container use them: docker's standard set, the manifest's `devices`, or
//! every host device when privileged.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

use super::SpecError;
use crate::manifest::{DeviceMapping, Manifest};

fn rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<LinuxDeviceCgroup, SpecError> {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(typ)
        .access(access);
    if let Some(major) = major {
        b = b.major(major);
    }
    if let Some(minor) = minor {
        b = b.minor(minor);
    }
    Ok(b.build()?)
}

/// Deny everything, then allow what docker allows: mknod of any node, the
/// standard character devices, and the pty devices.
fn standard_rules() -> Result<Vec<LinuxDeviceCgroup>, SpecError> {
    use LinuxDeviceType::{A, B, C};
    Ok(vec![
        rule(false, A, None, None, "rwm")?,
        rule(true, C, None, None, "m")?,
        rule(true, B, None, None, "m")?,
        rule(true, C, Some(1), Some(3), "rwm")?, // /dev/null
        rule(true, C, Some(1), Some(5), "rwm")?, // /dev/zero
        rule(true, C, Some(1), Some(7), "rwm")?, // /dev/full
        rule(true, C, Some(1), Some(8), "rwm")?, // /dev/random
        rule(true, C, Some(1), Some(9), "rwm")?, // /dev/urandom
        rule(true, C, Some(5), Some(0), "rwm")?, // /dev/tty
        rule(true, C, Some(5), Some(1), "rwm")?, // /dev/console
        rule(true, C, Some(5), Some(2), "rwm")?, // /dev/ptmx
        rule(true, C, Some(136), None, "rwm")?,  // /dev/pts/*
    ])
}

/// Describes the host device node at `host` as `container`.
fn device(host: &Path, container: &Path) -> Result<Option<LinuxDevice>, SpecError> {
    let meta = std::fs::metadata(host).map_err(|e| SpecError::Device {
        path: host.to_path_buf(),
        source: e,
    })?;
    let typ = if meta.file_type().is_char_device() {
        LinuxDeviceType::C
    } else if meta.file_type().is_block_device() {
        LinuxDeviceType::B
    } else {
        return Ok(None);
    };
    let rdev = meta.rdev();
    Ok(Some(
        LinuxDeviceBuilder::default()
            .path(container)
            .typ(typ)
            .major(libc::major(rdev) as i64)
            .minor(libc::minor(rdev) as i64)
            .file_mode(meta.mode() & 0o7777)
            .uid(meta.uid())
            .gid(meta.gid())
            .build()?,
    ))
}

fn mapped(d: &DeviceMapping) -> Result<LinuxDevice, SpecError> {
    device(&d.host_path, &d.container_path)?.ok_or_else(|| SpecError::NotADevice {
        path: d.host_path.clone(),
    })
}

/// Every device node under the host's /dev, as docker adds them for
/// privileged containers (skipping the filesystems mounted anew inside).
fn host_devices(dir: &Path, out: &mut Vec<LinuxDevice>) -> Result<(), SpecError> {
    const SKIP: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
    let entries = std::fs::read_dir(dir).map_err(|e| SpecError::Device {
        path: dir.to_path_buf(),
        source: e,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            let skip = entry
                .file_name()
                .to_str()
                .is_some_and(|n| SKIP.contains(&n));
            if !skip {
                host_devices(&path, out)?;
            }
        } else if (file_type.is_char_device() || file_type.is_block_device())
            && path != Path::new("/dev/console")
        {
            // A node that vanished meanwhile is not an error.
            if let Ok(Some(d)) = device(&path, &path) {
                out.push(d);
            }
        }
    }
    Ok(())
}

/// The device nodes to create and the cgroup rules.
pub(crate) fn devices(
    m: &Manifest,
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), SpecError> {
    if m.privileged {
        let mut nodes = Vec::new();
        host_devices(Path::new("/dev"), &mut nodes)?;
        nodes.sort_by(|a, b| a.path().cmp(b.path()));
        return Ok((
            nodes,
            vec![rule(true, LinuxDeviceType::A, None, None, "rwm")?],
        ));
    }
    let mut nodes = Vec::new();
    let mut rules = standard_rules()?;
    for d in &m.devices {
        let node = mapped(d)?;
        rules.push(rule(
            true,
            node.typ(),
            Some(node.major()),
            Some(node.minor()),
            &d.permissions,
        )?);
        nodes.push(node);
    }
    Ok((nodes, rules))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::load_str;

    fn manifest(yaml: &str) -> Manifest {
        load_str(&format!("image: a\n{yaml}"), Path::new("web.yaml")).unwrap()
    }

    #[test]
    fn standard_rules_deny_first() {
        let (nodes, rules) = devices(&manifest("")).unwrap();
        assert!(nodes.is_empty());
        assert!(!rules[0].allow());
        assert_eq!(rules[0].typ(), Some(LinuxDeviceType::A));
        assert!(rules[1..].iter().all(|r| r.allow()));
        assert!(rules
            .iter()
            .any(|r| r.major() == Some(136) && r.minor().is_none()));
    }

    #[test]
    fn manifest_devices() {
        let (nodes, rules) = devices(&manifest("devices: ['/dev/null:/dev/mynull:rw']")).unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].path(), Path::new("/dev/mynull"));
        assert_eq!(
            (nodes[0].typ(), nodes[0].major(), nodes[0].minor()),
            (LinuxDeviceType::C, 1, 3)
        );
        let last = rules.last().unwrap();
        assert_eq!(
            (last.major(), last.minor(), last.access().as_deref()),
            (Some(1), Some(3), Some("rw"))
        );
    }

    #[test]
    fn missing_or_non_device_is_an_error() {
        let e = devices(&manifest("devices: [/dev/paddock-no-such-device]")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("device /dev/paddock-no-such-device: "),
            "{e}"
        );
        let e = devices(&manifest("devices: [/etc/hostname]")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "device /etc/hostname: not a character or block device"
        );
    }

    #[test]
    fn privileged_gets_host_devices() {
        let (nodes, rules) = devices(&manifest("privileged: true")).unwrap();
        assert!(nodes.iter().any(|n| n.path() == Path::new("/dev/null")));
        assert!(!nodes.iter().any(|n| n.path().starts_with("/dev/pts")));
        assert_eq!(rules.len(), 1);
        assert!(rules[0].allow());
    }
}
