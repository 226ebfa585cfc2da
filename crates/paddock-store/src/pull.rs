//! Pulling an image: resolve the reference (and an index to one platform),
//! verify and store manifest and config, then fetch layers in parallel,
//! hashing each blob while it streams into the unpacker, and commit blob,
//! layer and finally the image record only when every digest matched.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::digest::{Digest, DigestError};
use super::images::{parse_reference, ImageRecord, LayerRecord};
use super::layers::Unpacked;
use super::oci::{self, Descriptor, ImageManifest, Manifest};
use super::platform::Platform;
use super::registries::RegistriesConfig;
use super::remote::Remote;
use super::unpack::UnpackOptions;
use super::{Result, Store, StoreError};

/// Largest manifest or config accepted.
const MAX_SMALL_BLOB: u64 = 16 << 20;

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Which manifest to take from an index (default linux/amd64).
    pub platform: Platform,
    pub registries: RegistriesConfig,
    /// Layers downloaded at once (default 3).
    pub max_concurrent_layers: usize,
    pub unpack: UnpackOptions,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            platform: Platform::default(),
            registries: RegistriesConfig::default(),
            max_concurrent_layers: 3,
            unpack: UnpackOptions::default(),
        }
    }
}

impl PullOptions {
    pub fn new(registries: RegistriesConfig) -> Self {
        Self {
            registries,
            ..Self::default()
        }
    }

    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }
}

/// Feeds downloaded chunks to the blocking unpacker; `Err` means the
/// download failed and the unpacker must not take the stream as complete.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, ()>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(())) => return Err(io::Error::other("download failed")),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

fn task_err(e: tokio::task::JoinError) -> StoreError {
    StoreError::Task(e.to_string())
}

