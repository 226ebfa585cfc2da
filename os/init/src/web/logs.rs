//! Live logs as server-sent events (`data: LINE` per line): the kept lines
//! first, then new ones as they come.
//!
//! Services: init keeps a ring buffer and has no follow request, so the
//! buffer is polled and the new tail sent. Containers: paddockd's
//! `logs?follow=1` stream, split into lines.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Method, Request};
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use futures_util::stream::BoxStream;
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use super::paddockd::{self, segment};
use super::state::AppState;
use super::{init_client, WebError};

const POLL: Duration = Duration::from_millis(500);
/// Container lines sent before following.
const TAIL: usize = 500;

type Events = Sse<KeepAliveStream<BoxStream<'static, Result<Event, Infallible>>>>;

fn sse(rx: mpsc::Receiver<String>) -> Events {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok(Event::default().data(line)), rx))
    });
    Sse::new(Box::pin(stream) as BoxStream<'static, _>).keep_alive(KeepAlive::default())
}

pub async fn service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Events, WebError> {
    let first = init_client::logs(&state, &name, None).await?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut prev = first.clone();
        for line in first {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        loop {
            tokio::time::sleep(POLL).await;
            if tx.is_closed() {
                return;
            }
            let Ok(cur) = init_client::logs(&state, &name, None).await else {
                // Service gone or init shutting down: end the stream.
                return;
            };
            for line in new_lines(&prev, &cur) {
                if tx.send(line.clone()).await.is_err() {
                    return;
                }
            }
            prev = cur;
        }
    });
    Ok(sse(rx))
}

/// The lines of `cur` after its overlap with the end of `prev` (the ring
/// buffer drops old lines from the front as new ones come).
fn new_lines<'a>(prev: &[String], cur: &'a [String]) -> &'a [String] {
    for k in (1..=prev.len().min(cur.len())).rev() {
        if prev[prev.len() - k..] == cur[..k] {
            return &cur[k..];
        }
    }
    cur
}

pub async fn container(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Events, WebError> {
    let path = format!(
        "/v1/containers/{}/logs?tail={TAIL}&follow=1",
        segment(&name)
    );
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .body(Body::empty())
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let resp = paddockd::send(&state.paddockd_socket(), req).await?;
    if !resp.status().is_success() {
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        return Err(WebError::Upstream {
            status,
            message: format!("paddockd: {message}"),
        });
    }
    let (tx, rx) = mpsc::channel(64);
    let mut body = resp.into_body();
    tokio::spawn(async move {
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(i) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line[..line.len() - 1])
                    .trim_end_matches('\r')
                    .to_string();
                if tx.send(text).await.is_err() {
                    return;
                }
            }
        }
        if !buf.is_empty() {
            let _ = tx.send(String::from_utf8_lossy(&buf).into_owned()).await;
        }
    });
    Ok(sse(rx))
}

#[cfg(test)]
mod tests {
    use super::new_lines;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn finds_the_new_tail() {
        assert_eq!(new_lines(&v(&["a", "b"]), &v(&["a", "b", "c"])), v(&["c"]));
        assert_eq!(new_lines(&v(&["a", "b"]), &v(&["a", "b"])), v(&[]));
        // The buffer dropped "a" and got "c", "d".
        assert_eq!(
            new_lines(&v(&["a", "b"]), &v(&["b", "c", "d"])),
            v(&["c", "d"])
        );
        assert_eq!(new_lines(&v(&["x", "x"]), &v(&["x", "x", "x"])), v(&["x"]));
        assert_eq!(new_lines(&[], &v(&["a"])), v(&["a"]));
        // Nothing in common: all of it is new.
        assert_eq!(new_lines(&v(&["a"]), &v(&["b"])), v(&["b"]));
    }
}
