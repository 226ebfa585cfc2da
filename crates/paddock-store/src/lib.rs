//! paddock's image store under `<root>/var/lib/paddock`:
//!
//! - `blobs/sha256/<hex>`: manifests, configs and layer blobs, each verified
//!   against its digest before it is renamed into place;
//! - `layers/<diff_id hex>`: each layer unpacked once (overlayfs whiteouts),
//!   shared by every image that has it;
//! - `images/<sha256(reference)>.json`: what a reference resolved to;
//! - `locks/`: per-blob file locks so two pulls fetch a blob once.
//!
//! Every write goes to a temp name first (`.tmp-<pid>-…`), is fsynced and
//! renamed; temps whose process died are removed by [`Store::open`].
//!
//! API: [`Store::open`], [`Store::pull`], [`Store::image`], [`Store::images`],
//! [`Store::image_config`], [`Store::remove_image`], [`Store::prune`],
//! [`Store::lower_dirs`], [`Store::import`]; [`overlay::mount_rootfs`];
//! [`build::build_image`], [`build::push`]; [`ImageRef`] parses references
//! without oci-spec's regex.

mod archive;
mod blobs;
pub mod build;
pub mod digest;
mod fault;
mod fsutil;
pub mod images;
mod import;
mod layers;
pub mod oci;
pub mod overlay;
pub mod platform;
mod preload;
mod prune;
mod pull;
pub use paddock_wire::reference;
mod oci_reference;
pub mod registries;
mod remote;
pub mod unpack;
pub mod whiteout;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use blobs::BlobError;
pub use digest::{Digest, DigestError};
pub use fault::Fault;
pub use images::{normalize_reference, ImageError, ImageRecord, LayerRecord};
pub use layers::LayerError;
pub use oci::ManifestError;
pub use oci_reference::oci_reference;
pub use platform::Platform;
pub use preload::import_preloaded;
pub use prune::PruneReport;
pub use pull::PullOptions;
pub use reference::{ImageRef, ReferenceError};
pub use registries::{RegistriesConfig, RegistriesError};
pub use remote::RemoteError;
pub use unpack::{UnpackError, UnpackOptions};

use blobs::Blobs;
use fsutil::FileLock;
use images::Images;
use layers::Layers;
use paddock_wire::paths::Paths;

/// Errors from the image store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("{reference}: {source}")]
    Manifest {
        reference: String,
        source: ManifestError,
    },
    #[error("{reference}: image config {digest}: {source}")]
    Config {
        reference: String,
        digest: Digest,
        source: serde_json::Error,
    },
    /// An image that is well-formed but not something we can run.
    #[error("{reference}: {reason}")]
    Unsupported { reference: String, reason: String },
    #[error("{reference}: no manifest for {platform} in the image index (it has: {available})")]
    NoPlatform {
        reference: String,
        platform: String,
        available: String,
    },
    #[error("{reference}: image is for {found}, wanted {wanted}")]
    WrongPlatform {
        reference: String,
        found: String,
        wanted: String,
    },
    #[error("background task failed: {0}")]
    Task(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn io_err<'a>(context: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        context,
        path: path.to_path_buf(),
        source,
    }
}

/// The image store. Cheap to clone; clones share in-flight pull state.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    blobs: Blobs,
    layers: Layers,
    images: Images,
    locks: PathBuf,
    /// Blob digests being fetched by this process → their lock.
    inflight: Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while a blob/layer is fetched: in-process then cross-process.
struct DigestLock {
    _file: FileLock,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Store {
    /// Opens (creating if needed) the store at `paths.store()` and removes
    /// temp files left by processes that died mid-write.
    pub fn open(paths: &Paths) -> Result<Store> {
        Self::open_dir(&paths.store())
    }

    /// Opens a store rooted at `dir` (what [`Store::open`] does with
    /// `paths.store()`).
    pub fn open_dir(dir: &Path) -> Result<Store> {
        let blobs = dir.join("blobs/sha256");
        let layers = dir.join("layers");
        let images = dir.join("images");
        let locks = dir.join("locks");
        for d in [&blobs, &layers, &images, &locks] {
            fs::create_dir_all(d).map_err(io_err("create", d))?;
            let removed = fsutil::clean_stale_temps(d).map_err(io_err("clean temp files in", d))?;
            for p in removed {
                tracing::info!(path = %p.display(), "removed a temp file left by an interrupted write");
            }
        }
        Ok(Store {
            inner: Arc::new(Inner {
                root: dir.to_path_buf(),
                blobs: Blobs::new(blobs),
                layers: Layers::new(layers),
                images: Images::new(images),
                locks,
                inflight: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The store directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Where the blob with `digest` lives (whether or not present).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.inner.blobs.path(digest)
    }

    /// Where the unpacked layer with `diff_id` lives.
    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.inner.layers.path(diff_id)
    }

    /// The image record for `reference`, if pulled.
    pub fn image(&self, reference: &str) -> Result<Option<ImageRecord>> {
        let normalized = normalize_reference(reference)?;
        Ok(self.inner.images.get(&normalized)?)
    }

    /// All image records, sorted by reference.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        Ok(self.inner.images.list()?)
    }

    /// The image's config (entrypoint, env, …), read from its verified blob.
    pub fn image_config(&self, image: &ImageRecord) -> Result<oci_spec::image::ImageConfiguration> {
        let bytes = self.inner.blobs.read(&image.config_digest)?;
        image
            .config_digest
            .verify(&Digest::of(&bytes), "image config")?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Config {
            reference: image.reference.clone(),
            digest: image.config_digest.clone(),
            source,
        })
    }

    /// Forgets an image; its blobs and layers go at the next
    /// [`prune`](Self::prune). Returns whether it was there.
    pub fn remove_image(&self, reference: &str) -> Result<bool> {
        let normalized = normalize_reference(reference)?;
        Ok(self.inner.images.remove(&normalized)?)
    }

    /// The overlayfs lower dirs of an image: top layer first.
    pub fn lower_dirs(&self, image: &ImageRecord) -> Vec<PathBuf> {
        image
            .layers
            .iter()
            .rev()
            .map(|l| self.inner.layers.path(&l.diff_id))
            .collect()
    }

    /// The store-wide lock: pulls hold it shared, prune exclusive.
    async fn store_lock(&self, exclusive: bool) -> Result<FileLock> {
        let path = self.inner.locks.join("store.lock");
        FileLock::acquire_async(path.clone(), exclusive)
            .await
            .map_err(io_err("lock", &path))
    }

    /// Serialises work on one blob across tasks and processes.
    async fn lock_digest(&self, digest: &Digest) -> Result<DigestLock> {
        let mutex = {
            let mut map = self
                .inner
                .inflight
                .lock()
                .map_err(|_| StoreError::Task("in-flight map poisoned".into()))?;
            // Forget digests nobody holds or waits for (only the map has them).
            map.retain(|_, m| Arc::strong_count(m) > 1);
            map.entry(digest.clone()).or_default().clone()
        };
        let guard = mutex.lock_owned().await;
        let path = self.inner.locks.join(format!("{}.lock", digest.hex()));
        let file = FileLock::acquire_async(path.clone(), true)
            .await
            .map_err(io_err("lock", &path))?;
        Ok(DigestLock {
            _file: file,
            _guard: guard,
        })
    }
}
