//! paddockd's real answers against its OpenAPI document,
//! docs/paddockd-api.yaml: a real paddockd with a real registry and real
//! busybox containers, every JSON operation of the document called on the
//! unix socket, and every answer (errors included) validated against the
//! schema the document gives for its method, path, status and media type
//! (`paddock_testkit::openapi`). An answer the document does not describe
//! fails the test, and so does a documented JSON operation the test never
//! saw answer.

use paddock_testkit as support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use support::http::{Reply, Request};
use support::instance::{push_busybox, Instance};
use support::openapi::OpenApi;
use support::registry::{free_port, TestRegistry};

/// The document, and the paddockd it checks.
struct Api {
    doc: OpenApi,
    socket: PathBuf,
}

impl Api {
    fn send(&self, req: Request) -> Reply {
        req.unix(&self.socket)
    }

    /// `method path` (with a JSON body if given), checked against the
    /// document; the answer must have status `want`. Returns its body.
    fn call(&self, method: &str, path: &str, body: Option<Value>, want: u16) -> Value {
        let mut req = Request::new(method, path);
        if let Some(b) = &body {
            req = req.with_json(b);
        }
        let reply = self.send(req);
        let value = self.doc.check(method, path, &reply);
        assert_eq!(reply.status, want, "{method} {path}: {}", reply.text());
        value
    }
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_json_route_answers_as_documented() {
    let registry = TestRegistry::start();
    // Listed as insecure so the pull fails for being unreachable, not for
    // being plain HTTP.
    let dead_registry = format!("127.0.0.1:{}", free_port());
    let mut inst = Instance::new(&[registry.host_port(), dead_registry.clone()]);
    let image = push_busybox(&registry.host_port(), "schema/busybox:1", inst.root());
    let extra = push_busybox(&registry.host_port(), "schema/extra:1", inst.root());
    inst.write_manifest(
        "web.yaml",
        &format!(
            "name: web\nimage: {image}\nnetwork: none\n\
             command: [sh, -c, 'trap \"exit 0\" TERM; echo web up; while true; do sleep 1; done']\n\
             volumes:\n  - /perm/data:/data\n  - /perm/conf:/etc/app:ro\n\
             healthcheck:\n  test: [CMD, 'true']\n  interval: 200ms\n"
        ),
    );
    // A manifest with an error: listed as `invalid`.
    inst.write_manifest(
        "broken.yaml",
        &format!("name: broken\nimage: {image}\nrestart: sometimes\n"),
    );
    inst.start();
    inst.wait_for(Duration::from_secs(60), "web running and healthy", || {
        inst.container("web")
            .filter(|c| c["state"] == "running" && c["health"] == "healthy")
    });
    let api = Api {
        doc: OpenApi::repo_doc("paddockd-api.yaml"),
        socket: inst.root().join("run/paddock/paddockd.sock"),
    };

    // The daemon.
    let status = api.call("GET", "/v1/status", None, 200);
    assert_eq!(status["containers"], 2, "{status}");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));

    // Containers: the list, one running, one invalid, one that is not there.
    let list = api.call("GET", "/v1/containers", None, 200);
    let mut got = names(&list);
    got.sort();
    assert_eq!(got, ["broken", "web"]);
    let web = api.call("GET", "/v1/containers/web", None, 200);
    assert_eq!(web["state"], "running", "{web}");
    assert_eq!(web["health"], "healthy", "{web}");
    assert_eq!(web["volumes"].as_array().unwrap().len(), 2, "{web}");
    assert!(web["memory_bytes"].as_u64().is_some(), "{web}");
    let broken = api.call("GET", "/v1/containers/broken", None, 200);
    assert_eq!(broken["state"], "invalid", "{broken}");
    assert!(broken["last_error"].is_string(), "{broken}");
    let missing = api.call("GET", "/v1/containers/nope", None, 404);
    assert!(
        missing["error"].as_str().unwrap().contains("nope"),
        "{missing}"
    );

    // The log (text/plain), and exec's JSON errors (its 101 carries no JSON).
    inst.wait_for(Duration::from_secs(10), "web's first log line", || {
        inst.logs("web").contains("web up").then_some(())
    });
    let logs = api.call("GET", "/v1/containers/web/logs?tail=5", None, 200);
    assert!(logs.as_str().unwrap().contains("stdout web up"), "{logs}");
    api.call("GET", "/v1/containers/nope/logs", None, 404);
    let empty = api.call(
        "POST",
        "/v1/containers/web/exec",
        Some(json!({"cmd": []})),
        400,
    );
    assert!(empty["error"].as_str().unwrap().contains("cmd"), "{empty}");

    // Actions: each answers the status right after it.
    let stopped = api.call("POST", "/v1/containers/web/stop", None, 200);
    assert_eq!(stopped["name"], "web");
    inst.wait_state("web", "stopped");
    let web = api.call("GET", "/v1/containers/web", None, 200);
    assert!(
        web["pid"].is_null() && web["memory_bytes"].is_null(),
        "{web}"
    );
    assert!(web["finished_at"].is_string(), "{web}");
    api.call(
        "POST",
        "/v1/containers/web/exec",
        Some(json!({"cmd": ["true"]})),
        400,
    );
    api.call("POST", "/v1/containers/web/start", None, 200);
    inst.wait_state("web", "running");
    let before = inst.container("web").unwrap()["restarts"].as_u64().unwrap();
    api.call("POST", "/v1/containers/web/restart", None, 200);
    inst.wait_for(Duration::from_secs(60), "web restarted", || {
        inst.container("web")
            .filter(|c| c["state"] == "running" && c["restarts"].as_u64().unwrap() > before)
    });
    for action in ["start", "stop", "restart"] {
        api.call("POST", &format!("/v1/containers/nope/{action}"), None, 404);
    }

    // Routes the document does not have: paddockd answers its 404 `Error`
    // (described in the document's prose), and the checker refuses them by
    // method and path.
    for (method, path) in [("GET", "/v1/nope"), ("POST", "/v1/status")] {
        let reply = api.send(Request::new(method, path));
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.text());
        let body = reply.json();
        assert_eq!(
            body["error"],
            format!("no route for {method} {path}"),
            "{body}"
        );
        api.doc.check_component("Error", &body);
        let refused = api
            .doc
            .validate(method, path, 404, Some("application/json"), &body)
            .expect_err("an undocumented route must not pass")
            .to_string();
        assert!(
            refused.starts_with(&format!("{method} {path}: ")),
            "{refused}"
        );
    }

    // Apply: a new manifest is started, the broken one's removal removes it.
    inst.write_manifest(
        "second.yaml",
        &format!("name: second\nimage: {image}\nnetwork: none\ncommand: [sleep, '1000']\n"),
    );
    inst.remove_manifest("broken.yaml");
    let report = api.call("POST", "/v1/apply", None, 200);
    assert_eq!(report["started"], json!(["second"]), "{report}");
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    inst.wait_state("second", "running");

    // Images: list, pull, refused removal, prune, removal.
    let images = api.call("GET", "/v1/images", None, 200);
    assert_eq!(images.as_array().unwrap().len(), 1, "{images}");
    let pulled = api.call(
        "POST",
        "/v1/images/pull",
        Some(json!({"reference": extra})),
        200,
    );
    assert_eq!(pulled["reference"], extra, "{pulled}");
    let images = api.call("GET", "/v1/images", None, 200);
    assert_eq!(images.as_array().unwrap().len(), 2, "{images}");
    let in_use = api.call(
        "POST",
        "/v1/images/remove",
        Some(json!({"reference": image})),
        400,
    );
    assert!(
        in_use["error"].as_str().unwrap().contains("used by"),
        "{in_use}"
    );
    api.call("POST", "/v1/images/remove", Some(json!({})), 400);
    api.call("POST", "/v1/images/pull", Some(json!({"ref": "x"})), 400);
    // A tag the registry does not have, and a registry that is not there.
    let unknown = format!("{}/schema/missing:1", registry.host_port());
    api.call(
        "POST",
        "/v1/images/pull",
        Some(json!({"reference": unknown})),
        404,
    );
    api.call(
        "POST",
        "/v1/images/pull",
        Some(json!({"reference": format!("{dead_registry}/schema/busybox:1")})),
        502,
    );
    let pruned = api.call("POST", "/v1/images/prune", None, 200);
    assert_eq!(pruned["images_removed"], json!([extra]), "{pruned}");
    let gone = api.call(
        "POST",
        "/v1/images/remove",
        Some(json!({"reference": extra})),
        200,
    );
    assert_eq!(gone, json!(false));
    api.call(
        "POST",
        "/v1/images/pull",
        Some(json!({"reference": extra})),
        200,
    );
    let removed = api.call(
        "POST",
        "/v1/images/remove",
        Some(json!({"reference": extra})),
        200,
    );
    assert_eq!(removed, json!(true));

    api.doc.assert_all_checked(|_| true);
}
