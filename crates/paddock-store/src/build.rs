//! Building OCI images from root filesystem directories (one layer each),
//! pushing them to a registry, and indexes of several platforms.
//!
//! Layers are deterministic: entries sorted by name, mtimes clamped to
//! `SOURCE_DATE_EPOCH` (0 when unset), owner ids kept but not names, gzip
//! header without name or time. A layer dir in overlayfs form is converted:
//! a 0:0 char device becomes `.wh.NAME`, a dir with
//! `trusted.overlay.opaque=y` gets `.wh..wh..opq`.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::Client;

use super::digest::Digest;
use super::images::parse_reference;
use super::oci::{self, Descriptor, ImageIndex, ImageManifest};
use super::platform::Platform;
use super::registries::RegistriesConfig;
use super::whiteout;

/// Errors building or pushing an image.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error("push to {reference}: {what}: {source}")]
    Push {
        reference: String,
        what: String,
        source: oci_client::errors::OciDistributionError,
    },
    #[error(transparent)]
    Image(#[from] super::images::ImageError),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How layer blobs are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LayerCompression {
    #[default]
    Gzip,
    Zstd,
    /// Plain tar.
    None,
}

/// Which media types the manifest uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ManifestFormat {
    #[default]
    Oci,
    /// Docker image manifest v2, schema 2 (no zstd).
    Docker,
}

/// What goes into the image config besides the layers.
#[derive(Debug, Clone, Default)]
pub struct ImageBuildConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `KEY=value` entries.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub platform: Platform,
    pub compression: LayerCompression,
    pub format: ManifestFormat,
    /// Clamp for mtimes and the `created` time; `None` reads
    /// `SOURCE_DATE_EPOCH`, and without it 0.
    pub source_date_epoch: Option<u64>,
}

/// One built layer.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
    pub data: Bytes,
}

/// A built image, all blobs in memory.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub manifest: ImageManifest,
    pub manifest_bytes: Bytes,
    pub manifest_digest: Digest,
    pub config_bytes: Bytes,
    pub layers: Vec<BuiltLayer>,
    pub platform: Platform,
}

impl BuiltImage {
    pub fn media_type(&self) -> &str {
        self.manifest
            .media_type
            .as_deref()
            .unwrap_or(oci::OCI_MANIFEST)
    }

    /// This image's entry in an index.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type().to_string(),
            digest: self.manifest_digest.clone(),
            size: self.manifest_bytes.len() as u64,
            platform: Some(self.platform.clone()),
            urls: None,
            annotations: None,
        }
    }
}

