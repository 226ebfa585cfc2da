//! init's supervisor, reached through its control socket (blocking: run on
//! tokio's blocking pool).

use crate::control::{self, Request, Response, ServiceStatus};

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
    };
    Ok(call(state, req).await?.lines.unwrap_or_default())
}
