//! The OCI / docker schema2 wire types the store reads and writes:
//! descriptors, image manifests and indexes (manifest lists), and their
//! media types. Kept small and our own so the exact bytes we hash are the
//! bytes we parse; image configs use `oci_spec`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::platform::Platform;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// Manifest media types we ask registries for.
pub const ACCEPTED_MANIFESTS: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// Whether a layer media type is a filesystem tarball we can unpack.
pub fn is_layer(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_LAYER_TAR
            | OCI_LAYER_GZIP
            | OCI_LAYER_ZSTD
            | DOCKER_LAYER_GZIP
            | DOCKER_LAYER_TAR
            | DOCKER_LAYER_FOREIGN
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    )
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image manifest (OCI or docker schema2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (OCI) or manifest list (docker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A parsed manifest document.
#[derive(Debug, Clone)]
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// Just enough of a document to tell which kind it is.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<serde::de::IgnoredAny>,
    layers: Option<serde::de::IgnoredAny>,
}

/// Errors parsing a manifest document.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported manifest schema version {0:?} (only schema 2 is supported)")]
    Schema(Option<u32>),
    #[error("unsupported manifest media type {0}")]
    MediaType(String),
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let probe: Probe = serde_json::from_slice(bytes)?;
        if probe.schema_version != Some(2) {
            return Err(ManifestError::Schema(probe.schema_version));
        }
        let index = match probe.media_type.as_deref() {
            Some(OCI_INDEX | DOCKER_LIST) => true,
            Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
            Some(other) => return Err(ManifestError::MediaType(other.to_string())),
            None => probe.manifests.is_some() && probe.layers.is_none(),
        };
        Ok(if index {
            Manifest::Index(serde_json::from_slice(bytes)?)
        } else {
            Manifest::Image(serde_json::from_slice(bytes)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_index_from_manifest() {
        let d = Digest::of(b"x");
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","digest":"{d}","size":1}},"layers":[]}}"#
        );
        assert!(matches!(
            Manifest::parse(m.as_bytes()).unwrap(),
            Manifest::Image(_)
        ));
        let i = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#
        );
        match Manifest::parse(i.as_bytes()).unwrap() {
            Manifest::Index(idx) => {
                assert_eq!(
                    idx.manifests[0].platform.as_ref().unwrap().to_string(),
                    "linux/arm64/v8"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Manifest::parse(br#"{"schemaVersion":1,"fsLayers":[]}"#),
            Err(ManifestError::Schema(Some(1)))
        ));
    }
}
