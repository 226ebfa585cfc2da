//! `POST /reboot`, `POST /poweroff`: asks init to shut down cleanly.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::state::AppState;
use super::{html, init_client, negotiate, WebError};
use paddock_wire::control::Request;

pub async fn reboot(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    down(state, headers, Request::Reboot, "rebooting").await
}

pub async fn poweroff(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    down(state, headers, Request::Poweroff, "powering off").await
}

async fn down(
    state: AppState,
    headers: HeaderMap,
    req: Request,
    what: &str,
) -> Result<Response, WebError> {
    tracing::info!("web: {what} on request");
    init_client::call(&state, req).await?;
    if negotiate::wants_json(&headers) || !negotiate::wants_redirect(&headers) {
        return Ok(Json(serde_json::json!({})).into_response());
    }
    Ok(html::page(&state.hostname, what, "<p>The device is going down.</p>").into_response())
}
