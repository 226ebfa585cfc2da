//! The device's web UI and JSON API (issue #5), served by init on a thread of
//! its own with a current-thread tokio runtime: the supervisor stays
//! synchronous and talks to this module only through its control socket.
//!
//! Every private address of the device (re-checked every few seconds: DHCP
//! hands out addresses late) and a root-only unix socket; Basic auth against
//! the bcrypt hash from system.json; cross-site requests refused. Routes and
//! JSON shapes: docs/device-api.md.
//!
//! Public API: [`WebConfig`], [`Listen`], [`spawn`], [`router`].

mod auth;
mod containers;
mod csrf;
mod error;
mod html;
mod init_client;
mod listen;
mod logs;
mod negotiate;
mod overview;
mod paddockd;
mod peer;
mod power;
mod proxy;
mod redirect;
mod routes;
mod serve;
mod services;
mod state;
mod system;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use error::WebError;
pub use routes::router;
pub use state::AppState;

/// Where the TCP listeners go.
#[derive(Debug, Clone)]
pub enum Listen {
    /// Every `addresses::private(port)` address, kept up to date (the device).
    Private(u16),
    /// Exactly these addresses (tests, development: `--web-listen`).
    Fixed(Vec<SocketAddr>),
}

/// What the web server needs to know.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// `/` on the device; the `--root` prefix in `--no-pid1` mode. Sockets,
    /// /perm, build.json and the TLS certificate are found below it.
    pub root: PathBuf,
    pub hostname: String,
    pub listen: Listen,
    /// bcrypt hash of the update password (system.json
    /// `update_password_hash`); `None` refuses every TCP request.
    pub password_hash: Option<String>,
    /// With a certificate and [`Listen::Private`]: the UI and API are
    /// served over HTTPS on this port, and the plain port only redirects
    /// (and answers `/health`).
    pub https_port: Option<u16>,
}

impl WebConfig {
    pub fn new(root: impl Into<PathBuf>, hostname: impl Into<String>, listen: Listen) -> Self {
        Self {
            root: root.into(),
            hostname: hostname.into(),
            listen,
            password_hash: None,
            https_port: None,
        }
    }

    pub fn with_https_port(mut self, port: Option<u16>) -> Self {
        self.https_port = port;
        self
    }

    pub fn with_password_hash(mut self, hash: Option<String>) -> Self {
        self.password_hash = hash;
        self
    }
}

/// Starts the server on a thread of its own and returns at once. Errors of
/// single listeners are logged, not returned: the device must boot anyway.
pub fn spawn(config: WebConfig) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("web".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("web: tokio runtime: {e}");
                    return;
                }
            };
            rt.block_on(listen::run(config));
        })
}