fn epoch(config: &ImageBuildConfig) -> u64 {
    config.source_date_epoch.unwrap_or_else(|| {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

/// Builds an image with one layer per rootfs directory (bottom first).
pub fn build_image(layers: &[PathBuf], config: ImageBuildConfig) -> Result<BuiltImage, BuildError> {
    let clamp = epoch(&config);
    let tars = layers
        .iter()
        .map(|dir| layer_tar(dir, clamp))
        .collect::<Result<Vec<_>, _>>()?;
    build_image_from_tars(tars, config)
}

/// Builds an image from uncompressed layer tarballs as given (bottom
/// first), compressing them per `config.compression`. Useful for layers
/// made elsewhere.
pub fn build_image_from_tars(
    tars: Vec<Vec<u8>>,
    config: ImageBuildConfig,
) -> Result<BuiltImage, BuildError> {
    let docker = config.format == ManifestFormat::Docker;
    let layer_type = match (config.compression, docker) {
        (LayerCompression::Gzip, false) => oci::OCI_LAYER_GZIP,
        (LayerCompression::Zstd, false) => oci::OCI_LAYER_ZSTD,
        (LayerCompression::None, false) => oci::OCI_LAYER_TAR,
        (LayerCompression::Gzip, true) => oci::DOCKER_LAYER_GZIP,
        (LayerCompression::None, true) => oci::DOCKER_LAYER_TAR,
        (LayerCompression::Zstd, true) => {
            return Err(BuildError::Invalid(
                "docker schema2 manifests have no zstd layer type".into(),
            ))
        }
    };
    let mut layers = Vec::new();
    for tar in tars {
        let diff_id = Digest::of(&tar);
        let data = compress(tar, config.compression).map_err(|source| BuildError::Io {
            path: PathBuf::from("<layer>"),
            source,
        })?;
        layers.push(BuiltLayer {
            descriptor: Descriptor {
                media_type: layer_type.to_string(),
                digest: Digest::of(&data),
                size: data.len() as u64,
                platform: None,
                urls: None,
                annotations: None,
            },
            diff_id,
            data: Bytes::from(data),
        });
    }
    let created = chrono::DateTime::from_timestamp(i64::try_from(epoch(&config)).unwrap_or(0), 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut cfg = serde_json::Map::new();
    let mut put = |k: &str, v: serde_json::Value| {
        cfg.insert(k.to_string(), v);
    };
    if let Some(e) = &config.entrypoint {
        put("Entrypoint", e.clone().into());
    }
    if let Some(c) = &config.cmd {
        put("Cmd", c.clone().into());
    }
    if !config.env.is_empty() {
        put("Env", config.env.clone().into());
    }
    if let Some(w) = &config.workdir {
        put("WorkingDir", w.clone().into());
    }
    if let Some(u) = &config.user {
        put("User", u.clone().into());
    }
    if !config.labels.is_empty() {
        put(
            "Labels",
            serde_json::to_value(&config.labels).unwrap_or_default(),
        );
    }
    let mut image_config = serde_json::json!({
        "architecture": config.platform.architecture,
        "os": config.platform.os,
        "created": created,
        "config": cfg,
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>(),
        },
        "history": layers.iter().map(|_| serde_json::json!({
            "created": created,
            "created_by": "paddock image build",
        })).collect::<Vec<_>>(),
    });
    if let Some(v) = &config.platform.variant {
        image_config["variant"] = v.clone().into();
    }
    let config_bytes = serde_json::to_vec(&image_config)
        .map_err(|e| BuildError::Invalid(format!("serialise config: {e}")))?;
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(
            if docker {
                oci::DOCKER_MANIFEST
            } else {
                oci::OCI_MANIFEST
            }
            .to_string(),
        ),
        config: Descriptor {
            media_type: if docker {
                oci::DOCKER_CONFIG
            } else {
                oci::OCI_CONFIG
            }
            .to_string(),
            digest: Digest::of(&config_bytes),
            size: config_bytes.len() as u64,
            platform: None,
            urls: None,
            annotations: None,
        },
        layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
        annotations: None,
    };
    let manifest_bytes = serde_json::to_vec(&manifest)
        .map_err(|e| BuildError::Invalid(format!("serialise manifest: {e}")))?;
    Ok(BuiltImage {
        manifest_digest: Digest::of(&manifest_bytes),
        manifest_bytes: Bytes::from(manifest_bytes),
        manifest,
        config_bytes: Bytes::from(config_bytes),
        layers,
        platform: config.platform,
    })
}

fn compress(tar: Vec<u8>, c: LayerCompression) -> io::Result<Vec<u8>> {
    match c {
        LayerCompression::None => Ok(tar),
        LayerCompression::Gzip => {
            let mut gz = flate2::GzBuilder::new()
                .mtime(0)
                .write(Vec::new(), flate2::Compression::default());
            gz.write_all(&tar)?;
            gz.finish()
        }
        LayerCompression::Zstd => zstd::encode_all(&tar[..], 3),
    }
}

/// An index (manifest list) over several built images.
pub fn build_index(images: &[&BuiltImage]) -> (Bytes, Digest, &'static str) {
    let docker = images
        .first()
        .is_some_and(|i| i.media_type() == oci::DOCKER_MANIFEST);
    let media_type = if docker {
        oci::DOCKER_LIST
    } else {
        oci::OCI_INDEX
    };
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(media_type.to_string()),
        manifests: images.iter().map(|i| i.descriptor()).collect(),
        annotations: None,
    };
    let bytes = serde_json::to_vec(&index).unwrap_or_default();
    let digest = Digest::of(&bytes);
    (Bytes::from(bytes), digest, media_type)
}

/// A deterministic uncompressed tar of `dir`: sorted, mtimes clamped to
/// `clamp`, uid/gid kept, xattrs as PAX records, hard links kept, overlayfs
/// whiteouts converted to OCI ones.
pub fn layer_tar(dir: &Path, clamp: u64) -> Result<Vec<u8>, BuildError> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let mut links = HashMap::new();
    let root = fs::symlink_metadata(dir).map_err(io_at(dir))?;
    if !root.is_dir() {
        return Err(BuildError::Invalid(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    append_tree(&mut b, dir, Path::new(""), clamp, &mut links)?;
    b.into_inner().map_err(io_at(dir))
}

fn header_for(meta: &fs::Metadata, clamp: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(u64::from(meta.uid()));
    h.set_gid(u64::from(meta.gid()));
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0).min(clamp));
    h.set_size(0);
    h
}

fn xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 64 * 1024];
    let n = match rustix::fs::llistxattr(path, &mut names[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("trusted.overlay.") || name == "security.selinux" {
            continue;
        }
        let mut value = vec![0u8; 64 * 1024];
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut value[..])?;
        value.truncate(len);
        out.push((name, value));
    }
    out.sort();
    Ok(out)
}

