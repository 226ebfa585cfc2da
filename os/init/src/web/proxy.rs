//! `/api/v1/*`: paddockd's own API (docs/api.md) passed through, behind the
//! device's auth, including exec's HTTP upgrade (`Upgrade: paddock-exec`):
//! both sides upgrade and the bytes are copied both ways.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;

use super::error::error_response;
use super::paddockd;
use super::state::AppState;

/// Request headers not passed on: the device's credentials and browser
/// context mean nothing to paddockd.
const DROP: [header::HeaderName; 4] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::ORIGIN,
    header::HOST,
];

pub async fn api(State(state): State<AppState>, mut req: Request) -> Response {
    let Some(rest) = req
        .uri()
        .path_and_query()
        .and_then(|pq| pq.as_str().strip_prefix("/api"))
        .map(String::from)
    else {
        return error_response(StatusCode::NOT_FOUND, "not an /api path");
    };
    let uri: Uri = match rest.parse() {
        Ok(u) => u,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &format!("path: {e}")),
    };
    let client_upgrade = req
        .headers()
        .contains_key(header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    parts.uri = uri;
    parts.extensions = Default::default();
    for h in DROP {
        parts.headers.remove(h);
    }
    let upstream_req = Request::from_parts(parts, body);
    let mut resp = match paddockd::send(&state.paddockd_socket(), upstream_req).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return error_response(
                StatusCode::BAD_GATEWAY,
                "paddockd upgraded an ordinary request",
            );
        };
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            let (client, upstream) = match tokio::join!(client_upgrade, upstream_upgrade) {
                (Ok(c), Ok(u)) => (c, u),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!("web: exec upgrade: {e}");
                    return;
                }
            };
            let mut client = TokioIo::new(client);
            let mut upstream = TokioIo::new(upstream);
            if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!("web: exec stream ended: {e}");
            }
        });
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, Body::empty());
    }
    resp.map(Body::new).into_response()
}
