//! Content negotiation: JSON for `Accept: application/json`, HTML otherwise;
//! a form POST from a browser is answered with a redirect.

use axum::http::{header, HeaderMap};

fn accept(headers: &HeaderMap) -> &str {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The client asked for JSON.
pub fn wants_json(headers: &HeaderMap) -> bool {
    accept(headers).contains("application/json")
}

/// A browser submitting a form (it accepts HTML, not JSON): answer 303.
pub fn wants_redirect(headers: &HeaderMap) -> bool {
    !wants_json(headers) && accept(headers).contains("text/html")
}

/// Where a form may send the browser back to: a local path only.
pub fn safe_back(back: Option<&str>, default: &str) -> String {
    match back {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') => b.to_string(),
        _ => default.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_is_local_only() {
        assert_eq!(safe_back(Some("/services/a"), "/"), "/services/a");
        assert_eq!(safe_back(Some("//evil.example/"), "/"), "/");
        assert_eq!(safe_back(Some("https://evil.example/"), "/x"), "/x");
        assert_eq!(safe_back(Some("/\\evil.example"), "/"), "/");
        assert_eq!(safe_back(None, "/"), "/");
    }
}
