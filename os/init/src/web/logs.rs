//! Live logs as server-sent events (`data: LINE` per line): the kept lines
//! first, then new ones as they come.
//!
//! Services: init keeps a ring buffer with numbered lines; it is asked for
//! what came after the last line sent, a few times a second. Lines the
//! buffer dropped before they could be sent are announced as an
//! `event: skipped` with their count. Containers: paddockd's
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

const POLL: Duration = Duration::from_millis(250);
/// Container lines sent before following.
const TAIL: usize = 500;

type Events = Sse<KeepAliveStream<BoxStream<'static, Result<Event, Infallible>>>>;

fn sse(rx: mpsc::Receiver<Event>) -> Events {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    });
    Sse::new(Box::pin(stream) as BoxStream<'static, _>).keep_alive(KeepAlive::default())
}

fn line_event(text: String) -> Event {
    Event::default().data(text)
}

pub async fn service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Events, WebError> {
    let mut since = init_client::logs_after(&state, &name, None).await?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            if since.skipped > 0 {
                let event = Event::default()
                    .event("skipped")
                    .data(since.skipped.to_string());
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            for text in since.lines {
                if tx.send(line_event(text)).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(POLL).await;
            if tx.is_closed() {
                return;
            }
            match init_client::logs_after(&state, &name, Some(since.next)).await {
                Ok(s) => since = s,
                // Service gone or init shutting down: end the stream.
                Err(_) => return,
            }
        }
    });
    Ok(sse(rx))
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
        let message = serde_json::from_slice::<paddock_wire::update::ErrorBody>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
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
                if tx.send(line_event(text)).await.is_err() {
                    return;
                }
            }
        }
        if !buf.is_empty() {
            let _ = tx
                .send(line_event(String::from_utf8_lossy(&buf).into_owned()))
                .await;
        }
    });
    Ok(sse(rx))
}
