//! Loads a module and, first, everything it depends on.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use nix::errno::Errno;
use tracing::{debug, info};

use crate::index::{normalize, ModuleIndex};
use crate::kernel::{Compression, Kernel, SysKernel};
use crate::Error;

/// What became of a request to load a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded now (with its dependencies).
    Loaded,
    /// Was loaded already.
    AlreadyLoaded,
    /// Part of the kernel image.
    Builtin,
}

/// Loads modules of one index into one kernel.
#[derive(Debug)]
pub struct Loader<K: Kernel = SysKernel> {
    index: ModuleIndex,
    kernel: K,
}

impl<K: Kernel> Loader<K> {
    pub fn new(index: ModuleIndex, kernel: K) -> Self {
        Self { index, kernel }
    }

    pub fn index(&self) -> &ModuleIndex {
        &self.index
    }

    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Loads `name` (a module name, or an alias such as `fs-squashfs` that
    /// resolves to one) after its dependencies.
    pub fn load(&self, requested: &str) -> Result<Outcome, Error> {
        let name = normalize(requested);
        if self.index.module(&name).is_none() && !self.index.is_builtin(&name) {
            // Not a module name: maybe an alias (`net-pf-7`, `fs-squashfs`).
            let mut targets = self.index.resolve_alias(requested);
            if targets.is_empty() {
                targets = self.index.resolve_alias(&name);
            }
            if targets.is_empty() {
                if self.kernel.is_loaded(&name) {
                    return Ok(Outcome::AlreadyLoaded);
                }
                return Err(Error::NotFound {
                    name,
                    dir: self.index.dir().to_path_buf(),
                });
            }
            let mut outcome = Outcome::AlreadyLoaded;
            for target in targets {
                if self.load_with_deps(target, &mut Vec::new())? == Outcome::Loaded {
                    outcome = Outcome::Loaded;
                }
            }
            return Ok(outcome);
        }
        self.load_with_deps(&name, &mut Vec::new())
    }

    /// `chain` holds the modules that are waiting for this one (for error
    /// messages and cycle detection).
    fn load_with_deps(&self, name: &str, chain: &mut Vec<String>) -> Result<Outcome, Error> {
        if self.kernel.is_loaded(name) {
            return Ok(Outcome::AlreadyLoaded);
        }
        if self.index.is_builtin(name) {
            return Ok(Outcome::Builtin);
        }
        let entry = self.index.module(name).ok_or_else(|| Error::NotFound {
            name: name.to_string(),
            dir: self.index.dir().to_path_buf(),
        })?;
        if chain.iter().any(|c| c == name) {
            let mut cycle = chain.clone();
            cycle.push(name.to_string());
            return Err(Error::Cycle {
                name: name.to_string(),
                chain: cycle,
            });
        }
        chain.push(name.to_string());
        for dep in &entry.deps {
            self.load_with_deps(dep, chain)?;
        }
        chain.pop();
        let path = self.index.dir().join(&entry.path);
        match self.insert(name, &path) {
            Ok(()) => {
                info!(module = name, "loaded");
                Ok(Outcome::Loaded)
            }
            // Another loader (or a racing coldplug) got there first.
            Err(Insert::Kernel(Errno::EEXIST)) => Ok(Outcome::AlreadyLoaded),
            Err(Insert::Kernel(source)) => Err(Error::Load {
                name: name.to_string(),
                needed_by: chain.iter().rev().cloned().collect(),
                path,
                source,
            }),
            Err(Insert::Decompress(reason)) => Err(Error::Decompress {
                name: name.to_string(),
                path,
                reason,
            }),
        }
    }

    fn insert(&self, name: &str, path: &Path) -> Result<(), Insert> {
        let compression = Compression::of(path);
        let file = File::open(path).map_err(|e| Insert::Kernel(io_errno(e)))?;
        if compression == Compression::None {
            return self
                .kernel
                .finit_module(&file, false)
                .map_err(Insert::Kernel);
        }
        if self.kernel.decompresses(compression) {
            match self.kernel.finit_module(&file, true) {
                // Older kernels reject the flag; decompress here instead.
                Err(Errno::EINVAL) => {
                    debug!(module = name, "kernel refused compressed finit_module")
                }
                other => return other.map_err(Insert::Kernel),
            }
        }
        let image = decompress(file, compression).map_err(Insert::Decompress)?;
        self.kernel.init_module(&image).map_err(Insert::Kernel)
    }
}

enum Insert {
    Kernel(Errno),
    Decompress(String),
}

fn io_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO)
}

/// Decompresses a whole module image in memory.
pub fn decompress(mut file: File, compression: Compression) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match compression {
        Compression::None => file
            .read_to_end(&mut out)
            .map(drop)
            .map_err(|e| e.to_string())?,
        Compression::Xz => {
            let mut input = std::io::BufReader::new(file);
            lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| format!("xz: {e}"))?
        }
        Compression::Zstd => out = zstd::decode_all(file).map_err(|e| format!("zstd: {e}"))?,
        Compression::Gzip => flate2::read::GzDecoder::new(file)
            .read_to_end(&mut out)
            .map(drop)
            .map_err(|e| format!("gzip: {e}"))?,
    }
    Ok(out)
}
