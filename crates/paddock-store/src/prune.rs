//! Garbage collection: drop image records not in use, then every blob and
//! unpacked layer no remaining record names. Runs under the store lock held
//! exclusively, so no pull is half-way through.

use std::collections::HashSet;

use tracing::info;

use super::digest::Digest;
use super::images::normalize_reference;
use super::{io_err, Result, Store};

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PruneReport {
    /// References whose records were dropped.
    pub images_removed: Vec<String>,
    pub blobs_removed: Vec<Digest>,
    /// diff_ids of removed layer dirs.
    pub layers_removed: Vec<Digest>,
    /// Blob bytes freed (unpacked layers not counted).
    pub bytes_freed: u64,
}

impl Store {
    /// Drops every image whose reference is not in `keep` (the references
    /// in use by containers, mounted or declared), then every blob and layer
    /// no remaining image needs.
    pub async fn prune(&self, keep: &[String]) -> Result<PruneReport> {
        let _exclusive = self.store_lock(true).await?;
        let store = self.clone();
        let keep = keep.to_vec();
        tokio::task::spawn_blocking(move || store.prune_locked(&keep))
            .await
            .map_err(|e| super::StoreError::Task(e.to_string()))?
    }

    fn prune_locked(&self, keep: &[String]) -> Result<PruneReport> {
        let keep: HashSet<String> = keep
            .iter()
            .map(|r| normalize_reference(r))
            .collect::<Result<_, _>>()?;
        let mut report = PruneReport::default();
        let mut blobs_needed = HashSet::new();
        let mut layers_needed = HashSet::new();
        for image in self.images()? {
            if !keep.contains(&image.reference) {
                self.inner.images.remove(&image.reference)?;
                report.images_removed.push(image.reference);
                continue;
            }
            blobs_needed.extend(image.blobs().into_iter().cloned());
            layers_needed.extend(image.diff_ids().into_iter().cloned());
        }
        let blobs = &self.inner.blobs;
        for d in blobs.list().map_err(io_err("list", blobs.dir()))? {
            if !blobs_needed.contains(&d) {
                report.bytes_freed += blobs
                    .remove(&d)
                    .map_err(io_err("remove", &blobs.path(&d)))?;
                report.blobs_removed.push(d);
            }
        }
        let layers = &self.inner.layers;
        for d in layers.list().map_err(io_err("list", layers.dir()))? {
            if !layers_needed.contains(&d) {
                layers
                    .remove(&d)
                    .map_err(io_err("remove", &layers.path(&d)))?;
                report.layers_removed.push(d);
            }
        }
        // Per-digest lock files: no pull holds one while we hold the store
        // lock exclusively.
        let locks = &self.inner.locks;
        for entry in std::fs::read_dir(locks).map_err(io_err("list", locks))? {
            let entry = entry.map_err(io_err("list", locks))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".lock") && name != "store.lock" {
                std::fs::remove_file(entry.path()).map_err(io_err("remove", &entry.path()))?;
            }
        }
        for d in [blobs.dir(), layers.dir()] {
            super::fsutil::fsync_dir(d).map_err(io_err("fsync", d))?;
        }
        info!(
            images = report.images_removed.len(),
            blobs = report.blobs_removed.len(),
            layers = report.layers_removed.len(),
            bytes = report.bytes_freed,
            "pruned"
        );
        Ok(report)
    }
}
