//! What is inside an image: every file of the root file system and the ESP
//! with its size and sha256, the kernel package and the crates built in.
//! Printed after a build (modules summarised) and saved whole as
//! `<image>.sbom.json`.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{io_err, Result};

#[derive(Debug, Serialize)]
pub struct Sbom {
    pub image_sha256: String,
    pub image_bytes: u64,
    pub source_date_epoch: u64,
    pub kernel: KernelInfo,
    pub root: Vec<FileEntry>,
    pub esp: Vec<FileEntry>,
    /// Shared libraries copied from the build host for the binaries.
    pub libraries: Vec<LibraryEntry>,
    /// `name version` of every crate in the workspace's Cargo.lock.
    pub crates: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct KernelInfo {
    pub package: String,
    pub version: String,
    pub release: String,
    pub deb_sha256: String,
}

#[derive(Debug, Serialize, Clone)]
pub struct LibraryEntry {
    /// In the image, e.g. `lib/x86_64-linux-gnu/libc.so.6`.
    pub path: String,
    /// The build host's file it was copied from.
    pub source: String,
    /// The Debian package and version it came from, when known.
    pub package: Option<String>,
    /// The binary or library that needs it.
    pub needed_by: String,
}

#[derive(Debug, Serialize, Clone)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    /// Empty for directories; the target for links (`-> target`).
    pub sha256: String,
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(io_err("reading", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_err("reading", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Files and links under `tree`, sorted by path.
pub fn list_tree(tree: &Path) -> Result<Vec<FileEntry>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<FileEntry>) -> Result<()> {
        for e in std::fs::read_dir(dir).map_err(io_err("reading", dir))? {
            let e = e.map_err(io_err("reading", dir))?;
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap_or(&p).display().to_string();
            let meta = std::fs::symlink_metadata(&p).map_err(io_err("reading", &p))?;
            if meta.is_dir() {
                walk(base, &p, out)?;
            } else if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).map_err(io_err("reading", &p))?;
                out.push(FileEntry {
                    path: rel,
                    size: 0,
                    sha256: format!("-> {}", t.display()),
                });
            } else {
                out.push(FileEntry {
                    path: rel,
                    size: meta.len(),
                    sha256: sha256_file(&p)?,
                });
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(tree, tree, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// `name version` lines from a Cargo.lock.
pub fn crates(lock: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut out = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            out.push(format!("{n} {}", v.trim_matches('"')));
        }
    }
    out
}

/// A human-readable summary: files outside lib/modules one by one.
pub fn print(s: &Sbom) {
    println!(
        "kernel: {} {} ({}), deb sha256 {}",
        s.kernel.package, s.kernel.version, s.kernel.release, s.kernel.deb_sha256
    );
    println!("root file system:");
    let (modules, rest): (Vec<&FileEntry>, Vec<&FileEntry>) = s
        .root
        .iter()
        .partition(|f| f.path.starts_with("lib/modules/"));
    for f in rest {
        println!("  {:>10}  {:<64}  /{}", f.size, f.sha256, f.path);
    }
    println!(
        "  {:>10}  {:<64}  /lib/modules/{} ({} files)",
        modules.iter().map(|f| f.size).sum::<u64>(),
        "",
        s.kernel.release,
        modules.len()
    );
    if !s.libraries.is_empty() {
        println!("shared libraries (from the build host):");
        for l in &s.libraries {
            println!(
                "  /{:<44} {}",
                l.path,
                l.package.as_deref().unwrap_or("(no Debian package)")
            );
        }
    }
    println!("ESP:");
    for f in &s.esp {
        println!("  {:>10}  {:<64}  {}", f.size, f.sha256, f.path);
    }
    if !s.crates.is_empty() {
        println!("crates: {} (listed in the .sbom.json)", s.crates.len());
    }
}
