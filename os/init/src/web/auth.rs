//! HTTP Basic auth against the bcrypt hash of the update password. Any user
//! name is accepted (the CLI sends `paddock`). bcrypt is slow on purpose, so
//! a verified password's SHA-256 is kept and later requests compare against
//! it in constant time.

use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::peer::Peer;
use super::state::AppState;

pub struct Auth {
    hash: Option<String>,
    verified: Mutex<Option<[u8; 32]>>,
    /// At most two bcrypt checks at a time: guessing costs the guesser.
    checks: Semaphore,
}

impl Auth {
    pub fn new(hash: Option<String>) -> Self {
        Self {
            hash,
            verified: Mutex::new(None),
            checks: Semaphore::new(2),
        }
    }

    /// Whether an `Authorization` header carries the right password.
    pub async fn check(&self, header: Option<&HeaderValue>) -> bool {
        let Some(hash) = &self.hash else { return false };
        let Some(password) = header.and_then(basic_password) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        if let Ok(cached) = self.verified.lock() {
            if let Some(c) = *cached {
                if bool::from(c.ct_eq(&digest)) {
                    return true;
                }
            }
        }
        let Ok(_permit) = self.checks.acquire().await else {
            return false;
        };
        let hash = hash.clone();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or(false);
        if ok {
            if let Ok(mut cached) = self.verified.lock() {
                *cached = Some(digest);
            }
        }
        ok
    }
}

/// The password of a `Basic base64(user:password)` header.
fn basic_password(value: &HeaderValue) -> Option<String> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_user, password) = text.split_once(':')?;
    Some(password.to_string())
}

/// Middleware: the unix socket (root only) needs no password; TCP does.
pub async fn require(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(req.extensions().get::<Peer>(), Some(Peer::Unix)) {
        return next.run(req).await;
    }
    if state
        .auth
        .check(req.headers().get(header::AUTHORIZATION))
        .await
    {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"paddock\"")],
        axum::Json(serde_json::json!({"error": "authentication required"})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_pass: &str) -> HeaderValue {
        let enc = base64::engine::general_purpose::STANDARD.encode(user_pass);
        HeaderValue::from_str(&format!("Basic {enc}")).unwrap()
    }

    #[tokio::test]
    async fn checks_password_and_caches() {
        let auth = Auth::new(Some(bcrypt::hash("s3cret-pass", 4).unwrap()));
        assert!(auth.check(Some(&basic("paddock:s3cret-pass"))).await);
        // Cached now: still right, and a wrong one still wrong.
        assert!(auth.check(Some(&basic("anyone:s3cret-pass"))).await);
        assert!(!auth.check(Some(&basic("paddock:wrong"))).await);
        assert!(!auth.check(Some(&basic("paddock"))).await);
        assert!(!auth.check(None).await);
        assert!(
            !auth
                .check(Some(&HeaderValue::from_static("Bearer x")))
                .await
        );
    }

    #[tokio::test]
    async fn no_hash_refuses_everything() {
        let auth = Auth::new(None);
        assert!(!auth.check(Some(&basic("paddock:"))).await);
    }
}
