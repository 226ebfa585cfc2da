//! init's services on a device, through its web server's routes: `GET /`
//! (the overview; its `services`), `GET /services/NAME` (`{service, logs}`),
//! `GET /services/NAME/logs` (server-sent events), and
//! `POST /services/NAME/start|stop|restart`.

use anyhow::{bail, Context};
use http_body_util::BodyExt;
use hyper::StatusCode;
use paddock_wire::control::ServiceStatus;
use paddock_wire::device::{Overview, ServicePage};
use tokio::io::AsyncWriteExt;

use crate::client::{error_message, Client};

/// Every service with its state.
pub async fn list(client: &Client) -> anyhow::Result<Vec<ServiceStatus>> {
    let resp = client.request("GET", "/", None, false, true).await?;
    let overview: Overview = client.decode(resp).await?;
    Ok(overview.services)
}

/// `start`, `stop` or `restart`; `None` if there is no such service.
pub async fn action(
    client: &Client,
    name: &str,
    action: &str,
) -> anyhow::Result<Option<ServiceStatus>> {
    let path = format!(
        "/services/{}/{action}",
        paddock_wire::api::path::percent_encode(name)
    );
    let resp = client.request("POST", &path, None, false, true).await?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    client.decode(resp).await.map(Some)
}

/// The kept lines of a service's output; `None` if there is no such service.
pub async fn logs(client: &Client, name: &str) -> anyhow::Result<Option<Vec<String>>> {
    let path = format!(
        "/services/{}",
        paddock_wire::api::path::percent_encode(name)
    );
    let resp = client.request("GET", &path, None, false, true).await?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let page: ServicePage = client.decode(resp).await?;
    Ok(Some(page.logs))
}

/// Prints a service's kept lines and then new ones as they come (until the
/// device closes the stream).
pub async fn follow(client: &Client, name: &str) -> anyhow::Result<()> {
    let path = format!(
        "/services/{}/logs",
        paddock_wire::api::path::percent_encode(name)
    );
    let resp = client.request("GET", &path, None, false, false).await?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.into_body().collect().await?.to_bytes();
        bail!("{}", error_message(status, &body));
    }
    let mut body = resp.into_body();
    let mut events = EventParser::default();
    let mut stdout = tokio::io::stdout();
    while let Some(frame) = body.frame().await {
        let frame = frame.with_context(|| format!("reading {name}'s logs"))?;
        if let Some(data) = frame.data_ref() {
            for e in events.push(data) {
                match e.event.as_str() {
                    "message" => {
                        stdout.write_all(e.data.as_bytes()).await?;
                        stdout.write_all(b"\n").await?;
                    }
                    "skipped" => eprintln!(
                        "[{} lines skipped: the device's log buffer moved on]",
                        e.data
                    ),
                    _ => {}
                }
            }
            stdout.flush().await?;
        }
    }
    Ok(())
}

/// One server-sent event: its type (`message` unless the stream says
/// otherwise) and its data.
#[derive(Debug, PartialEq, Eq)]
pub struct ServerEvent {
    pub event: String,
    pub data: String,
}

/// Server-sent events, cut into events (several `data:` lines of one event
/// are joined with newlines, as the standard says).
#[derive(Default)]
pub struct EventParser {
    pending: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl EventParser {
    /// Feeds bytes; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<ServerEvent> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                let event = self.event.take();
                if let Some(data) = self.data.take() {
                    out.push(ServerEvent {
                        event: event.unwrap_or_else(|| "message".into()),
                        data,
                    });
                }
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "data" => match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => self.data = Some(value.to_string()),
                },
                "event" => self.event = Some(value.to_string()),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str) -> ServerEvent {
        ServerEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn events() {
        let mut p = EventParser::default();
        assert!(p.push(b": comment\ndata: one").is_empty());
        assert_eq!(
            p.push(b"\n\ndata:two\r\n\r\nevent: x\ndata: a\ndata: b\n\n"),
            [ev("message", "one"), ev("message", "two"), ev("x", "a\nb")]
        );
        assert_eq!(p.push(b"data: \n\n"), [ev("message", "")]);
    }
}
