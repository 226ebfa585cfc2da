//! Who is on the other end of a connection, attached to every request by
//! the connection server; requests from public addresses are refused (the
//! listeners are private, but a router may forward to them).

use std::net::SocketAddr;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::error::error_response;
use paddock_sys::addresses;

#[derive(Debug, Clone, Copy)]
pub enum Peer {
    Tcp(SocketAddr),
    /// The root-only unix socket.
    Unix,
}

/// Middleware: 403 unless the peer is the unix socket or a private address.
pub async fn require_private(req: Request, next: Next) -> Response {
    match req.extensions().get::<Peer>() {
        Some(Peer::Unix) => next.run(req).await,
        Some(Peer::Tcp(addr)) if addresses::is_private(addr.ip()) => next.run(req).await,
        Some(Peer::Tcp(addr)) => {
            tracing::warn!(peer = %addr, "web: refused a request from a public address");
            error_response(
                StatusCode::FORBIDDEN,
                "only private and link-local addresses may use this device's API",
            )
        }
        None => error_response(StatusCode::FORBIDDEN, "unknown peer"),
    }
}
