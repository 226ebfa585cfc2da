//! `volumes`, `tmpfs` and `devices`: what the container sees besides its image.

use std::path::{Component, Path, PathBuf};

use super::error::{Issue, Pos};
use super::types::{DeviceMapping, Tmpfs, Volume};
use super::units::parse_bytes;
use super::value::{at, boolean, list, string_or_list, text, Fields, Node, Value};

pub(crate) const VOLUME: &str = "\"HOST_PATH:CONTAINER_PATH[:ro|rw]\" with absolute paths, or {type: bind|tmpfs, source, target, read_only}";
pub(crate) const TMPFS: &str = "\"CONTAINER_PATH[:OPTIONS]\" such as \"/run:size=64m,mode=1777\"";
pub(crate) const DEVICE: &str =
    "\"HOST_PATH[:CONTAINER_PATH][:PERMISSIONS]\" such as \"/dev/ttyUSB0:/dev/ttyUSB0:rwm\"";

/// A cleaned absolute path: no `..`, `.`, repeated or trailing slashes.
pub(crate) fn absolute(s: &str) -> Result<PathBuf, &'static str> {
    let path = Path::new(s);
    if !path.is_absolute() {
        return Err("path must be absolute");
    }
    if s.contains('\0') {
        return Err("path must not contain NUL");
    }
    let mut clean = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => clean.push(part),
            Component::ParentDir => return Err("path must not contain \"..\""),
            Component::Prefix(_) => return Err("path must be absolute"),
        }
    }
    Ok(clean)
}

/// A mount target: absolute and not `/` itself.
fn target(s: &str) -> Result<PathBuf, &'static str> {
    let p = absolute(s)?;
    if p == Path::new("/") {
        return Err("cannot mount over \"/\"");
    }
    Ok(p)
}

/// Everything `volumes` declares: bind mounts, and tmpfs mounts from the
/// long syntax's `type: tmpfs`.
#[derive(Default)]
pub(crate) struct Mounts {
    pub volumes: Vec<Volume>,
    pub tmpfs: Vec<Tmpfs>,
    /// Position and path of each mount (volumes then tmpfs, in order), for
    /// the duplicate-target check.
    pub volume_at: Vec<(Pos, String)>,
    pub tmpfs_at: Vec<(Pos, String)>,
}

pub(crate) fn volumes(node: &Node, path: &str, out: &mut Mounts) -> Result<(), Issue> {
    for (i, item) in list(node, path, &format!("a list of {VOLUME}"))?
        .iter()
        .enumerate()
    {
        let p = format!("{path}[{i}]");
        match &item.value {
            Value::Map(_) => long_volume(item, &p, out)?,
            _ => {
                let s = text(item, &p, VOLUME)?;
                out.volumes.push(
                    short_volume(&s)
                        .map_err(|problem| Issue::value(at(item), &p, &s, problem, VOLUME))?,
                );
                out.volume_at.push((at(item), p));
            }
        }
    }
    Ok(())
}

fn short_volume(s: &str) -> Result<Volume, &'static str> {
    let parts: Vec<&str> = s.split(':').collect();
    let (source, dest, mode) = match parts.as_slice() {
        [_] => return Err("anonymous volumes are not supported; give a host path"),
        [h, c] => (*h, *c, None),
        [h, c, m] => (*h, *c, Some(*m)),
        _ => return Err("too many ':'"),
    };
    if !source.starts_with('/') {
        return Err("host path must be absolute (named volumes are not supported)");
    }
    let mut read_only = false;
    if let Some(mode) = mode {
        for opt in mode.split(',') {
            match opt {
                "ro" => read_only = true,
                "rw" => read_only = false,
                _ => return Err("unknown option (only ro and rw are supported)"),
            }
        }
    }
    Ok(Volume {
        source: absolute(source).map_err(|_| "host path must be absolute, without \"..\"")?,
        target: target(dest).map_err(|e| match e {
            "cannot mount over \"/\"" => e,
            _ => "container path must be absolute, without \"..\"",
        })?,
        read_only,
        create_host_path: true,
    })
}

