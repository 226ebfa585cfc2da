//! paddockd's unix-socket API (docs/api.md), one HTTP/1.1 connection per
//! request, upgrades allowed (exec).

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

use super::error::WebError;

const TIMEOUT: Duration = Duration::from_secs(15);

/// Sends `req` (its URI a path like `/v1/containers`) and returns the answer
/// with its body still streaming.
pub async fn send(
    socket: &Path,
    mut req: Request<Body>,
) -> Result<hyper::Response<Incoming>, WebError> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| WebError::Paddockd(format!("connect {}: {e}", socket.display())))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| WebError::Paddockd(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    req.headers_mut()
        .insert(header::HOST, header::HeaderValue::from_static("paddockd"));
    sender
        .send_request(req)
        .await
        .map_err(|e| WebError::Paddockd(e.to_string()))
}

/// A JSON call answered with `T` (a paddock-wire type).
pub async fn call<T: serde::de::DeserializeOwned>(
    socket: &Path,
    method: Method,
    path: &str,
) -> Result<T, WebError> {
    let value = json(socket, method, path).await?;
    serde_json::from_value(value)
        .map_err(|e| WebError::Paddockd(format!("{path}: bad answer: {e}")))
}

/// A JSON call; an error status becomes [`WebError::Upstream`] with
/// paddockd's message.
pub async fn json(socket: &Path, method: Method, path: &str) -> Result<Value, WebError> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let call = async {
        let resp = send(socket, req).await?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| WebError::Paddockd(e.to_string()))?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| WebError::Paddockd(format!("bad answer ({status}): {e}")))?;
        if !status.is_success() {
            let message = value
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("request failed")
                .to_string();
            return Err(WebError::Upstream {
                status: if status.is_server_error() {
                    StatusCode::BAD_GATEWAY
                } else {
                    status
                },
                message: format!("paddockd: {message}"),
            });
        }
        Ok(value)
    };
    tokio::time::timeout(TIMEOUT, call)
        .await
        .map_err(|_| WebError::Paddockd(format!("no answer within {TIMEOUT:?}")))?
}

/// A name as one percent-encoded path segment.
pub use paddock_wire::api::path::percent_encode as segment;