impl Store {
    /// Pulls `reference` (normalised the docker way) and returns its record.
    pub async fn pull(&self, reference: &str, opts: &PullOptions) -> Result<ImageRecord> {
        let r = parse_reference(reference)?;
        let normalized = r.whole();
        let _shared = self.store_lock(false).await?;
        let remote = Remote::new(&r, &opts.registries);
        let manifest_err = |source| StoreError::Manifest {
            reference: normalized.clone(),
            source,
        };

        let top = remote.manifest(None).await?;
        let top_digest = Digest::of(&top);
        if let Some(d) = r.digest() {
            Digest::parse(d)?.verify(&top_digest, &format!("manifest of {normalized}"))?;
        }
        let (index, manifest_bytes, manifest_digest) =
            match Manifest::parse(&top).map_err(manifest_err)? {
                Manifest::Image(_) => (None, top, top_digest),
                Manifest::Index(idx) => {
                    let entry = opts.platform.select(&idx.manifests).ok_or_else(|| {
                        let available: Vec<String> = idx
                            .manifests
                            .iter()
                            .filter_map(|d| d.platform.as_ref().map(Platform::to_string))
                            .collect();
                        StoreError::NoPlatform {
                            reference: normalized.clone(),
                            platform: opts.platform.to_string(),
                            available: available.join(", "),
                        }
                    })?;
                    debug!(digest = %entry.digest, platform = %opts.platform, "resolved index");
                    let bytes = remote.manifest(Some(&entry.digest)).await?;
                    check_bytes(entry, &bytes, "manifest")?;
                    (Some((top_digest, top)), bytes, entry.digest.clone())
                }
            };
        let manifest = match Manifest::parse(&manifest_bytes).map_err(manifest_err)? {
            Manifest::Image(m) => m,
            Manifest::Index(_) => {
                return Err(StoreError::Unsupported {
                    reference: normalized,
                    reason: "an image index inside an image index".into(),
                })
            }
        };
        check_manifest(&normalized, &manifest)?;
        // Concurrent pulls of one image (in this or another process) run one
        // after the other; the later one finds everything in place.
        let _image_lock = self.lock_digest(&manifest_digest).await?;

        let config_bytes = if self.inner.blobs.contains(&manifest.config.digest) {
            self.inner.blobs.read(&manifest.config.digest)?
        } else {
            remote.small_blob(&manifest.config, MAX_SMALL_BLOB).await?
        };
        check_bytes(&manifest.config, &config_bytes, "image config")?;
        let config: oci_spec::image::ImageConfiguration = serde_json::from_slice(&config_bytes)
            .map_err(|source| StoreError::Config {
                reference: normalized.clone(),
                digest: manifest.config.digest.clone(),
                source,
            })?;
        let platform = Platform {
            os: config.os().to_string(),
            architecture: config.architecture().to_string(),
            variant: config.variant().clone(),
        };
        if !opts.platform.accepts(&platform) {
            return Err(StoreError::WrongPlatform {
                reference: normalized,
                found: platform.to_string(),
                wanted: opts.platform.to_string(),
            });
        }
        let diff_ids = config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<Result<Vec<_>, _>>()?;
        if diff_ids.len() != manifest.layers.len() {
            return Err(StoreError::Unsupported {
                reference: normalized,
                reason: format!(
                    "manifest has {} layers but config has {} diff_ids",
                    manifest.layers.len(),
                    diff_ids.len()
                ),
            });
        }

        let remote = Arc::new(remote);
        let jobs: Vec<(Descriptor, Digest)> = manifest
            .layers
            .iter()
            .cloned()
            .zip(diff_ids.iter().cloned())
            .collect();
        let unpack = opts.unpack;
        let results: Vec<Result<()>> = futures_util::stream::iter(jobs)
            .map(|(desc, diff_id)| {
                let (store, remote) = (self.clone(), remote.clone());
                async move { store.fetch_layer(remote, &desc, &diff_id, &unpack).await }
            })
            .buffer_unordered(opts.max_concurrent_layers.max(1))
            .collect()
            .await;
        // Every layer task has finished (and cleaned up) before we report.
        results.into_iter().collect::<Result<Vec<()>>>()?;

        // Manifest and config (verified above) only once every layer is in,
        // so a failed pull leaves nothing but shared layers it completed.
        if let Some((digest, bytes)) = &index {
            self.inner.blobs.put(digest, bytes, "image index")?;
        }
        self.inner
            .blobs
            .put(&manifest_digest, &manifest_bytes, "manifest")?;
        self.inner
            .blobs
            .put(&manifest.config.digest, &config_bytes, "image config")?;

        let layers: Vec<LayerRecord> = manifest
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(d, diff_id)| LayerRecord {
                digest: d.digest.clone(),
                diff_id,
                size: d.size,
                media_type: d.media_type.clone(),
            })
            .collect();
        let record = ImageRecord {
            reference: normalized,
            manifest_digest,
            index_digest: index.map(|(d, _)| d),
            config_digest: manifest.config.digest.clone(),
            size: layers.iter().map(|l| l.size).sum(),
            layers,
            platform,
            pulled_at: Utc::now(),
        };
        self.inner.images.put(&record)?;
        info!(reference = %record.reference, digest = %record.manifest_digest, "pulled");
        Ok(record)
    }

    /// Makes sure the blob `desc` and its unpacked layer `diff_id` are in
    /// the store, downloading and unpacking at once when both are missing.
    async fn fetch_layer(
        &self,
        remote: Arc<Remote>,
        desc: &Descriptor,
        diff_id: &Digest,
        opts: &UnpackOptions,
    ) -> Result<()> {
        let _lock = self.lock_digest(&desc.digest).await?;
        let blobs = &self.inner.blobs;
        let layers = &self.inner.layers;
        let have_blob = blobs.contains(&desc.digest);
        let have_layer = layers.contains(diff_id);
        if have_blob && have_layer {
            return Ok(());
        }
        if have_blob {
            debug!(digest = %desc.digest, "unpacking layer from the local blob");
            let path = blobs.path(&desc.digest);
            let file = std::fs::File::open(&path).map_err(super::io_err("open", &path))?;
            let (layers2, diff, opts) = (layers.clone(), diff_id.clone(), *opts);
            let unpacked = tokio::task::spawn_blocking(move || layers2.unpack(file, &diff, &opts))
                .await
                .map_err(task_err)??;
            return Ok(layers.commit(unpacked)?);
        }

        debug!(digest = %desc.digest, size = desc.size, "downloading layer");
        let mut stream = remote.blob(desc).await?;
        let mut writer = blobs.writer(&desc.digest, Some(desc.size))?;
        let (tx, unpacker) = if have_layer {
            (None, None)
        } else {
            let (tx, rx) = mpsc::channel::<Result<Bytes, ()>>(16);
            let (layers2, diff, opts) = (layers.clone(), diff_id.clone(), *opts);
            let handle = tokio::task::spawn_blocking(move || {
                layers2.unpack(
                    ChannelReader {
                        rx,
                        cur: Bytes::new(),
                    },
                    &diff,
                    &opts,
                )
            });
            (Some(tx), Some(handle))
        };

        let mut unpacker_gone = false;
        let downloaded: Result<()> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                writer.write(&chunk)?;
                if let Some(tx) = &tx {
                    if tx.send(Ok(chunk)).await.is_err() {
                        unpacker_gone = true;
                        break;
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Some(tx) = tx {
            if downloaded.is_err() {
                let _ = tx.send(Err(())).await;
            }
        }
        // Wait for the unpacker in every case so its temp dir is gone
        // before we return.
        let unpacked: Option<Result<Unpacked>> = match unpacker {
            Some(h) => Some(h.await.map_err(task_err)?.map_err(StoreError::from)),
            None => None,
        };
        if unpacker_gone {
            if let Some(Err(e)) = unpacked {
                return Err(e);
            }
        }
        downloaded?;
        let verified = writer.verify()?;
        if let Some(unpacked) = unpacked {
            layers.commit(unpacked?)?;
        }
        verified.persist()?;
        Ok(())
    }
}

/// Checks bytes fetched for `desc` against its digest and size.
fn check_bytes(desc: &Descriptor, bytes: &[u8], what: &str) -> Result<(), DigestError> {
    if bytes.len() as u64 != desc.size {
        return Err(DigestError::Size {
            what: format!("{what} {}", desc.digest),
            expected: desc.size,
            actual: bytes.len() as u64,
        });
    }
    desc.digest
        .verify(&Digest::of(bytes), &format!("{what} {}", desc.digest))
}

/// Refuses manifests that are not container images.
fn check_manifest(reference: &str, m: &ImageManifest) -> Result<()> {
    let unsupported = |reason: String| StoreError::Unsupported {
        reference: reference.to_string(),
        reason,
    };
    if m.config.media_type != oci::OCI_CONFIG && m.config.media_type != oci::DOCKER_CONFIG {
        return Err(unsupported(format!(
            "not a container image: config media type {}",
            m.config.media_type
        )));
    }
    for l in &m.layers {
        if !oci::is_layer(&l.media_type) {
            return Err(unsupported(format!(
                "layer {} has unsupported media type {}",
                l.digest, l.media_type
            )));
        }
    }
    Ok(())
}
