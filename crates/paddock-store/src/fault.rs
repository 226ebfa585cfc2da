//! Whose fault a failed store operation is, for callers that must answer
//! for it: paddockd's API picks its HTTP status from it (a registry that is
//! down is a 502, not the client's 400), and the supervisor's log says it.

use oci_client::errors::{OciDistributionError, OciErrorCode};

use crate::{BlobError, DigestError, ImageError, LayerError, RemoteError, StoreError, UnpackError};

/// Who has to act on a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request: a malformed reference or digest, an image that cannot run.
    Input,
    /// The image (or the platform asked for) does not exist.
    NotFound,
    /// The registry: unreachable, refusing, or serving something broken.
    Upstream,
    /// This device: its disk, its store, a bug.
    Local,
}

impl StoreError {
    /// Whose fault this failure is.
    pub fn fault(&self) -> Fault {
        match self {
            StoreError::Io { .. } | StoreError::Task(_) => Fault::Local,
            StoreError::Blob(BlobError::Io { .. }) => Fault::Local,
            StoreError::Blob(BlobError::Digest(e)) | StoreError::Digest(e) => e.fault(),
            StoreError::Unsupported { .. } => Fault::Input,
            StoreError::Image(ImageError::Reference(_)) => Fault::Input,
            StoreError::Image(_) => Fault::Local,
            StoreError::Layer(e) => e.fault(),
            // What the registry served does not parse as a manifest or config.
            StoreError::Manifest { .. } | StoreError::Config { .. } => Fault::Upstream,
            StoreError::Remote(e) => e.fault(),
            StoreError::NoPlatform { .. } | StoreError::WrongPlatform { .. } => Fault::NotFound,
        }
    }
}

impl DigestError {
    /// A malformed digest is the request's (a reference's `@sha256:…`) or
    /// the registry's (a descriptor); content that does not match its digest
    /// came from the registry.
    pub fn fault(&self) -> Fault {
        match self {
            DigestError::Invalid { .. } => Fault::Input,
            _ => Fault::Upstream,
        }
    }
}

impl LayerError {
    /// A layer that cannot be unpacked safely came from the registry as it
    /// is; failing to write it out is this device's problem.
    pub fn fault(&self) -> Fault {
        match self {
            LayerError::Io { .. } => Fault::Local,
            LayerError::Digest(e) => e.fault(),
            LayerError::Unpack { source, .. } => match source {
                UnpackError::Entry { .. } => Fault::Local,
                _ => Fault::Upstream,
            },
        }
    }
}

impl RemoteError {
    /// Whose fault this registry failure is.
    pub fn fault(&self) -> Fault {
        match self {
            RemoteError::Registry { source, .. } if names_nothing(source) => Fault::NotFound,
            RemoteError::NotHttps { .. }
            | RemoteError::Registry { .. }
            | RemoteError::Stream { .. }
            | RemoteError::Digest { .. }
            | RemoteError::TooLarge { .. } => Fault::Upstream,
        }
    }
}

/// The registry answered that the repository, tag or digest does not exist.
fn names_nothing(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => {
            !envelope.errors.is_empty()
                && envelope.errors.iter().all(|e| {
                    matches!(
                        e.code,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::NotFound
                            | OciErrorCode::BlobUnknown
                    )
                })
        }
        OciDistributionError::ServerError { code, .. } => *code == 404,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Digest, ImageRef};

    #[test]
    fn bad_input_missing_images_and_dead_registries_are_told_apart() {
        let bad_ref = ImageRef::parse("has spaces").unwrap_err();
        assert_eq!(
            StoreError::Image(ImageError::Reference(bad_ref)).fault(),
            Fault::Input
        );
        let missing = RemoteError::Registry {
            host: "r".into(),
            what: "manifest".into(),
            source: OciDistributionError::ImageManifestNotFoundError("x".into()),
        };
        assert_eq!(StoreError::Remote(missing).fault(), Fault::NotFound);
        let refused = RemoteError::Stream {
            host: "r".into(),
            what: "blob".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(StoreError::Remote(refused).fault(), Fault::Upstream);
        let server = RemoteError::Registry {
            host: "r".into(),
            what: "manifest".into(),
            source: OciDistributionError::ServerError {
                code: 503,
                url: "u".into(),
                message: "down".into(),
            },
        };
        assert_eq!(StoreError::Remote(server).fault(), Fault::Upstream);
        let disk = StoreError::Io {
            context: "write",
            path: "/x".into(),
            source: std::io::Error::from(std::io::ErrorKind::StorageFull),
        };
        assert_eq!(disk.fault(), Fault::Local);
        assert_eq!(
            StoreError::Digest(Digest::parse("sha256:zz").unwrap_err()).fault(),
            Fault::Input
        );
        let served = DigestError::Mismatch {
            what: "layer".into(),
            expected: Digest::of(b"a"),
            actual: Digest::of(b"b"),
        };
        assert_eq!(
            StoreError::Blob(BlobError::Digest(served)).fault(),
            Fault::Upstream
        );
        let full = LayerError::Io {
            diff_id: Digest::of(b"a"),
            context: "unpack",
            source: std::io::Error::from(std::io::ErrorKind::StorageFull),
        };
        assert_eq!(StoreError::Layer(full).fault(), Fault::Local);
    }
}
