//! A small HTTP/1.1 client for paddockd's unix socket.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(socket: &Path) -> Self {
        Self {
            socket: socket.to_path_buf(),
        }
    }

    /// Sends one request on a fresh connection and returns the response with
    /// its body still streaming.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        upgrade: bool,
    ) -> anyhow::Result<Response<Incoming>> {
        let stream = UnixStream::connect(&self.socket).await.with_context(|| {
            format!(
                "connecting to paddockd at {} (is it running?)",
                self.socket.display()
            )
        })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("talking to paddockd")?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://paddockd{path}"))
            .header(hyper::header::HOST, "paddockd");
        if upgrade {
            req = req
                .header(hyper::header::CONNECTION, "upgrade")
                .header(hyper::header::UPGRADE, "paddock-exec");
        }
        let bytes = match body {
            Some(v) => {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(&v)?)
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(bytes))?;
        sender
            .send_request(req)
            .await
            .context("talking to paddockd")
    }

    /// Sends a request and decodes a JSON answer; an error status becomes an
    /// error carrying paddockd's message.
    pub async fn json<T: for<'de> serde::Deserialize<'de>>(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<T> {
        let resp = self.send(method, path, body, false).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            bail!("{message}");
        }
        serde_json::from_slice(&bytes).context("decoding paddockd's answer")
    }
}