fn long_volume(item: &Node, p: &str, out: &mut Mounts) -> Result<(), Issue> {
    let fields = Fields::new(
        item,
        p,
        &["type", "source", "target", "read_only", "bind", "tmpfs"],
        VOLUME,
    )?;
    let Some(typ_node) = fields.get("type") else {
        return Err(Issue::new(
            at(item),
            &fields.path("type"),
            "is required",
            "bind or tmpfs",
        ));
    };
    let typ = text(typ_node, &fields.path("type"), "bind or tmpfs")?;
    let Some(target_node) = fields.get("target") else {
        return Err(Issue::new(
            at(item),
            &fields.path("target"),
            "is required",
            "an absolute path in the container",
        ));
    };
    let target_text = text(target_node, &fields.path("target"), "an absolute path")?;
    let dest = target(&target_text).map_err(|problem| {
        Issue::value(
            at(target_node),
            &fields.path("target"),
            &target_text,
            problem,
            "an absolute path in the container",
        )
    })?;
    let read_only = fields
        .get("read_only")
        .map(|n| boolean(n, &fields.path("read_only")))
        .transpose()?
        .unwrap_or(false);
    match typ.as_str() {
        "bind" => {
            if let Some(n) = fields.get("tmpfs") {
                return Err(Issue::new(
                    at(n),
                    &fields.path("tmpfs"),
                    "only for type: tmpfs",
                    "",
                ));
            }
            let Some(source_node) = fields.get("source") else {
                return Err(Issue::new(
                    at(item),
                    &fields.path("source"),
                    "is required for type: bind",
                    "an absolute host path",
                ));
            };
            let source_text = text(source_node, &fields.path("source"), "an absolute host path")?;
            let source = absolute(&source_text).map_err(|problem| {
                Issue::value(
                    at(source_node),
                    &fields.path("source"),
                    &source_text,
                    problem,
                    "an absolute host path",
                )
            })?;
            let mut create_host_path = true;
            if let Some(bind) = fields.get("bind") {
                let bind_fields = Fields::new(
                    bind,
                    &fields.path("bind"),
                    &["create_host_path"],
                    "{create_host_path: true|false}",
                )?;
                if let Some(n) = bind_fields.get("create_host_path") {
                    create_host_path = boolean(n, &bind_fields.path("create_host_path"))?;
                }
            }
            out.volumes.push(Volume {
                source,
                target: dest,
                read_only,
                create_host_path,
            });
            out.volume_at.push((at(item), p.to_string()));
        }
        "tmpfs" => {
            for key in ["source", "bind"] {
                if let Some(n) = fields.get(key) {
                    return Err(Issue::new(
                        at(n),
                        &fields.path(key),
                        "not allowed for type: tmpfs",
                        "",
                    ));
                }
            }
            let mut options = Vec::new();
            if let Some(t) = fields.get("tmpfs") {
                let tf = Fields::new(
                    t,
                    &fields.path("tmpfs"),
                    &["size", "mode"],
                    "{size: BYTES, mode: OCTAL}",
                )?;
                if let Some(n) = tf.get("size") {
                    let bytes = super::units::bytes(n, &tf.path("size"))?;
                    options.push(format!("size={bytes}"));
                }
                if let Some(n) = tf.get("mode") {
                    // YAML reads 1777 as a decimal number; its digits are the octal mode.
                    let digits = text(n, &tf.path("mode"), "an octal mode such as 1777")?;
                    let mode = octal_mode(&digits).map_err(|problem| {
                        Issue::value(
                            at(n),
                            &tf.path("mode"),
                            &digits,
                            problem,
                            "an octal mode such as 1777",
                        )
                    })?;
                    options.push(format!("mode={mode:o}"));
                }
            }
            if read_only {
                options.push("ro".to_string());
            }
            out.tmpfs.push(Tmpfs {
                target: dest,
                options,
            });
            out.tmpfs_at.push((at(item), p.to_string()));
        }
        "volume" => {
            return Err(Issue::value(
                at(typ_node),
                &fields.path("type"),
                &typ,
                "named volumes are not supported; bind-mount a host directory",
                "bind or tmpfs",
            ))
        }
        _ => {
            return Err(Issue::value(
                at(typ_node),
                &fields.path("type"),
                &typ,
                "unknown mount type",
                "bind or tmpfs",
            ))
        }
    }
    Ok(())
}

