//! `POST /reboot`, `POST /poweroff`: asks init to shut down cleanly.
//!
//! The answer goes out first and the request to init follows it: once init
//! has the request it may exit (outside PID 1, as soon as its services
//! stopped) before this thread has written the answer, and the client would
//! see a dropped connection instead of "going down".

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::state::AppState;
use super::{html, init_client, negotiate, WebError};
use paddock_wire::control::Request;

/// How long the answer has to reach the client before init is asked.
const ANSWER_FIRST: std::time::Duration = std::time::Duration::from_millis(200);

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
    // Refused now, while the client can still be told: init unreachable or
    // already shutting down.
    init_client::call(&state, Request::List).await?;
    let what_owned = what.to_string();
    let init = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ANSWER_FIRST).await;
        if let Err(e) = init_client::call(&init, req).await {
            tracing::error!("web: {what_owned}: {e}");
        }
    });
    if negotiate::wants_json(&headers) || !negotiate::wants_redirect(&headers) {
        return Ok(Json(serde_json::json!({})).into_response());
    }
    Ok(html::page(&state.hostname, what, "<p>The device is going down.</p>").into_response())
}
