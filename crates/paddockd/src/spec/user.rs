//! Resolving `user:` in the image's own /etc/passwd and /etc/group, the way
//! docker does (moby/sys/user `GetExecUser`).
//!
//! The files are opened inside the rootfs with `openat2(RESOLVE_IN_ROOT)`, so
//! a symlink such as `/etc/passwd -> /../../host/etc/shadow` in an image is
//! resolved against the rootfs and can never reach a host file.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use super::SpecError;
use crate::manifest::{IdOrName, UserSpec};

/// Who the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the groups in /etc/group that list the user,
    /// when the group was not given explicitly.
    pub additional_gids: Vec<u32>,
    /// From /etc/passwd, `/` when the user has no entry.
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Files larger than this are not an /etc/passwd we should parse.
const MAX_ETC_FILE: u64 = 16 * 1024 * 1024;

/// Opens `rel` (relative to the rootfs) without leaving the rootfs.
/// `Ok(None)` when the file does not exist.
pub(crate) fn open_in_root(rootfs: &Path, rel: &str) -> io::Result<Option<File>> {
    let root = File::open(rootfs)?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
        .mode(Mode::empty())
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match nix::fcntl::openat2(root.as_raw_fd(), rel, how) {
        // SAFETY: openat2 returned a new descriptor that nothing else owns.
        Ok(fd) => Ok(Some(unsafe { File::from_raw_fd(fd) })),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(nix::errno::Errno::ENOSYS) => open_resolved_by_hand(rootfs, rel),
        Err(e) => Err(e.into()),
    }
}

