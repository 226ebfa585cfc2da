//! The root file system tree, staged in a directory before mksquashfs:
//! the layout os/README.md describes (binaries in /usr/bin, programs in /user,
//! /etc/paddock, modules, CA certificates, empty mount points).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::error::{io_err, BuildError, Result};

/// CA certificates as Debian's `ca-certificates` bundles them.
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Mount points and directories every root has.
const DIRS: &[&str] = &[
    "dev",
    "proc",
    "sys",
    "run",
    "tmp",
    "perm",
    "var",
    "etc/paddock/containers",
    "etc/ssl/certs",
    "usr/bin",
    "usr/share/paddock/preload",
    "user",
    "sbin",
    "lib/modules",
    "root",
];

pub fn skeleton(root: &Path) -> Result<()> {
    for d in DIRS {
        mkdir(&root.join(d))?;
    }
    symlink("../usr/bin/paddock-init", &root.join("sbin/init"))?;
    symlink("/run/resolv.conf", &root.join("etc/resolv.conf"))?;
    symlink("/run/hostname", &root.join("etc/hostname"))?;
    write(
        &root.join("etc/hosts"),
        b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    )?;
    write(
        &root.join("etc/passwd"),
        b"root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    write(&root.join("etc/group"), b"root:x:0:\nnogroup:x:65534:\n")?;
    // glibc (paddockd is dynamic): files and dns are built into libc.so.6.
    write(
        &root.join("etc/nsswitch.conf"),
        b"passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\nservices: files\nprotocols: files\n",
    )?;
    let ca = Path::new(CA_BUNDLE);
    let data = std::fs::read(ca).map_err(|e| BuildError::Io {
        context: "reading CA certificates (apt-get install ca-certificates)",
        path: ca.to_path_buf(),
        source: e,
    })?;
    write(&root.join("etc/ssl/certs/ca-certificates.crt"), &data)?;
    Ok(())
}

pub fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(io_err("creating", p))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).map_err(io_err("chmod", p))
}

/// Writes a regular file, mode 0644.
pub fn write(p: &Path, data: &[u8]) -> Result<()> {
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(io_err("creating", parent))?;
    }
    std::fs::write(p, data).map_err(io_err("writing", p))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).map_err(io_err("chmod", p))
}

/// Writes a root-only file (mode 0600): the device's TLS key.
pub fn write_private(p: &Path, data: &[u8]) -> Result<()> {
    write(p, data)?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).map_err(io_err("chmod", p))
}

/// Copies an executable, mode 0755.
pub fn install(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map_err(io_err("copying", from))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))
        .map_err(io_err("chmod", to))
}

pub fn symlink(target: &str, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).map_err(io_err("linking", link))
}

/// Copies a directory tree (files 0644, dirs 0755; links kept).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    mkdir(to)?;
    for e in std::fs::read_dir(from).map_err(io_err("reading", from))? {
        let e = e.map_err(io_err("reading", from))?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type().map_err(io_err("reading", &src))?;
        if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&src).map_err(io_err("reading", &src))?;
            std::os::unix::fs::symlink(&t, &dst).map_err(io_err("linking", &dst))?;
        } else {
            std::fs::copy(&src, &dst).map_err(io_err("copying", &src))?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o644))
                .map_err(io_err("chmod", &dst))?;
        }
    }
    Ok(())
}
