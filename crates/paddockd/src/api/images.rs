//! Image routes: list, pull, remove, prune.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request};
use paddock_wire::api::images::ImageRequest;

use super::respond::{json, read_json, ApiError, ApiResult};
use crate::store::normalize_reference;
use crate::supervisor::Supervisor;

/// Whether two references name the same image (`busybox` and
/// `docker.io/library/busybox:latest` do).
fn same_reference(a: &str, b: &str) -> bool {
    match (normalize_reference(a), normalize_reference(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

pub async fn route(sup: &Arc<Supervisor>, req: Request<Incoming>, rest: &[&str]) -> ApiResult {
    let store = sup.store();
    match (req.method().clone(), rest) {
        (Method::GET, [] | [""]) => store.images().map(|i| json(&i)).map_err(ApiError::from),
        (Method::POST, ["pull"]) => {
            let body: ImageRequest = read_json(req).await?;
            sup.shared()
                .pull(&body.reference)
                .await
                .map(|i| json(&i))
                .map_err(ApiError::from)
        }
        (Method::POST, ["remove"]) => {
            let body: ImageRequest = read_json(req).await?;
            let in_use = sup.list().iter().any(|c| {
                same_reference(&c.image, &body.reference)
                    && c.state != paddock_wire::api::status::State::Invalid
            });
            if in_use {
                return Err(ApiError::BadRequest(format!(
                    "image {} is used by a declared container",
                    body.reference
                )));
            }
            store
                .remove_image(&body.reference)
                .map(|r| json(&r))
                .map_err(ApiError::from)
        }
        (Method::POST, ["prune"]) => {
            let keep: Vec<String> = sup
                .list()
                .into_iter()
                .map(|c| c.image)
                .filter(|i| !i.is_empty())
                .collect();
            store
                .prune(&keep)
                .await
                .map(|r| json(&r))
                .map_err(ApiError::from)
        }
        (m, _) => Err(ApiError::NotFound(format!(
            "no route for {m} /v1/images/{}",
            rest.join("/")
        ))),
    }
}
