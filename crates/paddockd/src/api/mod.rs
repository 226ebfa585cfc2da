//! The local API: HTTP/1.1 + JSON on `/run/paddock/paddockd.sock`.
//!
//! Only root can reach the socket (mode 0600), which is the authentication.
//! Routes are listed in docs/api.md; each concern has its own file and
//! registers its routes in [`route`].

mod containers;
mod exec;
mod images;
mod respond;

use std::path::Path;
use std::sync::Arc;

use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;

use crate::supervisor::Supervisor;
pub use respond::ApiError;

pub type Body = BoxBody<Bytes, std::io::Error>;

/// Serves the API on `socket` until the returned task is aborted.
pub fn serve(
    supervisor: Arc<Supervisor>,
    socket: &Path,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    // Root-only, and connectable as soon as the path exists.
    let listener = paddock_sys::unix_socket::bind_private(socket)?;
    listener.set_nonblocking(true)?;
    let listener = UnixListener::from_std(listener)?;
    Ok(tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an API connection");
                    continue;
                }
            };
            let supervisor = supervisor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let supervisor = supervisor.clone();
                    async move { Ok::<_, std::convert::Infallible>(route(supervisor, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "API connection");
                }
            });
        }
    }))
}

/// Dispatches a request to the module that owns its path.
async fn route(supervisor: Arc<Supervisor>, req: Request<Incoming>) -> Response<Body> {
    let path: Vec<String> = req
        .uri()
        .path()
        .trim_matches('/')
        .split('/')
        .map(paddock_wire::api::path::percent_decode)
        .collect();
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let method = req.method().clone();
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["v1", "status"]) => containers::daemon_status(&supervisor),
        (&Method::POST, ["v1", "apply"]) => containers::apply(&supervisor).await,
        (_, ["v1", "containers", ..]) => containers::route(&supervisor, req, &segments[2..]).await,
        (_, ["v1", "images", ..]) => images::route(&supervisor, req, &segments[2..]).await,
        _ => Err(ApiError::NotFound(format!(
            "no route for {method} /{}",
            path.join("/")
        ))),
    };
    result.unwrap_or_else(|e| e.into_response())
}