/// For kernels before 5.6 (no openat2): follow symlinks ourselves, each one
/// relative to the rootfs, then open the result without following links.
fn open_resolved_by_hand(rootfs: &Path, rel: &str) -> io::Result<Option<File>> {
    let mut pending: Vec<String> = rel.split('/').rev().map(str::to_string).collect();
    let mut resolved = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let candidate = resolved.join(&part);
        let meta = match std::fs::symlink_metadata(rootfs.join(&candidate)) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = std::fs::read_link(rootfs.join(&candidate))?;
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                resolved = PathBuf::new();
            }
            pending.extend(target.split('/').rev().map(str::to_string));
        } else {
            resolved = candidate;
        }
    }
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(rootfs.join(&resolved))
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The contents of `rel` in the rootfs, or "" when it does not exist.
fn read_etc(rootfs: &Path, rel: &str) -> Result<String, SpecError> {
    let context = |source: io::Error| SpecError::ReadImageFile {
        path: PathBuf::from("/").join(rel),
        source,
    };
    let Some(file) = open_in_root(rootfs, rel).map_err(context)? else {
        return Ok(String::new());
    };
    let mut bytes = Vec::new();
    file.take(MAX_ETC_FILE)
        .read_to_end(&mut bytes)
        .map_err(context)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).map(|s| s.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Reads the image config's `User` ("", "uid", "name:group", …).
pub(crate) fn parse_image_user(s: &str) -> Option<UserSpec> {
    if s.is_empty() {
        return None;
    }
    let part = |p: &str| match p.parse::<u32>() {
        Ok(id) => IdOrName::Id(id),
        Err(_) => IdOrName::Name(p.to_string()),
    };
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    Some(UserSpec {
        user: part(user),
        group: group.filter(|g| !g.is_empty()).map(part),
    })
}

fn describe(user: &UserSpec) -> String {
    let one = |x: &IdOrName| match x {
        IdOrName::Id(id) => id.to_string(),
        IdOrName::Name(n) => n.clone(),
    };
    match &user.group {
        Some(g) => format!("{}:{}", one(&user.user), one(g)),
        None => one(&user.user),
    }
}

/// Resolves `user` (none: root) against the rootfs's /etc/passwd and /etc/group.
pub(crate) fn resolve(rootfs: &Path, user: Option<&UserSpec>) -> Result<ExecUser, SpecError> {
    let passwd = parse_passwd(&read_etc(rootfs, "etc/passwd")?);
    let mut exec = ExecUser {
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        home: "/".to_string(),
    };
    let wanted = user.map(|u| &u.user);
    let entry = passwd.iter().find(|p| match wanted {
        None => p.uid == 0,
        Some(IdOrName::Id(id)) => p.uid == *id,
        Some(IdOrName::Name(name)) => &p.name == name,
    });
    let matched_name = match (entry, wanted) {
        (Some(p), _) => {
            exec.uid = p.uid;
            exec.gid = p.gid;
            if !p.home.is_empty() {
                exec.home = p.home.clone();
            }
            Some(p.name.clone())
        }
        (None, Some(IdOrName::Id(id))) => {
            exec.uid = *id;
            None
        }
        (None, Some(IdOrName::Name(name))) => {
            return Err(SpecError::UserNotFound {
                user: user.map(describe).unwrap_or_default(),
                name: name.clone(),
            })
        }
        (None, None) => None,
    };
    let group_arg = user.and_then(|u| u.group.as_ref());
    if group_arg.is_none() && matched_name.is_none() {
        return Ok(exec);
    }
    let groups = parse_group(&read_etc(rootfs, "etc/group")?);
    match group_arg {
        Some(g) => {
            let found = groups.iter().find(|e| match g {
                IdOrName::Id(id) => e.gid == *id,
                IdOrName::Name(n) => &e.name == n,
            });
            exec.gid = match (found, g) {
                (Some(e), _) => e.gid,
                (None, IdOrName::Id(id)) => *id,
                (None, IdOrName::Name(n)) => {
                    return Err(SpecError::GroupNotFound {
                        user: user.map(describe).unwrap_or_default(),
                        name: n.clone(),
                    })
                }
            };
        }
        None => {
            if let Some(name) = matched_name {
                for e in groups.iter().filter(|e| e.members.contains(&name)) {
                    if !exec.additional_gids.contains(&e.gid) {
                        exec.additional_gids.push(e.gid);
                    }
                }
            }
        }
    }
    Ok(exec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n# comment\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nmichael:x:1000:1000::/home/michael:/bin/bash\nbroken line\nnohome:x:1001:1001::\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root,michael\nwww-data:x:33:\nmichael:x:1000:\naudio:x:29:michael\nstaff:x:50:\n";

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(dir.path().join("etc/group"), GROUP).unwrap();
        dir
    }

    fn spec(s: &str) -> UserSpec {
        parse_image_user(s).unwrap()
    }

    fn user(uid: u32, gid: u32, extra: &[u32], home: &str) -> ExecUser {
        ExecUser {
            uid,
            gid,
            additional_gids: extra.to_vec(),
            home: home.into(),
        }
    }

    #[test]
    fn default_is_root_with_its_groups() {
        let r = rootfs();
        assert_eq!(resolve(r.path(), None).unwrap(), user(0, 0, &[10], "/root"));
    }

    #[test]
    fn by_name_with_supplementary_groups() {
        let r = rootfs();
        assert_eq!(
            resolve(r.path(), Some(&spec("michael"))).unwrap(),
            user(1000, 1000, &[10, 29], "/home/michael")
        );
        assert_eq!(
            resolve(r.path(), Some(&spec("www-data"))).unwrap(),
            user(33, 33, &[], "/var/www")
        );
    }

    #[test]
    fn by_uid_found_and_not_found() {
        let r = rootfs();
        assert_eq!(
            resolve(r.path(), Some(&spec("1000"))).unwrap(),
            user(1000, 1000, &[10, 29], "/home/michael")
        );
        assert_eq!(
            resolve(r.path(), Some(&spec("4242"))).unwrap(),
            user(4242, 0, &[], "/")
        );
        assert_eq!(
            resolve(r.path(), Some(&spec("1001"))).unwrap(),
            user(1001, 1001, &[], "/")
        );
    }

    #[test]
    fn explicit_group_replaces_supplementary_groups() {
        let r = rootfs();
        assert_eq!(
            resolve(r.path(), Some(&spec("michael:staff"))).unwrap(),
            user(1000, 50, &[], "/home/michael")
        );
        assert_eq!(
            resolve(r.path(), Some(&spec("4242:4343"))).unwrap(),
            user(4242, 4343, &[], "/")
        );
        assert_eq!(
            resolve(r.path(), Some(&spec("4242:audio"))).unwrap(),
            user(4242, 29, &[], "/")
        );
    }

    #[test]
    fn unknown_names_are_errors() {
        let r = rootfs();
        let e = resolve(r.path(), Some(&spec("nobody"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "user \"nobody\": no user named \"nobody\" in the image's /etc/passwd"
        );
        let e = resolve(r.path(), Some(&spec("michael:nogroup"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "user \"michael:nogroup\": no group named \"nogroup\" in the image's /etc/group"
        );
    }

    #[test]
    fn image_without_etc_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve(dir.path(), None).unwrap(), user(0, 0, &[], "/"));
        assert_eq!(
            resolve(dir.path(), Some(&spec("7:8"))).unwrap(),
            user(7, 8, &[], "/")
        );
        assert!(resolve(dir.path(), Some(&spec("www-data"))).is_err());
    }

    #[test]
    fn symlinks_stay_inside_the_rootfs() {
        // The "host" has a passwd with user "secret"; the image's
        // /etc/passwd is an absolute symlink to /host/passwd and a relative
        // one climbing out: both must resolve inside the rootfs.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(
            outside.path().join("passwd"),
            "secret:x:1234:1234::/:/bin/sh\n",
        )
        .unwrap();
        let r = tempfile::tempdir().unwrap();
        std::fs::create_dir(r.path().join("etc")).unwrap();
        let depth = r.path().components().count() + 2;
        let climb = format!(
            "{}{}",
            "../".repeat(depth),
            outside
                .path()
                .join("passwd")
                .display()
                .to_string()
                .trim_start_matches('/')
        );
        symlink(&climb, r.path().join("etc/passwd")).unwrap();
        assert!(
            std::fs::read_to_string(r.path().join("etc/passwd"))
                .unwrap()
                .contains("secret"),
            "the test setup must reach the outside file from the host's view"
        );
        assert!(resolve(r.path(), Some(&spec("secret"))).is_err());
        assert!(open_resolved_by_hand(r.path(), "etc/passwd")
            .unwrap()
            .is_none());

        std::fs::remove_file(r.path().join("etc/passwd")).unwrap();
        symlink(outside.path().join("passwd"), r.path().join("etc/passwd")).unwrap();
        assert!(resolve(r.path(), Some(&spec("secret"))).is_err());
        assert!(open_resolved_by_hand(r.path(), "etc/passwd")
            .unwrap()
            .is_none());

        // A symlink that stays inside works.
        std::fs::remove_file(r.path().join("etc/passwd")).unwrap();
        std::fs::write(r.path().join("etc/real-passwd"), PASSWD).unwrap();
        symlink("/etc/real-passwd", r.path().join("etc/passwd")).unwrap();
        assert_eq!(resolve(r.path(), Some(&spec("www-data"))).unwrap().uid, 33);
        assert!(open_resolved_by_hand(r.path(), "etc/passwd")
            .unwrap()
            .is_some());
    }

    #[test]
    fn image_user_strings() {
        assert_eq!(parse_image_user(""), None);
        assert_eq!(
            parse_image_user("1000:"),
            Some(UserSpec {
                user: IdOrName::Id(1000),
                group: None
            })
        );
        assert_eq!(
            parse_image_user("nginx:0"),
            Some(UserSpec {
                user: IdOrName::Name("nginx".into()),
                group: Some(IdOrName::Id(0))
            })
        );
    }
}