fn pax(b: &mut tar::Builder<Vec<u8>>, xattrs: &[(String, Vec<u8>)]) -> io::Result<()> {
    if xattrs.is_empty() {
        return Ok(());
    }
    let keys: Vec<(String, &[u8])> = xattrs
        .iter()
        .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
        .collect();
    b.append_pax_extensions(keys.iter().map(|(k, v)| (k.as_str(), *v)))
}

fn append_tree(
    b: &mut tar::Builder<Vec<u8>>,
    base: &Path,
    rel: &Path,
    clamp: u64,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<(), BuildError> {
    let dir = base.join(rel);
    let mut names: Vec<OsString> = fs::read_dir(&dir)
        .map_err(io_at(&dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io_at(&dir))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let path = dir.join(&name);
        let entry = rel.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(io_at(&path))?;
        let ft = meta.file_type();
        let mut h = header_for(&meta, clamp);
        let err = io_at(&path);
        if ft.is_char_device() && meta.rdev() == 0 {
            // overlayfs whiteout → OCI whiteout file.
            let mut wh = name.clone();
            wh = OsString::from(format!("{}{}", whiteout::PREFIX, wh.to_string_lossy()));
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            b.append_data(&mut h, rel.join(wh), io::empty())
                .map_err(err)?;
            continue;
        }
        if ft.is_socket() {
            continue;
        }
        let xa = xattrs(&path).map_err(io_at(&path))?;
        if ft.is_dir() {
            pax(b, &xa).map_err(io_at(&path))?;
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, &entry, io::empty())
                .map_err(io_at(&path))?;
            let opaque = matches!(
                rustix::fs::lgetxattr(&path, whiteout::OPAQUE_XATTR, &mut [0u8; 8][..]),
                Ok(1)
            );
            if opaque {
                let mut oh = header_for(&meta, clamp);
                oh.set_entry_type(tar::EntryType::Regular);
                oh.set_mode(0o644);
                b.append_data(&mut oh, entry.join(whiteout::OPAQUE), io::empty())
                    .map_err(io_at(&path))?;
            }
            append_tree(b, base, &entry, clamp, links)?;
            continue;
        }
        if !ft.is_dir() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = links.get(&key) {
                h.set_entry_type(tar::EntryType::Link);
                b.append_link(&mut h, &entry, first).map_err(err)?;
                continue;
            }
            links.insert(key, entry.clone());
        }
        pax(b, &xa).map_err(io_at(&path))?;
        if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(io_at(&path))?;
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, &entry, target).map_err(err)?;
        } else if ft.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            let f = fs::File::open(&path).map_err(io_at(&path))?;
            b.append_data(&mut h, &entry, f).map_err(err)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            h.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            });
            let rdev = meta.rdev();
            h.set_device_major(rustix::fs::major(rdev))
                .map_err(io_at(&path))?;
            h.set_device_minor(rustix::fs::minor(rdev))
                .map_err(io_at(&path))?;
            b.append_data(&mut h, &entry, io::empty()).map_err(err)?;
        }
    }
    Ok(())
}

fn client_for(registries: &RegistriesConfig) -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(
            registries.insecure_hosts().map(str::to_string).collect(),
        ),
        platform_resolver: None,
        ..Default::default()
    })
}

async fn push_manifest(
    client: &Client,
    r: &oci_client::Reference,
    bytes: &Bytes,
    media_type: &str,
    reference: &str,
) -> Result<(), BuildError> {
    let ct = http::HeaderValue::from_str(media_type)
        .map_err(|e| BuildError::Invalid(format!("media type {media_type}: {e}")))?;
    client
        .push_manifest_raw(r, bytes.clone(), ct)
        .await
        .map_err(|source| BuildError::Push {
            reference: reference.to_string(),
            what: "manifest".into(),
            source,
        })?;
    Ok(())
}

