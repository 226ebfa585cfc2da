//! Plain HTTP when the device has a certificate: every request is sent to
//! the same path over HTTPS (308, so methods and bodies stay), except the
//! login-free `/health`, which says the device is up and nothing else.
//! No password ever travels in the clear.

use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub fn router(https_port: u16) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .fallback(move |headers: HeaderMap, uri: Uri| async move {
            redirect(&headers, &uri, https_port)
        })
}

fn redirect(headers: &HeaderMap, uri: &Uri, https_port: u16) -> Response {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_without_port)
    else {
        return (StatusCode::BAD_REQUEST, "no Host header: use https\n").into_response();
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, format!("https://{host}{port}{path}"))],
    )
        .into_response()
}

/// `name`, `name:80`, `[v6]`, `[v6]:80` → the host part; `None` for
/// anything with characters a host cannot have (no header injection).
fn host_without_port(value: &str) -> Option<&str> {
    let host = if value.starts_with('[') {
        &value[..=value.find(']')?]
    } else {
        value.split(':').next()?
    };
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
    ok.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port_and_odd_ones_are_refused() {
        assert_eq!(host_without_port("box:80"), Some("box"));
        assert_eq!(host_without_port("10.0.0.2"), Some("10.0.0.2"));
        assert_eq!(host_without_port("[fe80::1]:80"), Some("[fe80::1]"));
        assert_eq!(host_without_port("a b"), None);
        assert_eq!(host_without_port("x\r\nSet-Cookie: y"), None);
        assert_eq!(host_without_port(""), None);
    }
}
