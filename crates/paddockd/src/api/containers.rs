//! Container routes: list, status, logs, start/stop/restart, exec, apply.

use std::sync::Arc;

use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request};

use super::respond::{self, json, query_param, ApiError, ApiResult};
use crate::supervisor::container::Command;
use crate::supervisor::Supervisor;

pub async fn route(sup: &Arc<Supervisor>, req: Request<Incoming>, rest: &[&str]) -> ApiResult {
    match (req.method().clone(), rest) {
        (Method::GET, [] | [""]) => Ok(json(&sup.list())),
        (Method::GET, [name]) => sup
            .status(name)
            .map(|s| json(&s))
            .ok_or_else(|| not_found(name)),
        (Method::GET, [name, "logs"]) => logs(sup, &req, name),
        (Method::POST, [name, action @ ("start" | "stop" | "restart")]) => {
            let make: fn(tokio::sync::oneshot::Sender<()>) -> Command = match *action {
                "start" => Command::Start,
                "stop" => Command::Stop,
                _ => Command::Restart,
            };
            if !sup.command(name, make).await {
                return Err(not_found(name));
            }
            sup.status(name)
                .map(|s| json(&s))
                .ok_or_else(|| not_found(name))
        }
        (Method::POST, [name, "exec"]) => super::exec::exec(sup, req, name).await,
        (m, _) => Err(ApiError::NotFound(format!(
            "no route for {m} /v1/containers/{}",
            rest.join("/")
        ))),
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("no container named {name:?}"))
}

/// `GET /v1/containers/NAME/logs?tail=N&follow=1`: log lines as text.
fn logs(sup: &Arc<Supervisor>, req: &Request<Incoming>, name: &str) -> ApiResult {
    let buffer = sup.logs(name).ok_or_else(|| not_found(name))?;
    let tail = query_param(req.uri(), "tail").and_then(|t| t.parse().ok());
    let follow = query_param(req.uri(), "follow").is_some_and(|v| v == "1" || v == "true");
    let (lines, mut live) = buffer.tail_and_follow(tail);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        for line in lines {
            if tx.send(Bytes::from(line + "\n")).await.is_err() {
                return;
            }
        }
        if !follow {
            return;
        }
        loop {
            match live.recv().await {
                Ok(line) => {
                    if tx.send(Bytes::from(line + "\n")).await.is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    let note = format!("paddockd: {n} lines skipped (reader too slow)\n");
                    if tx.send(Bytes::from(note)).await.is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    let mut r = hyper::Response::new(respond::stream(rx));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(r)
}

/// `POST /v1/apply`: re-read the manifests and reconcile.
pub async fn apply(sup: &Arc<Supervisor>) -> ApiResult {
    Ok(json(&sup.apply().await))
}

/// `GET /v1/status`: the daemon itself.
pub fn daemon_status(sup: &Arc<Supervisor>) -> ApiResult {
    Ok(json(&serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "clock_trusted": *sup.shared().clock.borrow(),
        "root": sup.paths().root(),
        "containers": sup.list().len(),
    })))
}
