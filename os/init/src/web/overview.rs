//! `GET /`: the device at a glance — system facts, every service and
//! container, reboot and power-off.

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use paddock_wire::api::status::ContainerStatus;
use paddock_wire::control::{ServiceState, ServiceStatus};
use paddock_wire::device::Overview;

use super::html::{self, esc, opt};
use super::paddockd::{self, segment};
use super::state::AppState;
use super::system::{self, System};
use super::{init_client, negotiate, WebError};

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    let services = init_client::list(&state).await?;
    let (containers, containers_error) = match paddockd::call::<Vec<ContainerStatus>>(
        &state.paddockd_socket(),
        Method::GET,
        "/v1/containers",
    )
    .await
    {
        Ok(list) => (Some(list), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let root = state.root().to_path_buf();
    let sys = tokio::task::spawn_blocking(move || system::gather(&root)).await?;
    if negotiate::wants_json(&headers) {
        return Ok(Json(Overview {
            hostname: state.hostname.clone(),
            system: sys,
            services,
            containers,
            containers_error,
        })
        .into_response());
    }
    let mut live = system_table(&state, &sys);
    live.push_str(&services_table(&state, &services));
    live.push_str(&containers_table(
        &state,
        containers.as_deref(),
        containers_error.as_deref(),
    ));
    let mut body = html::live("overview", &live);
    body.push_str("<h2>Device</h2><p>");
    body.push_str(&html::button(
        "/reboot",
        "reboot",
        "/",
        &state.csrf_token,
        Some("Reboot the device?"),
    ));
    body.push_str(&html::button(
        "/poweroff",
        "power off",
        "/",
        &state.csrf_token,
        Some("Power the device off? It will not come back by itself."),
    ));
    body.push_str("</p>");
    Ok(html::page(&state.hostname, &state.hostname, &body).into_response())
}

fn system_table(_state: &AppState, sys: &System) -> String {
    let addresses: Vec<String> = sys
        .addresses
        .iter()
        .map(|a| format!("{} ({})", esc(&a.address), esc(&a.interface)))
        .collect();
    let perm = sys
        .perm
        .as_ref()
        .map(|p| {
            format!(
                "{} of {} used",
                html::bytes(p.used_bytes),
                html::bytes(p.total_bytes)
            )
        })
        .unwrap_or_else(|| "not mounted".into());
    format!(
        "<table><tr><th>version</th><td>{}</td></tr><tr><th>built</th><td>{}</td></tr>\
<tr><th>kernel</th><td>{}</td></tr><tr><th>slot</th><td>{}</td></tr>\
<tr><th>up</th><td>{}</td></tr><tr><th>/perm</th><td>{}</td></tr>\
<tr><th>addresses</th><td>{}</td></tr></table>",
        opt(sys.version.as_deref()),
        opt(sys.build_time.as_deref()),
        opt(sys.kernel.as_deref()),
        opt(sys.slot.as_deref()),
        sys.uptime_secs
            .map(html::duration)
            .unwrap_or_else(|| "-".into()),
        perm,
        addresses.join("<br>"),
    )
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How long a service has been up, from `started_at_unix` (when init
/// reports it) while it runs.
pub fn service_uptime(s: &ServiceStatus) -> String {
    match (s.state, s.started_at_unix) {
        (ServiceState::Running, Some(t)) => html::duration(now_unix().saturating_sub(t)),
        _ => "-".into(),
    }
}

/// Memory in use, when it is known.
pub fn memory(bytes: Option<u64>) -> String {
    bytes.map(html::bytes).unwrap_or_else(|| "-".into())
}

fn state_cell(state: &str) -> String {
    format!("<span class=\"{s}\">{s}</span>", s = esc(state))
}

fn services_table(state: &AppState, services: &[ServiceStatus]) -> String {
    let mut out = String::from(
        "<h2>Services</h2><table id=\"services\"><tr><th>name</th><th>state</th><th>up</th>\
<th>restarts</th><th>last exit</th><th>memory</th><th></th></tr>",
    );
    for s in services {
        let base = format!("/services/{}", segment(&s.name));
        out.push_str(&format!(
            "<tr data-name=\"{n}\"><td><a href=\"{b}\">{n}</a></td><td>{st}</td><td>{up}</td><td>{r}</td>\
<td>{last}</td><td>{mem}</td><td>{act}</td></tr>",
            n = esc(&s.name),
            b = esc(&base),
            st = state_cell(s.state.as_str()),
            up = service_uptime(s),
            r = s.restarts,
            last = opt(s.last_exit.as_deref()),
            mem = memory(s.memory_bytes),
            act = html::actions(&base, "/", &state.csrf_token),
        ));
    }
    out.push_str("</table>");
    out
}

/// The short form of `sha256:…` digests.
pub fn short_digest(d: &str) -> String {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    hex.chars().take(12).collect()
}

fn containers_table(
    state: &AppState,
    containers: Option<&[ContainerStatus]>,
    error: Option<&str>,
) -> String {
    let mut out = String::from("<h2>Containers</h2>");
    let Some(containers) = containers else {
        out.push_str(&format!(
            "<p class=\"failed\">{}</p>",
            esc(error.unwrap_or("unavailable"))
        ));
        return out;
    };
    out.push_str(
        "<table id=\"containers\"><tr><th>name</th><th>state</th><th>started</th><th>restarts</th>\
<th>last exit</th><th>memory</th><th>image</th><th></th></tr>",
    );
    for c in containers {
        let base = format!("/containers/{}", segment(&c.name));
        let last = match (c.last_exit_code, c.last_error.as_deref()) {
            (_, Some(e)) => esc(e),
            (Some(code), None) => format!("exit code {code}"),
            (None, None) => "-".into(),
        };
        out.push_str(&format!(
            "<tr data-name=\"{n}\"><td><a href=\"{b}\">{n}</a></td><td>{st}</td><td>{started}</td><td>{r}</td>\
<td>{last}</td><td>{mem}</td><td>{img}<br><code>{dig}</code></td><td>{act}</td></tr>",
            n = esc(&c.name),
            b = esc(&base),
            st = state_cell(c.state.as_str()),
            started = opt(c.started_at.as_deref()),
            r = c.restarts,
            mem = memory(c.memory_bytes),
            img = esc(&c.image),
            dig = esc(&short_digest(c.image_digest.as_deref().unwrap_or("-"))),
            act = html::actions(&base, "/", &state.csrf_token),
        ));
    }
    out.push_str("</table>");
    out
}
