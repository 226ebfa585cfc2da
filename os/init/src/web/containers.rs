//! `/containers/NAME`: one paddockd container — details (ports, volumes,
//! image), logs, start/stop/restart; answers are paddockd's status objects.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde_json::Value;

use super::html::{self, esc, opt};
use super::overview::memory;
use super::paddockd::{self, segment};
use super::services::ActionForm;
use super::state::AppState;
use super::{negotiate, WebError};

pub async fn page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let base = format!("/containers/{}", segment(&name));
    let status =
        paddockd::json(&state.paddockd_socket(), Method::GET, &format!("/v1{base}")).await?;
    if negotiate::wants_json(&headers) {
        return Ok(Json(status).into_response());
    }
    let s = |k: &str| opt(status.get(k).and_then(|v| v.as_str()));
    let raw = |k: &str| match status.get(k) {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::Array(a)) if a.is_empty() => "-".to_string(),
        Some(Value::String(t)) => esc(t),
        Some(v) => format!("<code>{}</code>", esc(&v.to_string())),
    };
    let table = format!(
        "<table><tr><th>state</th><td><span class=\"{st}\">{st}</span></td></tr>\
<tr><th>health</th><td>{health}</td></tr><tr><th>image</th><td>{image}</td></tr>\
<tr><th>image digest</th><td><code>{digest}</code></td></tr><tr><th>pid</th><td>{pid}</td></tr>\
<tr><th>started</th><td>{started}</td></tr><tr><th>finished</th><td>{finished}</td></tr>\
<tr><th>restarts</th><td>{restarts}</td></tr><tr><th>last exit code</th><td>{code}</td></tr>\
<tr><th>last error</th><td>{err}</td></tr><tr><th>memory</th><td>{mem}</td></tr>\
<tr><th>address</th><td>{addr}</td></tr><tr><th>ports</th><td>{ports}</td></tr>\
<tr><th>volumes</th><td>{volumes}</td></tr><tr><th>manifest</th><td>{manifest}</td></tr></table>",
        st = esc(status.get("state").and_then(|v| v.as_str()).unwrap_or("?")),
        health = s("health"),
        image = s("image"),
        digest = s("image_digest"),
        pid = raw("pid"),
        started = s("started_at"),
        finished = s("finished_at"),
        restarts = raw("restarts"),
        code = raw("last_exit_code"),
        err = s("last_error"),
        mem = memory(&status),
        addr = raw("address"),
        ports = raw("ports"),
        volumes = volumes(&status),
        manifest = s("manifest"),
    );
    let body = format!(
        "{}<p>{}</p>{}",
        html::live("status", &table),
        html::actions(&base, &base, &state.csrf_token),
        html::log_view(&[], &format!("{base}/logs")),
    );
    Ok(html::page(&state.hostname, &format!("container {name}"), &body).into_response())
}

/// `[{source, target, read_only}]` as lines.
fn volumes(status: &Value) -> String {
    let Some(list) = status.get("volumes").and_then(|v| v.as_array()) else {
        return "-".into();
    };
    if list.is_empty() {
        return "-".into();
    }
    list.iter()
        .map(|v| {
            let f = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?");
            let ro = v
                .get("read_only")
                .and_then(|x| x.as_bool())
                .unwrap_or(false);
            format!(
                "{} → {}{}",
                esc(f("source")),
                esc(f("target")),
                if ro { " (read-only)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

pub async fn action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, WebError> {
    if !matches!(action.as_str(), "start" | "stop" | "restart") {
        return Err(WebError::NotFound(format!(
            "no action {action:?} (start, stop, restart)"
        )));
    }
    let base = format!("/containers/{}", segment(&name));
    let status = paddockd::json(
        &state.paddockd_socket(),
        Method::POST,
        &format!("/v1{base}/{action}"),
    )
    .await?;
    if negotiate::wants_redirect(&headers) {
        let back = form.ok().and_then(|f| f.0.back);
        return Ok(Redirect::to(&negotiate::safe_back(back.as_deref(), &base)).into_response());
    }
    Ok(Json(status).into_response())
}
