//! Shared test support: a real registry, a throttling proxy, helpers to
//! build, push and pull images, an HTTP client and the OpenAPI checker.
#![allow(dead_code)]

pub mod chromium;
pub mod device;
pub mod http;
pub mod image;
pub mod instance;
pub mod net;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod proxy;
pub mod registry;
pub mod staged_disk;
pub mod terminal;
pub mod tls;
pub mod token;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use paddock_store::build::{self, BuiltImage, ImageBuildConfig};
use paddock_store::{PullOptions, RegistriesConfig, Store};
use paddock_wire::paths::Paths;

#[allow(unused_imports)]
pub use registry::{free_port, RegistryAuthMode, TestRegistry};

/// A store under a fresh temp root.
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let root = tempfile::Builder::new()
        .prefix("paddock-store-")
        .tempdir()
        .expect("temp root");
    let store = Store::open(&Paths::new(root.path())).expect("open store");
    (root, store)
}

/// Writes files (`path` → contents) under a fresh temp dir.
pub fn rootfs(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, contents) in files {
        let p = dir.path().join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        if path.ends_with('/') {
            std::fs::create_dir_all(&p).expect("mkdir");
        } else {
            std::fs::write(&p, contents).expect("write");
        }
    }
    dir
}

pub fn build(dirs: &[&Path], config: ImageBuildConfig) -> BuiltImage {
    let dirs: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    build::build_image(&dirs, config).expect("build image")
}

/// Pushes to `<registry>/<repo>` and returns that reference.
pub async fn push(image: &BuiltImage, reg: &TestRegistry, repo: &str) -> String {
    let reference = format!("{}/{repo}", reg.host_port());
    build::push(image, &reference, &reg.registries())
        .await
        .expect("push");
    reference
}

pub fn opts(registries: RegistriesConfig) -> PullOptions {
    PullOptions::new(registries)
}

/// Every file, dir and link under `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Entries in the store that are temp files (interrupted or failed writes).
pub fn temp_entries(store: &Store) -> Vec<String> {
    tree(store.root())
        .into_iter()
        .filter(|p| p.rsplit('/').next().unwrap_or("").starts_with(".tmp-"))
        .collect()
}

/// Blob files in the store.
pub fn blob_files(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.root().join("blobs/sha256"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Unpacked layer dirs in the store.
pub fn layer_dirs(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.root().join("layers"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn ino(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).expect("stat").ino()
}

/// One tar entry with a raw name (the tar crate's builder refuses `..`
/// and absolute names, which is what malicious layers contain).
pub struct RawEntry<'a> {
    pub name: &'a str,
    pub kind: tar::EntryType,
    pub data: &'a [u8],
    pub link: &'a str,
    pub dev: (u32, u32),
}

impl<'a> RawEntry<'a> {
    pub fn new(name: &'a str, kind: tar::EntryType) -> Self {
        Self {
            name,
            kind,
            data: b"",
            link: "",
            dev: (0, 0),
        }
    }
    pub fn data(mut self, data: &'a [u8]) -> Self {
        self.data = data;
        self
    }
    pub fn link(mut self, link: &'a str) -> Self {
        self.link = link;
        self
    }
    pub fn dev(mut self, major: u32, minor: u32) -> Self {
        self.dev = (major, minor);
        self
    }
}

pub fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        h.as_old_mut().linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        h.set_entry_type(e.kind);
        h.set_size(e.data.len() as u64);
        h.set_mode(if e.kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        h.set_device_major(e.dev.0).unwrap();
        h.set_device_minor(e.dev.1).unwrap();
        h.set_cksum();
        b.append(&h, e.data).unwrap();
    }
    b.into_inner().unwrap()
}
