//! Why a container did not start, by the step that failed: its image, its
//! root filesystem, its network, its runtime spec, or the monitor. The
//! message goes to the container's `last_error`; [`StartError::fault`] says
//! whose problem it is.

use std::path::PathBuf;

use paddock_store::{Fault, StoreError};

use crate::network::NetworkError;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `pull: never` and the image is not in the store.
    #[error("image {reference} is not in the store and pull is never")]
    NotPulled { reference: String },
    #[error("pulling {reference}: {source}")]
    Pull {
        reference: String,
        #[source]
        source: StoreError,
    },
    #[error("reading the image store: {0}")]
    Store(#[source] StoreError),
    #[error("reading the image config: {0}")]
    ImageConfig(#[source] StoreError),
    /// Preparing the bundle: its directories, identity file or config.json.
    #[error("{action} {}: {source}", path.display())]
    Bundle {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mounting the rootfs: {0}")]
    Rootfs(#[source] paddock_store::overlay::OverlayError),
    #[error("{0}")]
    EtcFiles(#[source] crate::host::etc_files::EtcFilesError),
    #[error("network: {0}")]
    Network(#[source] NetworkError),
    /// `network: container:NAME` that cannot be joined (yet).
    #[error("{0}")]
    SharedNamespace(String),
    #[error("building the runtime spec: {0}")]
    Spec(#[source] SpecError),
    #[error("spawning {}: {source}", binary.display())]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The monitor or the runtime refused or failed to create it.
    #[error("{0}")]
    Monitor(String),
}

impl StartError {
    /// Whose fault the failure is (the image's registry, the request, this
    /// device).
    pub fn fault(&self) -> Fault {
        match self {
            StartError::Pull { source, .. }
            | StartError::Store(source)
            | StartError::ImageConfig(source) => source.fault(),
            StartError::NotPulled { .. } => Fault::NotFound,
            StartError::SharedNamespace(_) | StartError::Spec(_) => Fault::Input,
            StartError::Bundle { .. }
            | StartError::Rootfs(_)
            | StartError::EtcFiles(_)
            | StartError::Network(_)
            | StartError::Spawn { .. }
            | StartError::Monitor(_) => Fault::Local,
        }
    }

    /// A [`StartError::Bundle`] for `path`.
    pub(crate) fn bundle<'a>(
        action: &'static str,
        path: &'a std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> StartError + 'a {
        move |source| StartError::Bundle {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_step_and_faults_follow_the_cause() {
        let e = StartError::NotPulled {
            reference: "busybox".into(),
        };
        assert_eq!(
            e.to_string(),
            "image busybox is not in the store and pull is never"
        );
        assert_eq!(e.fault(), Fault::NotFound);
        let e = StartError::bundle("creating", std::path::Path::new("/b/rootfs"))(
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert!(e.to_string().starts_with("creating /b/rootfs: "), "{e}");
        assert_eq!(e.fault(), Fault::Local);
    }
}
