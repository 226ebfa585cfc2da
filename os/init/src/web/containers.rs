//! `/containers/NAME`: one paddockd container — details (ports, volumes,
//! image), logs, start/stop/restart; answers are paddockd's status objects.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use paddock_wire::api::status::{ContainerStatus, VolumeStatus};

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
    let status: ContainerStatus =
        paddockd::call(&state.paddockd_socket(), Method::GET, &format!("/v1{base}")).await?;
    if negotiate::wants_json(&headers) {
        return Ok(Json(status).into_response());
    }
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_string()
        } else {
            format!("<code>{}</code>", esc(&format!("{items:?}")))
        }
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
        st = status.state.as_str(),
        health = opt(status.health.map(|h| h.as_str())),
        image = esc(&status.image),
        digest = opt(status.image_digest.as_deref()),
        pid = code(status.pid),
        started = opt(status.started_at.as_deref()),
        finished = opt(status.finished_at.as_deref()),
        restarts = code(Some(status.restarts)),
        code = code(status.last_exit_code),
        err = opt(status.last_error.as_deref()),
        mem = memory(status.memory_bytes),
        addr = opt(status.address.as_deref()),
        ports = list(&status.ports),
        volumes = volumes(&status.volumes),
        manifest = esc(&status.manifest),
    );
    let body = format!(
        "{}<p>{}</p>{}",
        html::live("status", &table),
        html::actions(&base, &base, &state.csrf_token),
        html::log_view(&[], &format!("{base}/logs")),
    );
    Ok(html::page(&state.hostname, &format!("container {name}"), &body).into_response())
}

/// A number as the page shows it: in `<code>`, or `-`.
fn code<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| format!("<code>{v}</code>"))
        .unwrap_or_else(|| "-".into())
}

/// The bind mounts, one a line.
fn volumes(list: &[VolumeStatus]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter()
        .map(|v| {
            format!(
                "{} → {}{}",
                esc(&v.source),
                esc(&v.target),
                if v.read_only { " (read-only)" } else { "" }
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
    let status: ContainerStatus = paddockd::call(
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
