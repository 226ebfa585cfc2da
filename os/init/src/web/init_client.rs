//! init's supervisor, reached through its control socket (blocking: run on
//! tokio's blocking pool).

use crate::logbuf::Since;
use paddock_wire::control::{self, Request, Response, ServiceStatus};

use super::error::WebError;
use super::state::AppState;

/// One request; a refusal (`ok: false`) becomes an error.
pub async fn call(state: &AppState, req: Request) -> Result<Response, WebError> {
    let socket = state.init_socket();
    let resp = tokio::task::spawn_blocking(move || control::request(&socket, &req)).await??;
    if resp.ok {
        return Ok(resp);
    }
    let message = resp.error.unwrap_or_else(|| "request failed".into());
    if message.starts_with("no service named") {
        Err(WebError::NotFound(message))
    } else {
        Err(WebError::Refused(message))
    }
}

pub async fn list(state: &AppState) -> Result<Vec<ServiceStatus>, WebError> {
    Ok(call(state, Request::List)
        .await?
        .services
        .unwrap_or_default())
}

pub async fn status(state: &AppState, name: &str) -> Result<ServiceStatus, WebError> {
    list(state)
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| WebError::NotFound(format!("no service named {name:?}")))
}

pub async fn logs(
    state: &AppState,
    name: &str,
    lines: Option<usize>,
) -> Result<Vec<String>, WebError> {
    let req = Request::Logs {
        name: name.to_string(),
        lines,
        after: None,
    };
    Ok(call(state, req).await?.lines.unwrap_or_default())
}

/// The kept lines after `cursor` (all kept lines with `None`).
pub async fn logs_after(
    state: &AppState,
    name: &str,
    cursor: Option<u64>,
) -> Result<Since, WebError> {
    let req = Request::Logs {
        name: name.to_string(),
        lines: None,
        after: Some(cursor.unwrap_or(0)),
    };
    let resp = call(state, req).await?;
    Ok(Since {
        lines: resp.lines.unwrap_or_default(),
        next: resp.next.unwrap_or(0),
        skipped: if cursor.is_some() {
            resp.skipped.unwrap_or(0)
        } else {
            0
        },
    })
}
