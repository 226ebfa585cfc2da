//! Cross-site request protection for state-changing requests (POST, PUT,
//! DELETE, PATCH):
//! - `Sec-Fetch-Site` must be `same-origin` or `none` when present;
//! - `Origin`, when present, must name the same host as `Host`;
//! - a request that looks like a browser's (it has either header) must carry
//!   the per-boot token: form field `csrf` or header `X-Paddock-Csrf`.
//!
//! Non-browser clients (the CLI, curl) send neither header and need no token;
//! Basic auth still applies to them.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::error::error_response;
use super::state::AppState;

/// Header a script may send the token in.
pub const TOKEN_HEADER: &str = "x-paddock-csrf";
/// Form field the HTML forms send the token in.
pub const TOKEN_FIELD: &str = "csrf";
const MAX_FORM: usize = 64 * 1024;

pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return next.run(req).await;
    }
    if let Err(why) = check_site(req.headers()) {
        tracing::warn!(
            "web: refused a cross-site {} {}: {why}",
            req.method(),
            req.uri().path()
        );
        return error_response(StatusCode::FORBIDDEN, &why);
    }
    let browser =
        req.headers().contains_key(header::ORIGIN) || req.headers().contains_key("sec-fetch-site");
    if !browser {
        return next.run(req).await;
    }
    let expected = state.csrf_token.as_bytes();
    if let Some(t) = req.headers().get(TOKEN_HEADER) {
        if bool::from(t.as_bytes().ct_eq(expected)) {
            return next.run(req).await;
        }
        return error_response(StatusCode::FORBIDDEN, "wrong csrf token");
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return error_response(
            StatusCode::FORBIDDEN,
            "a browser request needs the csrf token (form field or X-Paddock-Csrf header)",
        );
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
        Ok(b) => b,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &format!("form: {e}")),
    };
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    match fields.get(TOKEN_FIELD) {
        Some(t) if bool::from(t.as_bytes().ct_eq(expected)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        _ => error_response(StatusCode::FORBIDDEN, "missing or wrong csrf token"),
    }
}

/// `Sec-Fetch-Site` and `Origin` say the request comes from this site.
fn check_site(headers: &HeaderMap) -> Result<(), String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if site != "same-origin" && site != "none" {
            return Err(format!("cross-site request (Sec-Fetch-Site: {site})"));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .unwrap_or("");
        if origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return Err(format!(
                "cross-origin request (Origin {origin}, Host {host})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn site_checks() {
        assert!(check_site(&headers(&[])).is_ok());
        assert!(check_site(&headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(check_site(&headers(&[("sec-fetch-site", "none")])).is_ok());
        assert!(check_site(&headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(check_site(&headers(&[("sec-fetch-site", "same-site")])).is_err());
        assert!(check_site(&headers(&[
            ("origin", "http://10.0.0.2:8080"),
            ("host", "10.0.0.2:8080")
        ]))
        .is_ok());
        assert!(check_site(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "10.0.0.2")
        ]))
        .is_err());
        assert!(check_site(&headers(&[("origin", "null"), ("host", "10.0.0.2")])).is_err());
    }
}