fn octal_mode(s: &str) -> Result<u32, &'static str> {
    let s = s.strip_prefix("0o").unwrap_or(s);
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err("must be an octal mode 0-7777"),
    }
}

/// `tmpfs: /run` or a list of `PATH[:OPTIONS]`.
pub(crate) fn tmpfs(node: &Node, path: &str, out: &mut Mounts) -> Result<(), Issue> {
    for (s, loc, p) in string_or_list(node, path, TMPFS)? {
        let (dest, opts) = match s.split_once(':') {
            Some((d, o)) => (d, Some(o)),
            None => (s.as_str(), None),
        };
        let bad = |problem: &str| Issue::value(loc, &p, &s, problem, TMPFS);
        let dest = target(dest).map_err(bad)?;
        let mut options = Vec::new();
        if let Some(opts) = opts {
            for opt in opts.split(',') {
                options.push(
                    tmpfs_option(opt).map_err(|problem| bad(&format!("{opt:?}: {problem}")))?,
                );
            }
        }
        out.tmpfs.push(Tmpfs {
            target: dest,
            options,
        });
        out.tmpfs_at.push((loc, p));
    }
    Ok(())
}

/// Checks one tmpfs option and normalises sizes to bytes.
fn tmpfs_option(opt: &str) -> Result<String, &'static str> {
    const FLAGS: &[&str] = &[
        "ro",
        "rw",
        "exec",
        "noexec",
        "suid",
        "nosuid",
        "dev",
        "nodev",
        "atime",
        "noatime",
        "relatime",
        "norelatime",
        "strictatime",
        "nodiratime",
        "diratime",
    ];
    if FLAGS.contains(&opt) {
        return Ok(opt.to_string());
    }
    let Some((key, value)) = opt.split_once('=') else {
        return Err("unknown option (use size=, mode=, uid=, gid=, nr_inodes= or a mount flag such as noexec)");
    };
    match key {
        "size" => {
            if let Some(pct) = value.strip_suffix('%') {
                return match pct.parse::<u8>() {
                    Ok(n) if (1..=100).contains(&n) => Ok(opt.to_string()),
                    _ => Err("size percentage must be 1-100%"),
                };
            }
            let bytes = parse_bytes(value)?;
            if bytes == 0 {
                return Err("size must be greater than 0");
            }
            Ok(format!("size={bytes}"))
        }
        "nr_inodes" => parse_bytes(value)
            .map(|_| opt.to_string())
            .map_err(|_| "nr_inodes must be a number"),
        "mode" => octal_mode(value).map(|m| format!("mode={m:o}")),
        "uid" | "gid" => value
            .parse::<u32>()
            .map(|_| opt.to_string())
            .map_err(|_| "uid and gid must be numbers"),
        _ => Err("unknown option (use size=, mode=, uid=, gid=, nr_inodes= or a mount flag such as noexec)"),
    }
}

/// `devices:` list.
pub(crate) fn devices(node: &Node, path: &str) -> Result<Vec<DeviceMapping>, Issue> {
    let mut out: Vec<DeviceMapping> = Vec::new();
    for (i, item) in list(node, path, &format!("a list of {DEVICE}"))?
        .iter()
        .enumerate()
    {
        let p = format!("{path}[{i}]");
        let s = text(item, &p, DEVICE)?;
        let bad = |problem: &str| Issue::value(at(item), &p, &s, problem, DEVICE);
        let parts: Vec<&str> = s.split(':').collect();
        let (host, container, perms) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, x] if is_permissions(x) => (*h, *h, *x),
            [h, c] => (*h, *c, "rwm"),
            [h, c, x] => (*h, *c, *x),
            _ => return Err(bad("too many ':'")),
        };
        if !is_permissions(perms) {
            return Err(bad("permissions must be a combination of r, w and m"));
        }
        let host_path =
            absolute(host).map_err(|_| bad("host path must be absolute, without \"..\""))?;
        let container_path = target(container)
            .map_err(|_| bad("container path must be absolute, without \"..\""))?;
        if out.iter().any(|d| d.container_path == container_path) {
            return Err(bad("this container path is already used by another device"));
        }
        let permissions = ['r', 'w', 'm']
            .into_iter()
            .filter(|c| perms.contains(*c))
            .collect();
        out.push(DeviceMapping {
            host_path,
            container_path,
            permissions,
        });
    }
    Ok(out)
}

