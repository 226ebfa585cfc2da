//! Preloaded container images: pulled at build time through paddockd's own
//! store (same verification as on the device) and written as OCI image
//! layout archives to `/usr/share/paddock/preload/<container>.tar`, which
//! paddockd imports on first boot so containers start without a network.
//!
//! Archive: `oci-layout`, `index.json` (one manifest, annotated with
//! `org.opencontainers.image.ref.name` = the normalised reference), and
//! `blobs/sha256/*`; entries sorted, root-owned, dated SOURCE_DATE_EPOCH.

use std::collections::BTreeMap;
use std::path::Path;

use paddock_store::{PullOptions, RegistriesConfig, Store};

use super::error::{io_err, BuildError, Result};

/// Image reference → file name (the first container that uses it).
pub fn wanted(
    manifests: &[paddock_manifest::Manifest],
    pick: impl Fn(&str) -> bool,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for m in manifests.iter().filter(|m| pick(&m.name)) {
        let reference =
            paddock_store::normalize_reference(&m.image).unwrap_or_else(|_| m.image.clone());
        out.entry(reference)
            .or_insert_with(|| format!("{}.tar", m.name));
    }
    out
}

/// Pulls each image into a store under `work` and writes its archive into `dest`.
pub async fn fetch(
    images: &BTreeMap<String, String>,
    registries: RegistriesConfig,
    work: &Path,
    dest: &Path,
    epoch: u64,
) -> Result<()> {
    if images.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dest).map_err(io_err("creating", dest))?;
    let store_dir = work.join("preload-store");
    let store = Store::open_dir(&store_dir).map_err(|e| BuildError::Preload {
        reference: String::new(),
        message: e.to_string(),
    })?;
    let opts = PullOptions::new(registries);
    for (reference, file) in images {
        let fail = |message: String| BuildError::Preload {
            reference: reference.clone(),
            message,
        };
        let record = store
            .pull(reference, &opts)
            .await
            .map_err(|e| fail(format!("pull: {e}")))?;
        let manifest_path = store.blob_path(&record.manifest_digest);
        let manifest_bytes =
            std::fs::read(&manifest_path).map_err(io_err("reading", &manifest_path))?;
        let media_type = serde_json::from_slice::<serde_json::Value>(&manifest_bytes)
            .ok()
            .and_then(|v| v["mediaType"].as_str().map(str::to_string))
            .unwrap_or_else(|| paddock_store::oci::OCI_MANIFEST.to_string());
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": paddock_store::oci::OCI_INDEX,
            "manifests": [{
                "mediaType": media_type,
                "digest": record.manifest_digest.to_string(),
                "size": manifest_bytes.len(),
                "annotations": { "org.opencontainers.image.ref.name": reference },
            }],
        });
        let mut blobs: Vec<&paddock_store::Digest> =
            vec![&record.manifest_digest, &record.config_digest];
        blobs.extend(record.layers.iter().map(|l| &l.digest));
        blobs.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        blobs.dedup();
        let out_path = dest.join(file);
        let out = std::fs::File::create(&out_path).map_err(io_err("creating", &out_path))?;
        let mut tar = tar::Builder::new(out);
        let terr = |e: std::io::Error| fail(format!("writing the archive: {e}"));
        let mut add =
            |name: &str, data: &mut dyn std::io::Read, size: u64| -> std::io::Result<()> {
                let mut h = tar::Header::new_ustar();
                h.set_size(size);
                h.set_mode(0o644);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(epoch);
                h.set_entry_type(tar::EntryType::Regular);
                tar.append_data(&mut h, name, data)
            };
        let index_bytes = serde_json::to_vec(&index).map_err(|e| fail(e.to_string()))?;
        for digest in blobs {
            let p = store.blob_path(digest);
            let mut f = std::fs::File::open(&p).map_err(io_err("reading", &p))?;
            let size = f.metadata().map_err(io_err("reading", &p))?.len();
            add(&format!("blobs/sha256/{}", digest.hex()), &mut f, size).map_err(terr)?;
        }
        add(
            "index.json",
            &mut &index_bytes[..],
            index_bytes.len() as u64,
        )
        .map_err(terr)?;
        let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
        add("oci-layout", &mut &layout[..], layout.len() as u64).map_err(terr)?;
        tar.into_inner().and_then(|f| f.sync_all()).map_err(terr)?;
    }
    Ok(())
}
