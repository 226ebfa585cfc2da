//! Pulled layers as a container sees them: an overlayfs mount of the
//! image's lower dirs shows whiteouts and opaque dirs applied, and files
//! keep owners, modes, xattrs, hard links, symlinks and mtimes.

use paddock_testkit as support;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use paddock_store::build::{build_image_from_tars, layer_tar, ImageBuildConfig};
use paddock_store::overlay::{mount_rootfs, unmount_rootfs};
use rustix::fs::{AtFlags, Timespec, Timestamps, XattrFlags, CWD};
use support::*;
use tar::EntryType;

/// Unmounts on drop, so a failing assertion does not leave a mount.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Err(e) = unmount_rootfs(&self.0) {
            eprintln!("unmount {}: {e}", self.0.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn whiteouts_and_opaque_dirs_hide_lower_files() {
    let reg = TestRegistry::start();
    let base = rootfs(&[
        ("etc/passwd", "root:x:0:0\n"),
        ("etc/keep", "kept\n"),
        ("opt/old/a", "a\n"),
        ("opt/old/b", "b\n"),
        ("var/x", "x\n"),
    ]);
    // Layer 2 in overlayfs form (what an upper dir looks like): a 0:0 char
    // device deletes etc/passwd; opt/old is opaque with one new file.
    let upper = rootfs(&[("opt/old/c", "c\n")]);
    fs::create_dir_all(upper.path().join("etc")).unwrap();
    rustix::fs::mknodat(
        CWD,
        upper.path().join("etc/passwd"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        0,
    )
    .unwrap();
    rustix::fs::setxattr(
        upper.path().join("opt/old"),
        "trusted.overlay.opaque",
        b"y",
        XattrFlags::empty(),
    )
    .unwrap();
    // Layer 3 in OCI form, written by hand.
    let oci = raw_tar(&[
        RawEntry::new("var/", EntryType::Directory),
        RawEntry::new("var/.wh.x", EntryType::Regular),
    ]);
    let image = build_image_from_tars(
        vec![
            layer_tar(base.path(), 0).unwrap(),
            layer_tar(upper.path(), 0).unwrap(),
            oci,
        ],
        ImageBuildConfig::default(),
    )
    .unwrap();
    let reference = push(&image, &reg, "whiteouts").await;
    let (root, store) = temp_store();
    let rec = store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap();

    // The layer dirs hold overlayfs whiteouts.
    let lowers = store.lower_dirs(&rec);
    let wh = fs::symlink_metadata(lowers[1].join("etc/passwd")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert!(fs::symlink_metadata(lowers[0].join("var/x"))
        .unwrap()
        .file_type()
        .is_char_device());

    let c = root.path().join("container");
    let (up, work, merged) = (c.join("upper"), c.join("work"), c.join("rootfs"));
    for d in [&up, &work, &merged] {
        fs::create_dir_all(d).unwrap();
    }
    mount_rootfs(&lowers, &up, &work, &merged).unwrap();
    let _guard = Mounted(merged.clone());

    assert!(
        !merged.join("etc/passwd").exists(),
        "whited-out file is gone"
    );
    assert_eq!(
        fs::read_to_string(merged.join("etc/keep")).unwrap(),
        "kept\n"
    );
    assert!(!merged.join("var/x").exists(), "OCI whiteout applied");
    assert!(merged.join("var").is_dir());
    let mut old: Vec<String> = fs::read_dir(merged.join("opt/old"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    old.sort();
    assert_eq!(old, vec!["c"], "opaque dir hides the lower layer's files");

    // Writes go to the upper dir only; layers stay untouched.
    fs::write(merged.join("etc/keep"), "changed\n").unwrap();
    assert_eq!(
        fs::read_to_string(up.join("etc/keep")).unwrap(),
        "changed\n"
    );
    assert_eq!(
        fs::read_to_string(lowers[2].join("etc/keep")).unwrap(),
        "kept\n"
    );
}

fn set_mtime(p: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        CWD,
        p,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn ownership_modes_xattrs_links_and_mtimes_survive() {
    let reg = TestRegistry::start();
    let src = rootfs(&[
        ("bin/su", "#!suid\n"),
        ("data/file", "data\n"),
        ("private/", ""),
    ]);
    let p = src.path();
    std::os::unix::fs::chown(p.join("bin/su"), Some(0), Some(0)).unwrap();
    fs::set_permissions(p.join("bin/su"), fs::Permissions::from_mode(0o4755)).unwrap();
    std::os::unix::fs::chown(p.join("data/file"), Some(1234), Some(5678)).unwrap();
    fs::set_permissions(p.join("data/file"), fs::Permissions::from_mode(0o640)).unwrap();
    rustix::fs::setxattr(
        p.join("data/file"),
        "user.paddock",
        b"value",
        XattrFlags::empty(),
    )
    .unwrap();
    fs::hard_link(p.join("data/file"), p.join("data/file-link")).unwrap();
    std::os::unix::fs::symlink("/data/file", p.join("data/abs-link")).unwrap();
    std::os::unix::fs::symlink("../bin/su", p.join("data/rel-link")).unwrap();
    std::os::unix::fs::lchown(p.join("data/rel-link"), Some(7), Some(8)).unwrap();
    rustix::fs::mknodat(
        CWD,
        p.join("data/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    std::os::unix::fs::chown(p.join("private"), Some(42), Some(43)).unwrap();
    fs::set_permissions(p.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
    set_mtime(&p.join("data/file"), 1_500_000_000);
    set_mtime(&p.join("data/abs-link"), 1_400_000_000);
    set_mtime(&p.join("private"), 1_300_000_000);
    set_mtime(&p.join("data"), 1_200_000_000);

    let image = build(
        &[p],
        ImageBuildConfig {
            source_date_epoch: Some(1_600_000_000),
            ..Default::default()
        },
    );
    let reference = push(&image, &reg, "metadata").await;
    let (_root, store) = temp_store();
    let rec = store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap();
    let l = &store.lower_dirs(&rec)[0];

    let su = fs::metadata(l.join("bin/su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755, "setuid kept");
    let f = fs::metadata(l.join("data/file")).unwrap();
    assert_eq!(
        (f.uid(), f.gid(), f.permissions().mode() & 0o7777),
        (1234, 5678, 0o640)
    );
    assert_eq!(f.mtime(), 1_500_000_000);
    let mut buf = [0u8; 16];
    let n = rustix::fs::getxattr(l.join("data/file"), "user.paddock", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"value");
    assert_eq!(
        fs::metadata(l.join("data/file-link")).unwrap().ino(),
        f.ino(),
        "hard link kept"
    );
    assert_eq!(
        fs::read_link(l.join("data/abs-link")).unwrap(),
        Path::new("/data/file")
    );
    assert_eq!(
        fs::symlink_metadata(l.join("data/abs-link"))
            .unwrap()
            .mtime(),
        1_400_000_000
    );
    assert_eq!(
        fs::read_link(l.join("data/rel-link")).unwrap(),
        Path::new("../bin/su")
    );
    let rl = fs::symlink_metadata(l.join("data/rel-link")).unwrap();
    assert_eq!((rl.uid(), rl.gid()), (7, 8));
    assert!(fs::symlink_metadata(l.join("data/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let d = fs::metadata(l.join("private")).unwrap();
    assert_eq!(
        (d.uid(), d.gid(), d.permissions().mode() & 0o7777),
        (42, 43, 0o700)
    );
    assert_eq!(d.mtime(), 1_300_000_000);
    assert_eq!(fs::metadata(l.join("data")).unwrap().mtime(), 1_200_000_000);

    // Without SOURCE_DATE_EPOCH, mtimes are clamped to 0.
    let clamped = build(
        &[p],
        ImageBuildConfig {
            source_date_epoch: Some(0),
            ..Default::default()
        },
    );
    let (_r2, store2) = temp_store();
    let rec = store2.import(&clamped, "clamped").await.unwrap();
    assert_eq!(
        fs::metadata(store2.lower_dirs(&rec)[0].join("data/file"))
            .unwrap()
            .mtime(),
        0
    );
}