async fn push_blobs(
    client: &Client,
    r: &oci_client::Reference,
    image: &BuiltImage,
    reference: &str,
) -> Result<(), BuildError> {
    let config_digest = image.manifest.config.digest.to_string();
    let mut blobs: Vec<(&Bytes, String)> = vec![(&image.config_bytes, config_digest)];
    blobs.extend(
        image
            .layers
            .iter()
            .map(|l| (&l.data, l.descriptor.digest.to_string())),
    );
    for (data, digest) in blobs {
        let exists = client.blob_exists(r, &digest).await.unwrap_or(false);
        if exists {
            continue;
        }
        client
            .push_blob(r, data.clone(), &digest)
            .await
            .map_err(|source| BuildError::Push {
                reference: reference.to_string(),
                what: format!("blob {digest}"),
                source,
            })?;
    }
    Ok(())
}

async fn connect(
    reference: &str,
    registries: &RegistriesConfig,
) -> Result<(Client, oci_client::Reference), BuildError> {
    let r = parse_reference(reference)?;
    let client = client_for(registries);
    let host = r.resolve_registry().to_string();
    client
        .store_auth_if_needed(&host, &registries.auth_for(&host))
        .await;
    Ok((client, r))
}

/// Pushes `image` to `reference`; returns the manifest digest.
pub async fn push(
    image: &BuiltImage,
    reference: &str,
    registries: &RegistriesConfig,
) -> Result<Digest, BuildError> {
    let (client, r) = connect(reference, registries).await?;
    push_blobs(&client, &r, image, reference).await?;
    push_manifest(
        &client,
        &r,
        &image.manifest_bytes,
        image.media_type(),
        reference,
    )
    .await?;
    Ok(image.manifest_digest.clone())
}

/// Pushes each image by digest and an index of them to `reference`;
/// returns the index digest.
pub async fn push_index(
    images: &[&BuiltImage],
    reference: &str,
    registries: &RegistriesConfig,
) -> Result<Digest, BuildError> {
    let (client, r) = connect(reference, registries).await?;
    for image in images {
        push_blobs(&client, &r, image, reference).await?;
        let by_digest = r.clone_with_digest(image.manifest_digest.to_string());
        push_manifest(
            &client,
            &by_digest,
            &image.manifest_bytes,
            image.media_type(),
            reference,
        )
        .await?;
    }
    let (bytes, digest, media_type) = build_index(images);
    push_manifest(&client, &r, &bytes, media_type, reference).await?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path) {
        fs::create_dir_all(dir.join("b/c")).unwrap();
        fs::write(dir.join("a"), b"aaa").unwrap();
        fs::write(dir.join("b/c/d"), b"ddd").unwrap();
        fs::hard_link(dir.join("a"), dir.join("b/a-link")).unwrap();
        std::os::unix::fs::symlink("../a", dir.join("b/sym")).unwrap();
    }

    #[test]
    fn layers_are_deterministic() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        tree(one.path());
        std::thread::sleep(std::time::Duration::from_millis(1100));
        tree(two.path());
        let cfg = || ImageBuildConfig {
            source_date_epoch: Some(0),
            cmd: Some(vec!["/a".into()]),
            ..Default::default()
        };
        let a = build_image(&[one.path().to_path_buf()], cfg()).unwrap();
        let b = build_image(&[two.path().to_path_buf()], cfg()).unwrap();
        assert_eq!(a.manifest_digest, b.manifest_digest);
        assert_eq!(
            a.layers[0].diff_id,
            Digest::of(&layer_tar(one.path(), 0).unwrap())
        );

        let tar = layer_tar(one.path(), 0).unwrap();
        let mut ar = tar::Archive::new(&tar[..]);
        let entries: Vec<(String, tar::EntryType)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            vec![
                ("a".to_string(), tar::EntryType::Regular),
                ("b".to_string(), tar::EntryType::Directory),
                ("b/a-link".to_string(), tar::EntryType::Link),
                ("b/c".to_string(), tar::EntryType::Directory),
                ("b/c/d".to_string(), tar::EntryType::Regular),
                ("b/sym".to_string(), tar::EntryType::Symlink),
            ]
        );
    }

    #[test]
    fn docker_has_no_zstd() {
        let cfg = ImageBuildConfig {
            format: ManifestFormat::Docker,
            compression: LayerCompression::Zstd,
            ..Default::default()
        };
        assert!(build_image_from_tars(vec![], cfg).is_err());
    }
}
