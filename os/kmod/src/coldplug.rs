//! Coldplug: load the drivers for the devices present at boot, as udev does
//! by running `modprobe $MODALIAS` for every sysfs `modalias` file.
//!
//! Loading a driver can reveal new devices (virtio_pci exposes the virtio
//! devices whose drivers are virtio_blk, virtio_net…), so the walk repeats
//! until a round loads nothing new.

use std::collections::HashSet;
use std::path::Path;

use tracing::{debug, warn};

use crate::kernel::Kernel;
use crate::loader::{Loader, Outcome};
use crate::Error;

/// What a coldplug did.
#[derive(Debug, Default)]
pub struct Report {
    /// Distinct modalias strings seen.
    pub devices: usize,
    /// Modules loaded, in load order of their requests.
    pub loaded: Vec<String>,
    /// Modules that failed; coldplug carries on past them.
    pub errors: Vec<Error>,
}

const MAX_ROUNDS: usize = 8;

/// Walks `devices` (normally `/sys/devices`) and loads every module whose
/// alias matches a device.
pub fn coldplug<K: Kernel>(loader: &Loader<K>, devices: &Path) -> Report {
    let mut report = Report::default();
    let mut seen_aliases = HashSet::new();
    let mut tried = HashSet::new();
    for round in 0..MAX_ROUNDS {
        let mut aliases = Vec::new();
        walk(devices, &mut aliases);
        let mut progressed = false;
        for alias in aliases {
            if !seen_aliases.insert(alias.clone()) {
                continue;
            }
            report.devices += 1;
            for module in loader.index().resolve_alias(&alias) {
                if !tried.insert(module.to_string()) {
                    continue;
                }
                match loader.load(module) {
                    Ok(Outcome::Loaded) => {
                        report.loaded.push(module.to_string());
                        progressed = true;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        warn!(%alias, "coldplug: {e}");
                        report.errors.push(e);
                    }
                }
            }
        }
        debug!(round, loaded = report.loaded.len(), "coldplug round");
        if !progressed {
            break;
        }
    }
    report
}

/// Collects the contents of every `modalias` file below `dir`, without
/// following symlinks (sysfs links back up the tree).
fn walk(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    // Sorted, so that devices are handled in the same order on every boot.
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&entry.path(), out);
        } else if kind.is_file() && entry.file_name() == "modalias" {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                let alias = text.trim();
                if !alias.is_empty() {
                    out.push(alias.to_string());
                }
            }
        }
    }
}
