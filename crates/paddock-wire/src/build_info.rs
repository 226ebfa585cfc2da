//! `/etc/paddock/build.json`: what `paddock build` records about the image,
//! read on the device by the web UI and the update API (its `version` is
//! what `paddock update` compares).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kernel package the image was built from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelPackage {
    pub package: String,
    pub version: String,
    pub release: String,
}

/// One image's build record. Readers take every field as optional (an image
/// from an older paddock may lack some).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildInfo {
    /// paddock's version, the epoch and a hash of the root's contents:
    /// `0.1.0+1700000000.0123456789ab`.
    pub version: Option<String>,
    /// The build's place in the instance's order (the signed statement's
    /// `generation`; anti-rollback compares it).
    pub generation: Option<u64>,
    /// RFC 3339, from `SOURCE_DATE_EPOCH`.
    pub build_time: Option<String>,
    /// The kernel release (`uname -r`).
    pub kernel: Option<String>,
    pub instance: Option<String>,
    pub paddock_version: Option<String>,
    pub source_date_epoch: Option<u64>,
    pub hostname: Option<String>,
    pub kernel_package: Option<KernelPackage>,
    /// Preloaded images: normalised reference → archive file name.
    pub preloaded: BTreeMap<String, String>,
}

impl BuildInfo {
    /// Reads `build.json`; a missing or unreadable file is the empty record.
    pub fn read(path: &std::path::Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_partial_records() {
        let b = BuildInfo {
            version: Some("0.1.0+1.abc".into()),
            generation: Some(2),
            build_time: Some("2026-12-07T00:00:00Z".into()),
            kernel: Some("6.1.0-28-cloud-amd64".into()),
            instance: Some("box".into()),
            paddock_version: Some("0.1.0".into()),
            source_date_epoch: Some(1),
            hostname: Some("box".into()),
            kernel_package: Some(KernelPackage {
                package: "linux-image-cloud-amd64".into(),
                version: "6.1.119-1".into(),
                release: "6.1.0-28-cloud-amd64".into(),
            }),
            preloaded: [("docker.io/library/busybox:1".into(), "web.tar".into())].into(),
        };
        crate::round_trip(&b);
        let old: BuildInfo = serde_json::from_str(r#"{"version":"v"}"#).unwrap();
        assert_eq!(old.version.as_deref(), Some("v"));
        assert_eq!(
            BuildInfo::read(std::path::Path::new("/nonexistent")),
            BuildInfo::default()
        );
    }
}
