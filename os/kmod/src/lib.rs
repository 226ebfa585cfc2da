//! Kernel module loading for paddock, without kmod's C library or tools.
//!
//! - [`ensure_loaded`]: make sure named modules (bridge, veth, nf_tables…)
//!   are available, loading them and their dependencies from
//!   `/lib/modules/$(uname -r)` if needed. Already-loaded and built-in
//!   modules count as success, and so does every module on a kernel built
//!   without module support.
//! - [`coldplug`]: load the drivers of the devices present, matching sysfs
//!   `modalias` files against `modules.alias` as udev does.
//! - [`ModuleIndex`], [`Loader`], [`Kernel`]: the parts, for callers that
//!   load from another directory or test against a staged module tree.
//!
//! Compressed modules (`.ko.xz`, `.ko.zst`, `.ko.gz`) go to the kernel as
//! files when it decompresses that format itself (`/sys/module/compression`),
//! else they are decompressed here and loaded with init_module(2).

mod coldplug;
mod error;
mod fnmatch;
mod index;
mod kernel;
mod loader;

pub use coldplug::{coldplug, Report};
pub use error::Error;
pub use fnmatch::fnmatch;
pub use index::{name_from_path, normalize, running_kernel_dir, ModuleEntry, ModuleIndex};
pub use kernel::{Compression, Kernel, SysKernel};
pub use loader::{decompress, Loader, Outcome};

/// Makes sure each named module is loaded or built in, loading missing ones
/// (and their dependencies) from `/lib/modules/$(uname -r)`.
///
/// Stops at the first module that cannot be loaded; the error names it.
pub fn ensure_loaded(names: &[&str]) -> Result<(), Error> {
    let kernel = SysKernel::new();
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !kernel.is_loaded(n))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !kernel.supports_modules() {
        // CONFIG_MODULES=n: whatever exists is built in, and nothing can be added.
        tracing::debug!(?missing, "kernel without module support: assuming built in");
        return Ok(());
    }
    let loader = Loader::new(ModuleIndex::for_running_kernel()?, kernel);
    for name in missing {
        loader.load(name)?;
    }
    Ok(())
}
