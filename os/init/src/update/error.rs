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
    #[error("the body is {got} bytes or more, more than the {limit} it may be (the size the signed statement names, or the room there)")]
    TooLarge { got: u64, limit: u64 },
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
    #[error("refused: {0}")]
    Signature(String),
    #[error(
        "refused: version {version} is generation {generation}, not newer than generation {floor}, which this device has marked good (anti-rollback)"
    )]
    Rollback {
        version: String,
        generation: u64,
        floor: u64,
    },
    #[error("this device has no usable update key, so it refuses every update: {0}")]
    NoKey(String),
    #[error("no signed update statement was accepted in this boot: PUT /update/statement (update.json with its X-Paddock-Signature) first")]
    Unsigned,
    #[error("{what}: {message}")]
    NotAsSigned { what: String, message: String },
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
            UpdateError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UpdateError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UpdateError::ReadBack { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            UpdateError::Body(_) => StatusCode::BAD_REQUEST,
            UpdateError::Conflict(_) | UpdateError::Rollback { .. } | UpdateError::Unsigned => {
                StatusCode::CONFLICT
            }
            UpdateError::Signature(_) => StatusCode::FORBIDDEN,
            UpdateError::NotAsSigned { .. } => StatusCode::BAD_REQUEST,
            UpdateError::NoKey(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
