//! Errors of the web handlers and how they answer: `{"error": "..."}` with a
//! fitting status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use paddock_wire::control::ControlError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No such service, container or route.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// init's supervisor refused (e.g. shutting down).
    #[error("init: {0}")]
    Refused(String),
    #[error("init: {0}")]
    Init(#[from] ControlError),
    #[error("init: control request failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// paddockd could not be reached or talked nonsense.
    #[error("paddockd: {0}")]
    Paddockd(String),
    /// paddockd answered with an error status: passed on as is.
    #[error("{message}")]
    Upstream { status: StatusCode, message: String },
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Refused(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Init(_) | WebError::Join(_) | WebError::Paddockd(_) => {
                StatusCode::BAD_GATEWAY
            }
            WebError::Upstream { status, .. } => *status,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!("web: {self}");
        }
        error_response(status, &self.to_string())
    }
}

/// `{"error": message}` with `status`.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}