fn is_permissions(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse;

    fn vols(yaml: &str) -> Result<Mounts, Issue> {
        let w = parse(&format!("volumes:\n{yaml}")).unwrap();
        let mut m = Mounts::default();
        volumes(&w.volumes.unwrap(), "volumes", &mut m)?;
        Ok(m)
    }

    fn vol(source: &str, target: &str, read_only: bool) -> Volume {
        Volume {
            source: source.into(),
            target: target.into(),
            read_only,
            create_host_path: true,
        }
    }

    #[test]
    fn short_syntax() {
        let m = vols(
            "  - /perm/irssi:/home/michael/.irssi\n  - /perm/a/:/a:ro\n  - /perm//b:/b/./c:rw\n",
        )
        .unwrap();
        assert_eq!(
            m.volumes,
            vec![
                vol("/perm/irssi", "/home/michael/.irssi", false),
                vol("/perm/a", "/a", true),
                vol("/perm/b", "/b/c", false),
            ]
        );
    }

    #[test]
    fn long_syntax() {
        let m = vols(
            "  - {type: bind, source: /perm/x, target: /x, read_only: true}\n  - type: bind\n    source: /perm/y\n    target: /y\n    bind: {create_host_path: false}\n  - {type: tmpfs, target: /cache, tmpfs: {size: 64m, mode: 1777}}\n",
        )
        .unwrap();
        assert_eq!(
            m.volumes,
            vec![
                vol("/perm/x", "/x", true),
                Volume {
                    create_host_path: false,
                    ..vol("/perm/y", "/y", false)
                }
            ]
        );
        assert_eq!(
            m.tmpfs,
            vec![Tmpfs {
                target: "/cache".into(),
                options: vec!["size=67108864".into(), "mode=1777".into()]
            }]
        );
    }

    fn err(yaml: &str) -> (u32, u32, String) {
        let e = vols(yaml).err().expect("an error");
        (e.at.line(), e.at.column(), e.message)
    }

    #[test]
    fn short_syntax_errors() {
        assert_eq!(
            err("  - /ok:/ok\n  - data:/data\n"),
            (3, 5, format!("volumes[1]: \"data:/data\": host path must be absolute (named volumes are not supported) (expected {VOLUME})"))
        );
        let (_, _, m) = err("  - /data\n");
        assert!(m.contains("anonymous volumes are not supported"), "{m}");
        let (_, _, m) = err("  - /a:b\n");
        assert!(m.contains("container path must be absolute"), "{m}");
        let (_, _, m) = err("  - /a/../etc:/b\n");
        assert!(
            m.contains("host path must be absolute, without \"..\""),
            "{m}"
        );
        let (_, _, m) = err("  - /a:/b:z\n");
        assert!(m.contains("unknown option (only ro and rw"), "{m}");
        let (_, _, m) = err("  - /a:/\n");
        assert!(m.contains("cannot mount over"), "{m}");
        let (_, _, m) = err("  - /a:/b:ro:x\n");
        assert!(m.contains("too many ':'"), "{m}");
    }

    #[test]
    fn long_syntax_errors() {
        assert_eq!(
            err("  - {type: volume, source: db, target: /db}\n"),
            (2, 12, "volumes[0].type: \"volume\": named volumes are not supported; bind-mount a host directory (expected bind or tmpfs)".to_string())
        );
        assert_eq!(
            err("  - {type: bind, source: /a, target: /b, mode: x}\n"),
            (2, 42, "volumes[0].mode: unknown field (expected one of: type, source, target, read_only, bind, tmpfs)".to_string())
        );
        assert_eq!(
            err("  - {type: bind, target: /b}\n"),
            (
                2,
                5,
                "volumes[0].source: is required for type: bind (expected an absolute host path)"
                    .to_string()
            )
        );
        assert_eq!(
            err("  - {source: /a, target: /b}\n"),
            (
                2,
                5,
                "volumes[0].type: is required (expected bind or tmpfs)".to_string()
            )
        );
        let (l, c, m) = err("  - {type: bind, source: rel, target: /b}\n");
        assert_eq!((l, c), (2, 26));
        assert!(
            m.starts_with("volumes[0].source: \"rel\": path must be absolute"),
            "{m}"
        );
        let (l, c, m) = err("  - {type: tmpfs, target: /t, source: /x}\n");
        assert_eq!((l, c), (2, 39));
        assert!(
            m.starts_with("volumes[0].source: not allowed for type: tmpfs"),
            "{m}"
        );
        let (_, _, m) = err("  - {type: tmpfs, target: /t, tmpfs: {mode: 9}}\n");
        assert!(m.contains("must be an octal mode"), "{m}");
    }

    fn tmp(yaml: &str) -> Result<Vec<Tmpfs>, Issue> {
        let w = parse(&format!("tmpfs: {yaml}\n")).unwrap();
        let mut m = Mounts::default();
        tmpfs(&w.tmpfs.unwrap(), "tmpfs", &mut m)?;
        Ok(m.tmpfs)
    }

    #[test]
    fn tmpfs_forms() {
        assert_eq!(
            tmp("/run").unwrap(),
            vec![Tmpfs {
                target: "/run".into(),
                options: vec![]
            }]
        );
        assert_eq!(
            tmp("['/run:size=64m,mode=1777', '/tmp:noexec,size=10%,uid=1000']").unwrap(),
            vec![
                Tmpfs {
                    target: "/run".into(),
                    options: vec!["size=67108864".into(), "mode=1777".into()]
                },
                Tmpfs {
                    target: "/tmp".into(),
                    options: vec!["noexec".into(), "size=10%".into(), "uid=1000".into()]
                },
            ]
        );
    }

    #[test]
    fn tmpfs_errors() {
        let e = tmp("[/run, 'tmp:size=1m']").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 15));
        assert!(
            e.message
                .starts_with("tmpfs[1]: \"tmp:size=1m\": path must be absolute"),
            "{}",
            e.message
        );
        let e = tmp("/run:size=lots").unwrap_err();
        assert!(
            e.message
                .contains("\"size=lots\": must start with a number"),
            "{}",
            e.message
        );
        let e = tmp("/run:bogus").unwrap_err();
        assert!(
            e.message.contains("\"bogus\": unknown option"),
            "{}",
            e.message
        );
        let e = tmp("/run:mode=888").unwrap_err();
        assert!(e.message.contains("must be an octal mode"), "{}", e.message);
    }

    fn devs(yaml: &str) -> Result<Vec<DeviceMapping>, Issue> {
        let w = parse(&format!("devices: {yaml}\n")).unwrap();
        devices(&w.devices.unwrap(), "devices")
    }

    #[test]
    fn device_forms() {
        let d = devs("[/dev/fuse, '/dev/ttyUSB0:/dev/ttyS0:rw', '/dev/kvm:mr', '/dev/a:/dev/b']")
            .unwrap();
        let want = |h: &str, c: &str, p: &str| DeviceMapping {
            host_path: h.into(),
            container_path: c.into(),
            permissions: p.into(),
        };
        assert_eq!(
            d,
            vec![
                want("/dev/fuse", "/dev/fuse", "rwm"),
                want("/dev/ttyUSB0", "/dev/ttyS0", "rw"),
                want("/dev/kvm", "/dev/kvm", "rm"),
                want("/dev/a", "/dev/b", "rwm"),
            ]
        );
    }

    #[test]
    fn device_errors() {
        let e = devs("[/dev/fuse, 'fuse']").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 22));
        assert!(
            e.message
                .starts_with("devices[1]: \"fuse\": host path must be absolute"),
            "{}",
            e.message
        );
        let e = devs("['/dev/a:/dev/a:rwx']").unwrap_err();
        assert!(
            e.message.contains("permissions must be a combination"),
            "{}",
            e.message
        );
        let e = devs("[/dev/a, /dev/a]").unwrap_err();
        assert!(e.message.contains("already used"), "{}", e.message);
    }
}
