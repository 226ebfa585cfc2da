//! Container manifests: `/etc/paddock/containers/*.yaml`, one container per
//! file, with docker-compose's field names.
//!
//! A manifest is read in two steps: [`wire`] does the YAML and the keys
//! (unknown fields, duplicate keys), keeping the position of every value;
//! [`validate`] and its helpers turn each value into the checked [`Manifest`]
//! and point at the exact line and column of anything wrong, saying what was
//! expected. [`load_dir`] adds the checks that span files.
//!
//! Public API: [`load_dir`], [`load_file`], [`start_order`], [`Manifest`]
//! and its field types, [`ManifestError`], [`LoadReport`].

mod capabilities;
mod command;
mod directory;
mod environment;
mod error;
mod health;
mod limits;
mod mounts;
mod order;
mod policy;
mod ports;
pub mod settings;
mod types;
mod units;
mod user;
mod validate;
mod value;
mod wire;

use std::path::Path;

pub use directory::load_dir;
pub use error::ManifestError;
pub use limits::ULIMIT_NAMES;
pub use order::start_order;
pub use policy::signal_number;
pub use types::*;
pub use units::parse_duration;
pub use validate::is_valid_name;

use error::{Issue, Pos};
use validate::Checked;

/// Manifest files larger than this are refused: a manifest is a page of YAML.
const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// What [`load_dir`] found: the manifests that can run, and every error.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub manifests: Vec<Manifest>,
    pub errors: Vec<ManifestError>,
}

/// Loads one manifest on its own (no directory-wide checks). With several
/// errors in the file, returns the first; [`load_dir`] reports them all.
pub fn load_file(path: &Path) -> Result<Manifest, ManifestError> {
    let lookup = |k: &str| std::env::var(k).ok();
    load_checked(path, &lookup)
        .map(|c| c.manifest)
        .map_err(|mut errors| errors.remove(0))
}

/// Reads and checks one file; every error in it (never an empty list).
pub(crate) fn load_checked(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Checked, Vec<ManifestError>> {
    let fail = |message: String| vec![ManifestError::new(path, Pos::UNKNOWN, message)];
    let size = std::fs::metadata(path)
        .map_err(|e| fail(format!("cannot read: {e}")))?
        .len();
    if size > MAX_FILE_SIZE {
        return Err(fail(format!(
            "too large ({size} bytes; a manifest may have at most 1 MiB)"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    check_text(&text, path, lookup)
        .map_err(|issues| issues.into_iter().map(|i| i.in_file(path)).collect())
}

fn check_text(
    text: &str,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Checked, Vec<Issue>> {
    let wire = wire::parse(text).map_err(|issue| vec![issue])?;
    validate::check(wire, path, lookup)
}

/// Checks manifest text as if read from `path` (tests, and tools that
/// validate before writing). Variables without a value resolve to nothing.
pub fn load_str(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
    check_text(text, path, &|_| None)
        .map(|c| c.manifest)
        .map_err(|mut issues| issues.remove(0).in_file(path))
}

#[cfg(test)]
mod tests;
