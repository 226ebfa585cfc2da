//! A small HTTP/1.1 client for paddockd's API: over its unix socket on the
//! device, or over TCP to a device's web server, which serves the same API
//! under `/api` behind HTTP Basic auth (and its own routes for services).
//! Commands speak paddockd's paths (`/v1/…`); the client adds the prefix.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::remote::Device;

pub struct Client {
    transport: Transport,
}

enum Transport {
    /// paddockd's socket on this machine.
    Unix(PathBuf),
    /// A device's web server.
    Http {
        /// `HOST:PORT`.
        host: String,
        authorization: Option<HeaderValue>,
        tls: Option<crate::remote::tls::TlsTarget>,
    },
}

impl Client {
    pub fn new(socket: &Path) -> Self {
        Self {
            transport: Transport::Unix(socket.to_path_buf()),
        }
    }

    /// A client for `device`'s web server.
    pub fn remote(device: &Device) -> anyhow::Result<Self> {
        let authorization = match &device.password {
            Some(p) => {
                use base64::Engine as _;
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("paddock:{p}"));
                Some(
                    HeaderValue::from_str(&format!("Basic {token}"))
                        .context("the password makes an invalid header")?,
                )
            }
            None => None,
        };
        Ok(Self {
            transport: Transport::Http {
                host: device.host.clone(),
                authorization,
                tls: device.tls.clone(),
            },
        })
    }

    /// Whether this talks to a device over the network.
    pub fn is_remote(&self) -> bool {
        matches!(self.transport, Transport::Http { .. })
    }

    /// Who answers, for messages: `paddockd` or the device's `HOST:PORT`.
    pub fn peer(&self) -> &str {
        match &self.transport {
            Transport::Unix(_) => "paddockd",
            Transport::Http { host, .. } => host,
        }
    }

    /// Sends one paddockd API request (`/v1/…`) on a fresh connection and
    /// returns the response with its body still streaming.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        upgrade: bool,
    ) -> anyhow::Result<Response<Incoming>> {
        let path = match self.transport {
            Transport::Unix(_) => path.to_string(),
            Transport::Http { .. } => format!("/api{path}"),
        };
        self.request(method, &path, body, upgrade, false).await
    }

    /// Sends a request for exactly `path` (a device route such as
    /// `/services/NAME`); `json` asks for a JSON answer.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        upgrade: bool,
        json: bool,
    ) -> anyhow::Result<Response<Incoming>> {
        let (mut sender, host) = match &self.transport {
            Transport::Unix(socket) => {
                let stream = UnixStream::connect(socket).await.with_context(|| {
                    format!(
                        "connecting to paddockd at {} (is it running?)",
                        socket.display()
                    )
                })?;
                (handshake(stream).await?, "paddockd")
            }
            Transport::Http { host, tls, .. } => {
                let stream = crate::remote::tls::connect(host, tls.as_ref()).await?;
                (handshake(stream).await?, host.as_str())
            }
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host);
        if let Transport::Http {
            authorization: Some(auth),
            ..
        } = &self.transport
        {
            req = req.header(hyper::header::AUTHORIZATION, auth.clone());
        }
        if json {
            req = req.header(hyper::header::ACCEPT, "application/json");
        }
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
        let resp = sender
            .send_request(req)
            .await
            .with_context(|| format!("talking to {}", self.peer()))?;
        if resp.status() == StatusCode::UNAUTHORIZED && self.is_remote() {
            bail!(
                "wrong password for {}: check --password, PADDOCK_PASSWORD or --instance",
                self.peer()
            );
        }
        Ok(resp)
    }

    /// Sends a paddockd API request and decodes a JSON answer; an error
    /// status becomes an error carrying the server's message.
    pub async fn json<T: for<'de> serde::Deserialize<'de>>(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<T> {
        let resp = self.send(method, path, body, false).await?;
        self.decode(resp).await
    }

    /// Decodes a JSON answer, or turns an error status into its message.
    pub async fn decode<T: for<'de> serde::Deserialize<'de>>(
        &self,
        resp: Response<Incoming>,
    ) -> anyhow::Result<T> {
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("{}", error_message(status, &bytes));
        }
        serde_json::from_slice(&bytes)
            .with_context(|| format!("decoding the answer of {}", self.peer()))
    }
}

/// The `{"error": …}` of an error answer, else its text, else its status.
pub fn error_message(status: StatusCode, body: &[u8]) -> String {
    let message = serde_json::from_slice::<paddock_wire::update::ErrorBody>(body)
        .map(|e| e.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).trim().to_string());
    if message.is_empty() {
        status.to_string()
    } else {
        message
    }
}

async fn handshake<S>(
    stream: S,
) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("starting HTTP")?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}
