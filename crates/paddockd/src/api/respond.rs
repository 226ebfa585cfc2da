//! Building responses: JSON bodies, text streams and errors.

use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::{Response, StatusCode};
use paddock_store::{Fault, StoreError};
use paddock_wire::update::ErrorBody;
use serde::Serialize;

use super::Body;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A registry paddockd depends on is unreachable or misbehaved.
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn into_response(self) -> Response<Body> {
        let status = match &self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut r = json(&ErrorBody {
            error: self.to_string(),
        });
        *r.status_mut() = status;
        r
    }
}

/// A store failure answered by whose fault it is.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e.fault() {
            Fault::Input => ApiError::BadRequest(message),
            Fault::NotFound => ApiError::NotFound(message),
            Fault::Upstream => ApiError::BadGateway(message),
            Fault::Local => ApiError::Internal(message),
        }
    }
}

pub type ApiResult = Result<Response<Body>, ApiError>;

pub fn json<T: Serialize + ?Sized>(value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value)
        .unwrap_or_else(|e| format!("{{\"error\":\"serializing the answer: {e}\"}}").into_bytes());
    let mut r = Response::new(full(body));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A streamed body fed by a channel; the stream ends when the sender drops.
pub fn stream(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let s = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    BodyExt::boxed(StreamBody::new(s))
}

/// Reads a JSON request body (at most 1 MiB).
pub async fn read_json<T: for<'de> serde::Deserialize<'de>>(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<T, ApiError> {
    let body = http_body_util::Limited::new(req.into_body(), 1 << 20)
        .collect()
        .await
        .map_err(|e| ApiError::BadRequest(format!("reading the request body: {e}")))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("request body: {e}")))
}

/// The value of a query parameter.
pub fn query_param(uri: &hyper::Uri, key: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| paddock_wire::api::path::percent_decode(v))
    })
}
