//! Importing a freshly built image straight into the local store, with
//! the same verification and unpacking as a pull.

use chrono::Utc;

use super::build::BuiltImage;
use super::images::{parse_reference, ImageRecord, LayerRecord};
use super::{Result, Store, StoreError, UnpackOptions};

impl Store {
    /// Stores `image` under `reference` as if it had been pulled.
    pub async fn import(&self, image: &BuiltImage, reference: &str) -> Result<ImageRecord> {
        let normalized = parse_reference(reference)?.whole();
        let _shared = self.store_lock(false).await?;
        let blobs = &self.inner.blobs;
        blobs.put(&image.manifest_digest, &image.manifest_bytes, "manifest")?;
        blobs.put(
            &image.manifest.config.digest,
            &image.config_bytes,
            "image config",
        )?;
        for layer in &image.layers {
            let _lock = self.lock_digest(&layer.descriptor.digest).await?;
            blobs.put(&layer.descriptor.digest, &layer.data, "layer")?;
            if self.inner.layers.contains(&layer.diff_id) {
                continue;
            }
            let (layers, data, diff_id) = (
                self.inner.layers.clone(),
                layer.data.clone(),
                layer.diff_id.clone(),
            );
            let unpacked = tokio::task::spawn_blocking(move || {
                layers.unpack(&data[..], &diff_id, &UnpackOptions::default())
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
            self.inner.layers.commit(unpacked)?;
        }
        let layers: Vec<LayerRecord> = image
            .layers
            .iter()
            .map(|l| LayerRecord {
                digest: l.descriptor.digest.clone(),
                diff_id: l.diff_id.clone(),
                size: l.descriptor.size,
                media_type: l.descriptor.media_type.clone(),
            })
            .collect();
        let record = ImageRecord {
            reference: normalized,
            manifest_digest: image.manifest_digest.clone(),
            index_digest: None,
            config_digest: image.manifest.config.digest.clone(),
            size: layers.iter().map(|l| l.size).sum(),
            layers,
            platform: image.platform.clone(),
            pulled_at: Utc::now(),
        };
        self.inner.images.put(&record)?;
        Ok(record)
    }
}
