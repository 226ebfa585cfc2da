//! Platforms (`linux/amd64`, `linux/arm64/v8`) and picking one manifest out
//! of an image index.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::oci::Descriptor;

/// An OS/architecture/variant triple, as in an image index or config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A platform string that is not `OS/ARCH[/VARIANT]`.
#[derive(Debug, thiserror::Error)]
#[error("invalid platform {0:?}: expected OS/ARCH[/VARIANT], e.g. linux/arm64")]
pub struct PlatformError(String);

impl Default for Platform {
    fn default() -> Self {
        Self::linux("amd64")
    }
}

impl Platform {
    pub fn linux(architecture: &str) -> Self {
        Self {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    pub fn with_variant(mut self, variant: &str) -> Self {
        self.variant = Some(variant.into());
        self
    }

    /// The variant, or the one an architecture implies when none is given
    /// (arm64 → v8, arm → v7), as container tools compare them.
    fn effective_variant(&self) -> Option<&str> {
        match (self.variant.as_deref(), self.architecture.as_str()) {
            (Some(v), _) => Some(v),
            (None, "arm64") => Some("v8"),
            (None, "arm") => Some("v7"),
            (None, _) => None,
        }
    }

    /// Whether an image of platform `other` runs here (same OS and
    /// architecture; the variant only if both name one).
    pub fn accepts(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none()
                || other.variant.is_none()
                || self.effective_variant() == other.effective_variant())
    }

    /// Picks the manifest for this platform from an index's entries: an
    /// exact match (variant defaults applied) first; without a requested
    /// variant, any entry of the same OS and architecture after that.
    pub fn select<'a>(&self, entries: &'a [Descriptor]) -> Option<&'a Descriptor> {
        let same_arch = |d: &&Descriptor| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == self.os && p.architecture == self.architecture)
        };
        let exact = entries.iter().filter(same_arch).find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.effective_variant() == self.effective_variant())
        });
        match exact {
            Some(d) => Some(d),
            None if self.variant.is_none() => entries.iter().find(same_arch),
            None => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &&str| !p.is_empty();
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Self {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => Ok(Self {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(PlatformError(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn entry(p: &str, n: u8) -> Descriptor {
        Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: Digest::of(&[n]),
            size: 1,
            platform: Some(p.parse().unwrap()),
            urls: None,
            annotations: None,
        }
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(
            "linux/arm64/v8".parse::<Platform>().unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(Platform::default().to_string(), "linux/amd64");
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//v7".parse::<Platform>().is_err());
    }

    #[test]
    fn selects_by_arch_and_variant() {
        let entries = vec![
            entry("linux/amd64", 1),
            entry("linux/arm/v6", 2),
            entry("linux/arm/v7", 3),
            entry("linux/arm64/v8", 4),
            entry("unknown/unknown", 5),
        ];
        let pick = |p: &str| {
            p.parse::<Platform>()
                .unwrap()
                .select(&entries)
                .map(|d| d.digest.clone())
        };
        assert_eq!(pick("linux/amd64"), Some(Digest::of(&[1])));
        assert_eq!(pick("linux/arm64"), Some(Digest::of(&[4])));
        assert_eq!(pick("linux/arm"), Some(Digest::of(&[3])));
        assert_eq!(pick("linux/arm/v6"), Some(Digest::of(&[2])));
        assert_eq!(pick("linux/arm/v5"), None);
        assert_eq!(pick("linux/riscv64"), None);
        // An arm64 entry without a variant is v8.
        let entries = vec![entry("linux/arm64", 9)];
        assert_eq!(
            "linux/arm64/v8"
                .parse::<Platform>()
                .unwrap()
                .select(&entries)
                .map(|d| d.digest.clone()),
            Some(Digest::of(&[9]))
        );
    }
}
