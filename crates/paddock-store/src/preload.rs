//! Images preloaded into the appliance image (`/usr/share/paddock/preload/
//! *.tar`, written by `paddock build`): imported into the store at start-up,
//! so containers start on a device with no network.
//!
//! Each archive is imported once per version of the appliance image: a
//! record (`<store>/preloaded.json`) keeps each archive's size and mtime, so
//! later boots skip it, and an image the user removed stays removed until an
//! update brings a new archive.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::Store;
use paddock_sys::fs::{write_atomic, PRIVATE};

/// Imports every archive in `dir` not imported before. A broken archive is
/// logged and skipped; the others are still imported.
pub async fn import_preloaded(dir: &Path, store: &Store) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut archives: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tar"))
        .collect();
    archives.sort();
    let record_path = store.root().join("preloaded.json");
    let mut record: BTreeMap<String, String> = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut changed = false;
    for archive in archives {
        let Ok(meta) = std::fs::metadata(&archive) else {
            continue;
        };
        let key = archive.display().to_string();
        let version = format!("{}:{}", meta.len(), meta.mtime());
        if record.get(&key) == Some(&version) {
            continue;
        }
        match store.import_oci_archive(&archive).await {
            Ok(image) => {
                tracing::info!(archive = %key, image = %image.reference, "imported a preloaded image");
                record.insert(key, version);
                changed = true;
            }
            Err(error) => tracing::error!(archive = %key, %error, "importing a preloaded image"),
        }
    }
    if changed {
        let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
        if let Err(error) = write_atomic(&record_path, &json, PRIVATE) {
            tracing::warn!(path = %record_path.display(), %error, "recording the preloaded images");
        }
    }
}
