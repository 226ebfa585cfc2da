//! Importing an OCI image layout archive (a `.tar` with `oci-layout`,
//! `index.json` and `blobs/sha256/…`): how images preloaded into the
//! appliance image (`paddock build`, `preload: true`) reach the store on a
//! device with no network. Every blob is verified against its digest and
//! every layer against its diff_id, as in a pull.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use bytes::Bytes;

use super::build::{BuiltImage, BuiltLayer};
use super::oci::{Manifest, OCI_INDEX};
use super::{Digest, ImageRecord, Platform, Result, Store, StoreError};

/// The annotation that names the image in `index.json`.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The largest archive member read into memory (a layer).
const MAX_BLOB: u64 = 4 << 30;

fn unsupported(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Unsupported {
        reference: path.display().to_string(),
        reason: reason.into(),
    }
}

impl Store {
    /// Imports the single image in the archive at `path` under the name its
    /// index gives it; returns the record.
    pub async fn import_oci_archive(&self, path: &Path) -> Result<ImageRecord> {
        let owned = path.to_path_buf();
        let (image, reference) = tokio::task::spawn_blocking(move || read_archive(&owned))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        self.import(&image, &reference).await
    }
}

fn read_archive(path: &Path) -> Result<(BuiltImage, String)> {
    let io = |source| StoreError::Io {
        context: "reading",
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut members: BTreeMap<String, Bytes> = BTreeMap::new();
    let mut archive = tar::Archive::new(file);
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(io)?.to_string_lossy().into_owned();
        let size = entry.header().size().map_err(io)?;
        if size > MAX_BLOB {
            return Err(unsupported(path, format!("{name} is larger than 4 GiB")));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut data).map_err(io)?;
        members.insert(name.trim_start_matches("./").to_string(), Bytes::from(data));
    }
    let blob = |digest: &Digest, what: &str| -> Result<Bytes> {
        let data = members
            .get(&format!("blobs/sha256/{}", digest.hex()))
            .cloned()
            .ok_or_else(|| unsupported(path, format!("{what} {digest} is missing")))?;
        digest.verify(&Digest::of(&data), what)?;
        Ok(data)
    };

    let index = members
        .get("index.json")
        .ok_or_else(|| unsupported(path, "no index.json: not an OCI image layout"))?;
    let index: serde_json::Value =
        serde_json::from_slice(index).map_err(|e| unsupported(path, format!("index.json: {e}")))?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let [entry] = entries.as_slice() else {
        return Err(unsupported(
            path,
            format!("index.json lists {} images, expected 1", entries.len()),
        ));
    };
    let reference = entry["annotations"][REF_NAME]
        .as_str()
        .ok_or_else(|| unsupported(path, format!("index.json has no {REF_NAME} annotation")))?
        .to_string();
    let digest: Digest = entry["digest"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| unsupported(path, format!("index.json: {e}")))?;
    let manifest_bytes = blob(&digest, "manifest")?;
    let manifest = match Manifest::parse(&manifest_bytes) {
        Ok(Manifest::Image(m)) => m,
        Ok(Manifest::Index(_)) => {
            return Err(unsupported(
                path,
                format!("{digest} is an index ({OCI_INDEX}), expected one image manifest"),
            ))
        }
        Err(source) => {
            return Err(StoreError::Manifest {
                reference: reference.clone(),
                source,
            })
        }
    };
    let config_bytes = blob(&manifest.config.digest, "image config")?;
    let config: serde_json::Value =
        serde_json::from_slice(&config_bytes).map_err(|source| StoreError::Config {
            reference: reference.clone(),
            digest: manifest.config.digest.clone(),
            source,
        })?;
    let diff_ids: Vec<Digest> = config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d.as_str()?.parse().ok()).collect())
        .unwrap_or_default();
    if diff_ids.len() != manifest.layers.len() {
        return Err(unsupported(
            path,
            format!(
                "{} layers but {} diff_ids in the image config",
                manifest.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let layers = manifest
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(descriptor, diff_id)| {
            Ok(BuiltLayer {
                data: blob(&descriptor.digest, "layer")?,
                descriptor: descriptor.clone(),
                diff_id,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let platform = Platform {
        os: config["os"].as_str().unwrap_or("linux").to_string(),
        architecture: config["architecture"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        variant: config["variant"].as_str().map(str::to_string),
    };
    let image = BuiltImage {
        manifest,
        manifest_bytes,
        manifest_digest: digest,
        config_bytes,
        layers,
        platform,
    };
    Ok((image, reference))
}
