//! Shared state of the handlers: where things are, the password check and
//! the per-boot CSRF token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::auth::Auth;
use super::WebConfig;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub root: PathBuf,
    pub hostname: String,
    pub auth: Auth,
    /// Put in every HTML form; a browser's POST must carry it back.
    pub csrf_token: String,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(config: &WebConfig) -> Self {
        let token: [u8; 32] = rand::random();
        Self(Arc::new(Inner {
            root: config.root.clone(),
            hostname: config.hostname.clone(),
            auth: Auth::new(config.password_hash.clone()),
            csrf_token: hex::encode(token),
        }))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn init_socket(&self) -> PathBuf {
        self.path("run/paddock/init.sock")
    }

    pub fn paddockd_socket(&self) -> PathBuf {
        self.path("run/paddock/paddockd.sock")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}
