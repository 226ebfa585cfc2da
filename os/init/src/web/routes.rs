//! The route table (docs/device-api.md) and the layers every route sits
//! behind: private peers only, then Basic auth, then CSRF protection.

use axum::middleware;
use axum::routing::{any, get, post};
use axum::Router;

use super::state::AppState;
use super::{auth, containers, csrf, logs, overview, peer, power, proxy, services};

pub fn router(state: AppState) -> Router {
    let app = Router::new()
        .route("/", get(overview::page))
        .route("/services/{name}", get(services::page))
        .route("/services/{name}/logs", get(logs::service))
        .route("/services/{name}/{action}", post(services::action))
        .route("/containers/{name}", get(containers::page))
        .route("/containers/{name}/logs", get(logs::container))
        .route("/containers/{name}/{action}", post(containers::action))
        .route("/reboot", post(power::reboot))
        .route("/poweroff", post(power::poweroff))
        .route("/api/v1/{*rest}", any(proxy::api));
    // U nests /update here: `.nest("/update", crate::update::router())`
    // (behind the same layers).
    app.layer(middleware::from_fn_with_state(state.clone(), csrf::protect))
        .layer(middleware::from_fn_with_state(state.clone(), auth::require))
        .layer(middleware::from_fn(peer::require_private))
        .with_state(state)
}
