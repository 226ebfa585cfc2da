//! What can go wrong during an update, each with the HTTP status it earns.

use std::path::PathBuf;

use axum::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no partition named {0:?}")]
    NoPartition(String),
    #[error("cannot tell the running slot: {0}")]
    Slot(String),
    #[error("mounting the ESP: {0}")]
    Mount(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the body is {got} bytes, the partition holds {limit}")]
    TooLarge { got: u64, limit: u64 },
    #[error(
        "sha256 mismatch: X-Paddock-Sha256 says {header}, the body received hashes to {received}"
    )]
    HeaderMismatch { header: String, received: String },
    #[error("read back {what} does not match: wrote {wrote}, read back {read}")]
    ReadBack {
        what: String,
        wrote: String,
        read: String,
    },
    #[error("reading the request body: {0}")]
    Body(String),
    #[error("{0}")]
    Conflict(String),
}

impl UpdateError {
    pub fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| UpdateError::Io {
            context,
            path,
            source,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            UpdateError::BadRequest(_) | UpdateError::HeaderMismatch { .. } => {
                StatusCode::BAD_REQUEST
            }
            UpdateError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UpdateError::ReadBack { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            UpdateError::Body(_) => StatusCode::BAD_REQUEST,
            UpdateError::Conflict(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
