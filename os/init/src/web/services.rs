//! `/services/NAME`: one init service — status, logs, start/stop/restart.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;

use super::html::{self, esc, opt};
use super::overview::{memory, service_uptime};
use super::paddockd::segment;
use super::state::AppState;
use super::{init_client, negotiate, WebError};
use paddock_wire::control::Request;
use paddock_wire::device::ServicePage;

/// Lines shown on the page (the stream sends all kept ones).
const PAGE_LINES: usize = 200;

pub async fn page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let service = init_client::status(&state, &name).await?;
    let logs = init_client::logs(&state, &name, Some(PAGE_LINES)).await?;
    if negotiate::wants_json(&headers) {
        return Ok(Json(ServicePage { service, logs }).into_response());
    }
    let base = format!("/services/{}", segment(&name));
    let table = format!(
        "<table><tr><th>state</th><td><span class=\"{st}\">{st}</span></td></tr>\
<tr><th>pid</th><td>{pid}</td></tr><tr><th>up</th><td>{up}</td></tr>\
<tr><th>restarts</th><td>{r}</td></tr><tr><th>last exit</th><td>{last}</td></tr>\
<tr><th>memory</th><td>{mem}</td></tr><tr><th>waits for clock</th><td>{wfc}</td></tr>\
<tr><th>started on demand only</th><td>{ds}</td></tr></table>",
        st = esc(service.state.as_str()),
        pid = opt(service.pid),
        up = service_uptime(&service),
        r = service.restarts,
        last = opt(service.last_exit.as_deref()),
        mem = memory(service.memory_bytes),
        wfc = service.wait_for_clock,
        ds = service.dont_start,
    );
    let body = format!(
        "{}<p>{}</p>{}",
        html::live("status", &table),
        html::actions(&base, &base, &state.csrf_token),
        html::log_view(&logs, &format!("{base}/logs")),
    );
    Ok(html::page(&state.hostname, &format!("service {name}"), &body).into_response())
}

/// The hidden fields of the HTML forms (the token is checked by the CSRF
/// middleware).
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    pub back: Option<String>,
}

pub async fn action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, WebError> {
    let req = match action.as_str() {
        "start" => Request::Start { name: name.clone() },
        "stop" => Request::Stop { name: name.clone() },
        "restart" => Request::Restart { name: name.clone() },
        other => {
            return Err(WebError::NotFound(format!(
                "no action {other:?} (start, stop, restart)"
            )))
        }
    };
    let resp = init_client::call(&state, req).await?;
    if negotiate::wants_redirect(&headers) {
        let back = form.ok().and_then(|f| f.0.back);
        let default = format!("/services/{}", segment(&name));
        return Ok(Redirect::to(&negotiate::safe_back(back.as_deref(), &default)).into_response());
    }
    match resp.service {
        Some(s) => Ok(Json(s).into_response()),
        None => Ok(Json(init_client::status(&state, &name).await?).into_response()),
    }
}
