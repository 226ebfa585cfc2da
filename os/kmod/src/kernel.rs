//! The kernel-facing side of module loading, behind a trait so the loader's
//! dependency and fallback logic can be tested without loading anything.

use std::fs::File;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::kmod::ModuleInitFlags;

/// Compression of a module file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Xz,
    Zstd,
    Gzip,
}

impl Compression {
    pub fn of(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("xz") => Self::Xz,
            Some("zst") => Self::Zstd,
            Some("gz") => Self::Gzip,
            _ => Self::None,
        }
    }

    /// The name `/sys/module/compression` uses.
    fn sysfs_name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
        }
    }
}

/// `MODULE_INIT_COMPRESSED_FILE` (Linux 5.17+): the kernel decompresses.
const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

pub trait Kernel {
    /// Whether the kernel can load modules at all (`/proc/modules` exists).
    fn supports_modules(&self) -> bool;
    /// Whether `/sys/module/NAME` exists: loaded, or built in with parameters.
    fn is_loaded(&self, name: &str) -> bool;
    /// Whether the kernel decompresses modules of this kind itself.
    fn decompresses(&self, compression: Compression) -> bool;
    /// finit_module(2); `compressed` sets MODULE_INIT_COMPRESSED_FILE.
    fn finit_module(&self, file: &File, compressed: bool) -> Result<(), Errno>;
    /// init_module(2) with an uncompressed image.
    fn init_module(&self, image: &[u8]) -> Result<(), Errno>;
}

/// The running kernel, seen through `/proc` and `/sys`.
#[derive(Debug, Clone)]
pub struct SysKernel {
    sys: PathBuf,
    proc: PathBuf,
}

impl Default for SysKernel {
    fn default() -> Self {
        Self {
            sys: PathBuf::from("/sys"),
            proc: PathBuf::from("/proc"),
        }
    }
}

impl SysKernel {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Kernel for SysKernel {
    fn supports_modules(&self) -> bool {
        self.proc.join("modules").exists()
    }

    fn is_loaded(&self, name: &str) -> bool {
        self.sys
            .join("module")
            .join(crate::index::normalize(name))
            .exists()
    }

    fn decompresses(&self, compression: Compression) -> bool {
        // Present only with CONFIG_MODULE_DECOMPRESS; names the one supported format.
        std::fs::read_to_string(self.sys.join("module/compression"))
            .map(|s| s.trim() == compression.sysfs_name())
            .unwrap_or(false)
    }

    fn finit_module(&self, file: &File, compressed: bool) -> Result<(), Errno> {
        let flags = if compressed {
            ModuleInitFlags::from_bits_retain(MODULE_INIT_COMPRESSED_FILE)
        } else {
            ModuleInitFlags::empty()
        };
        nix::kmod::finit_module(file, c"", flags)
    }

    fn init_module(&self, image: &[u8]) -> Result<(), Errno> {
        nix::kmod::init_module(image, c"")
    }
}
