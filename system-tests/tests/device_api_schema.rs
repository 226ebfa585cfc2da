//! The device API's real answers against its OpenAPI document,
//! docs/device-api.yaml (`paddock_testkit::openapi`): every answer's body is
//! validated against the schema the document gives for its method, path,
//! status and media type, and an answer the document does not describe
//! fails the test, as does a documented JSON operation never seen answer.
//!
//! - A real paddock-init (`--no-pid1 --web-listen`) with busybox services
//!   next to a real paddockd with a real container pulled from a real
//!   registry, over real HTTP: pages as JSON (and HTML), service and
//!   container actions, `/api/v1/…` through the proxy, 401/403/404s,
//!   `/reboot` and `/poweroff`. Its `/update/*` routes answer too, but on
//!   the host they find no `paddock.slot=` on the kernel command line and
//!   no ESP: their errors are checked here.
//! - The real `/update` routes (`paddock_init::update::router_with`) served
//!   over HTTP on a staged disk (partitions as files, the ESP a directory,
//!   as os/init/tests/update_routes.rs stages it): status, uploads, switch.
//!   The real disk is exercised in the VM (tests/vm_update.rs).

use paddock_testkit as support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use paddock_init::update::{router_with, Device, Esp, UpdateState};
use paddock_wire::system::Service;
use paddock_wire::update::{Piece, Pieces, UpdateStatement, STATEMENT_KIND};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::device::TestInit;
use support::http::{Reply, Request};
use support::instance::{bin, push_busybox, Instance};
use support::openapi::{OpenApi, Operation};
use support::registry::{free_port, TestRegistry};
use support::staged_disk::{self, StagedDisk};

const PASSWORD: &str = "device-api-schema-password";

fn authorization(password: &str) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("paddock:{password}"));
    format!("Basic {enc}")
}

/// The document, and the server whose answers it checks.
struct Api<'a> {
    doc: &'a OpenApi,
    addr: SocketAddr,
}

impl Api<'_> {
    /// `req` with the password, checked against the document; the answer
    /// must have status `want`. Returns its body (JSON, or text as a JSON
    /// string).
    fn call(&self, req: Request, want: u16) -> Value {
        let req = req.with_header("Authorization", &authorization(PASSWORD));
        self.check(req, want)
    }

    /// `req` as it is (no password added).
    fn check(&self, req: Request, want: u16) -> Value {
        let reply = req.tcp(self.addr);
        let body = self.doc.check(&req.method, &req.path, &reply);
        assert_eq!(
            reply.status,
            want,
            "{} {}: {}",
            req.method,
            req.path,
            reply.text()
        );
        body
    }

    fn json(&self, method: &str, path: &str, want: u16) -> Value {
        self.call(
            Request::new(method, path).with_header("Accept", "application/json"),
            want,
        )
    }

    fn raw(&self, req: Request) -> Reply {
        req.with_header("Authorization", &authorization(PASSWORD))
            .tcp(self.addr)
    }
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn services() -> Value {
    let sh = |name: &str, script: &str| {
        Service::new(name, "/bin/busybox").with_args(["sh", "-c", script])
    };
    let mut lazy = sh("lazy", "exec sleep 1000");
    lazy.dont_start = true;
    let mut clocked = sh("clocked", "exec sleep 1000");
    clocked.wait_for_clock = true;
    serde_json::to_value(vec![
        sh("greeter", "echo greeter up; exec sleep 1000"),
        sh("crashy", "echo crashing; exit 3"),
        lazy,
        clocked,
    ])
    .unwrap()
}

/// An answer to a path the document does not have: the server's `Error`,
/// and the checker refuses it naming method and path.
fn undocumented(api: &Api<'_>, method: &str, path: &str, want: u16) {
    let reply = api.raw(Request::new(method, path).with_header("Accept", "application/json"));
    assert_eq!(reply.status, want, "{method} {path}: {}", reply.text());
    let body = reply.json();
    api.doc.check_component("Error", &body);
    let refused = api
        .doc
        .validate(method, path, reply.status, Some("application/json"), &body)
        .expect_err("an undocumented route must not pass")
        .to_string();
    assert!(
        refused.starts_with(&format!("{method} {path}: no path template")),
        "{refused}"
    );
}

#[test]
fn init_and_paddockd_answer_as_documented() {
    let doc = OpenApi::repo_doc("device-api.yaml");
    let registry = TestRegistry::start();
    let mut inst = Instance::new(&[registry.host_port()]);
    let image = push_busybox(
        &registry.host_port(),
        "device-schema/busybox:1",
        inst.root(),
    );
    let extra = push_busybox(&registry.host_port(), "device-schema/extra:1", inst.root());
    inst.write_manifest(
        "web.yaml",
        &format!(
            "name: web\nimage: {image}\nnetwork: none\n\
             command: [sh, -c, 'trap \"exit 0\" TERM; echo web up; while true; do sleep 1; done']\n"
        ),
    );
    inst.start();
    inst.wait_state("web", "running");
    let port = free_port();
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    // Dropped before `inst`: init goes before paddockd and its containers.
    let init = TestInit::start_in(
        &bin("paddock-init"),
        Some(inst.root()),
        services(),
        Some((port, hash.clone())),
    );
    let api = Api {
        doc: &doc,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
    };

    // Without the password, or with a wrong one: 401.
    let e = api.check(
        Request::new("GET", "/").with_header("Accept", "application/json"),
        401,
    );
    assert_eq!(e["error"], "authentication required");
    api.check(
        Request::new("POST", "/containers/web/restart")
            .with_header("Authorization", &authorization("wrong")),
        401,
    );
    api.check(Request::new("GET", "/api/v1/containers"), 401);

    // The overview, as JSON and as HTML.
    wait_until("greeter running", Duration::from_secs(10), || {
        api.json("GET", "/services/greeter", 200)["service"]["state"] == "running"
    });
    let overview = api.json("GET", "/", 200);
    assert!(overview["containers_error"].is_null(), "{overview}");
    assert!(overview["containers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "web" && c["state"] == "running"));
    let states: Vec<&str> = overview["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 4, "{overview}");
    let html = api.call(
        Request::new("GET", "/").with_header("Accept", "text/html"),
        200,
    );
    assert!(html.as_str().unwrap().contains("greeter"));

    // Services: a page, actions, a missing one, an unknown action.
    wait_until("greeter's output", Duration::from_secs(10), || {
        api.json("GET", "/services/greeter", 200)["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("greeter up"))
    });
    let lazy = api.json("GET", "/services/lazy", 200);
    assert_eq!(lazy["service"]["state"], "stopped", "{lazy}");
    api.json("GET", "/services/crashy", 200);
    api.json("GET", "/services/clocked", 200);
    let started = api.json("POST", "/services/lazy/start", 200);
    assert_eq!(started["name"], "lazy", "{started}");
    api.json("POST", "/services/lazy/stop", 200);
    api.json("POST", "/services/greeter/restart", 200);
    api.json("GET", "/services/nope", 404);
    api.json("POST", "/services/nope/start", 404);
    undocumented(&api, "POST", "/services/greeter/explode", 404);

    // Containers: the page as JSON, actions, a missing one.
    let web = api.json("GET", "/containers/web", 200);
    assert_eq!(web["state"], "running", "{web}");
    let stopped = api.json("POST", "/containers/web/stop", 200);
    assert_eq!(stopped["name"], "web", "{stopped}");
    inst.wait_state("web", "stopped");
    api.json("GET", "/containers/web", 200);
    api.json("POST", "/containers/web/start", 200);
    let before = inst.wait_state("web", "running")["restarts"]
        .as_u64()
        .unwrap();
    api.json("POST", "/containers/web/restart", 200);
    inst.wait_for(Duration::from_secs(60), "web restarted", || {
        inst.container("web")
            .filter(|c| c["state"] == "running" && c["restarts"].as_u64().unwrap() > before)
    });
    let missing = api.json("GET", "/containers/nope", 404);
    assert!(
        missing["error"].as_str().unwrap().starts_with("paddockd: "),
        "{missing}"
    );
    api.json("POST", "/containers/nope/restart", 404);
    undocumented(&api, "POST", "/containers/web/explode", 404);
    // An HTML form: 303 back to the page.
    let before = inst.container("web").unwrap()["restarts"].as_u64().unwrap();
    api.call(
        Request::new("POST", "/containers/web/restart").with_header("Accept", "text/html"),
        303,
    );
    inst.wait_for(Duration::from_secs(60), "web restarted", || {
        inst.container("web")
            .filter(|c| c["state"] == "running" && c["restarts"].as_u64().unwrap() > before)
    });
    // A cross-site request: 403.
    api.call(
        Request::new("POST", "/containers/web/restart")
            .with_header("Origin", "http://evil.example"),
        403,
    );

    // paddockd's API through the proxy.
    api.json("GET", "/api/v1/status", 200);
    let list = api.json("GET", "/api/v1/containers", 200);
    assert!(list.as_array().unwrap().iter().any(|c| c["name"] == "web"));
    api.json("GET", "/api/v1/containers/web", 200);
    api.json("GET", "/api/v1/containers/nope", 404);
    // Each action once the one before has settled, as a client polls (a
    // restart while the start before it is still under way is not what
    // this test is about).
    api.json("POST", "/api/v1/containers/web/stop", 200);
    inst.wait_state("web", "stopped");
    api.json("POST", "/api/v1/containers/web/start", 200);
    let before = inst.wait_state("web", "running")["restarts"]
        .as_u64()
        .unwrap();
    api.json("POST", "/api/v1/containers/web/restart", 200);
    inst.wait_for(Duration::from_secs(60), "web restarted", || {
        inst.container("web")
            .filter(|c| c["state"] == "running" && c["restarts"].as_u64().unwrap() > before)
    });
    let report = api.json("POST", "/api/v1/apply", 200);
    assert_eq!(report["unchanged"], json!(["web"]), "{report}");
    let images = api.json("GET", "/api/v1/images", 200);
    assert_eq!(images.as_array().unwrap().len(), 1, "{images}");
    let pulled = api.call(
        Request::new("POST", "/api/v1/images/pull").with_json(&json!({"reference": extra})),
        200,
    );
    assert_eq!(pulled["reference"], extra, "{pulled}");
    api.call(
        Request::new("POST", "/api/v1/images/pull").with_json(&json!({"reference": format!(
            "{}/device-schema/missing:1",
            registry.host_port()
        )})),
        404,
    );
    api.call(
        Request::new("POST", "/api/v1/images/remove").with_json(&json!({"reference": image})),
        400,
    );
    let pruned = api.json("POST", "/api/v1/images/prune", 200);
    assert_eq!(pruned["images_removed"], json!([extra]), "{pruned}");
    let removed = api.call(
        Request::new("POST", "/api/v1/images/remove").with_json(&json!({"reference": extra})),
        200,
    );
    assert_eq!(removed, json!(false));

    // The update routes of a host without a paddock disk: their errors.
    let status = api.json("GET", "/update/status", 500);
    assert!(
        status["error"].as_str().unwrap().contains("paddock.slot"),
        "{status}"
    );
    api.call(Request::new("PUT", "/update/root").with_body("x"), 500);
    // No update key in this root: every statement is refused.
    api.call(
        Request::new("PUT", "/update/statement")
            .with_header("X-Paddock-Signature", "x")
            .with_body("{}"),
        503,
    );
    api.call(
        Request::new("PUT", "/update/boot/grub")
            .with_header("X-Paddock-Sha256", &hex::encode(Sha256::digest(b"x")))
            .with_body("x"),
        400,
    );
    api.call(Request::new("POST", "/update/switch").with_body("{"), 400);

    // The device goes down (not PID 1: init stops its services and exits).
    let other_port = free_port();
    let other = TestInit::start_in(
        &bin("paddock-init"),
        None,
        json!([]),
        Some((other_port, hash)),
    );
    let other_api = Api {
        doc: &doc,
        addr: format!("127.0.0.1:{other_port}").parse().unwrap(),
    };
    assert_eq!(other_api.json("POST", "/reboot", 200), json!({}));
    assert_eq!(api.json("POST", "/poweroff", 200), json!({}));
    drop(other);
    drop(init);

    doc.assert_all_checked(|op: &Operation| !op.template.starts_with("/update/"));
}

/// The staged disk (paddock_testkit::staged_disk), an ESP directory with one
/// entry per slot, and build.json and system.json.
fn staged_device(
    dir: &std::path::Path,
    running: char,
) -> (Device, PathBuf, paddock_trust::SigningKey) {
    let staged = staged_disk::stage_device(
        dir,
        running,
        &["paddock-00000002-a.conf", "paddock-00000001-b+1-1.conf"],
        r#"{"version":"v1","generation":1,"build_time":"2026-01-01T00:00:00Z"}"#,
    );
    let StagedDisk { sys, dev } = staged.disk;
    let esp = staged.esp;
    let device = Device {
        cmdline: staged.cmdline,
        sys_block: sys.join("class/block"),
        dev,
        esp: Esp::Dir(esp.clone()),
        build_json: staged.build_json,
        system_json: staged.system_json,
        update_key: staged.update_pub,
        marked_good: staged.marked_good,
    };
    (device, esp, staged.update_key)
}

/// The real `/update` routes for `device`, nested at `/update` as the web
/// server nests them, served over HTTP on a loopback port until dropped
/// (without the web server's auth layers: `Api::call`'s password is not
/// looked at).
struct UpdateServer {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl UpdateServer {
    fn start(device: Device) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let app = axum::Router::new().nest("/update", router_with(UpdateState::new(device)));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            _runtime: runtime,
        }
    }
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn put(path: &str, body: &[u8], sha256: &str) -> Request {
    Request::new("PUT", path)
        .with_header("X-Paddock-Sha256", sha256)
        .with_body(body)
}

#[test]
fn update_routes_on_a_staged_disk_answer_as_documented() {
    let doc = OpenApi::repo_doc("device-api.yaml");
    let dir = tempfile::tempdir().unwrap();
    let (device, esp, key) = staged_device(dir.path(), 'a');
    let server = UpdateServer::start(device);
    let api = Api {
        doc: &doc,
        addr: server.addr,
    };

    let status = api.json("GET", "/update/status", 200);
    assert_eq!(status["verified"], json!({}), "{status}");
    assert_eq!(status["kernel"], Value::Null, "{status}");
    let states: Vec<&str> = status["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["good", "probation"], "{status}");

    // Refusals: nothing signed yet, a bad signature, an old generation, a
    // wrong hash, too big, a bad name.
    api.json("POST", "/update/switch", 409);
    let root: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    api.call(put("/update/root", &root, &sha(&root)), 409);
    let piece = |data: &[u8]| Piece {
        sha256: sha(data),
        bytes: data.len() as u64,
    };
    let statement = |generation: u64| UpdateStatement {
        kind: STATEMENT_KIND.into(),
        instance: "t".into(),
        version: format!("v{generation}"),
        generation,
        root_key: key.public().fingerprint(),
        pieces: Pieces {
            root: piece(&root),
            vmlinuz: piece(b"kernel v2"),
            initrd: piece(b"initrd v2"),
        },
        verity: None,
    };
    let signed = |st: &UpdateStatement, key: &paddock_trust::SigningKey| {
        let (bytes, sig) = paddock_trust::sign_statement(key, st).unwrap();
        Request::new("PUT", "/update/statement")
            .with_header("X-Paddock-Signature", &sig)
            .with_header("Content-Type", "application/json")
            .with_body(bytes)
    };
    let (other, _) = paddock_trust::SigningKey::generate().unwrap();
    api.call(signed(&statement(2), &other), 403);
    api.call(
        Request::new("PUT", "/update/statement")
            .with_json(&serde_json::to_value(statement(2)).unwrap()),
        400,
    );
    api.call(signed(&statement(1), &key), 409);
    api.call(
        Request::new("PUT", "/update/statement")
            .with_header("X-Paddock-Signature", "x")
            .with_body(vec![b' '; 70_000]),
        413,
    );
    let accepted = api.call(signed(&statement(2), &key), 200);
    assert_eq!(accepted, json!({"version": "v2", "generation": 2}));
    api.call(put("/update/root", &root, &sha(b"other")), 400);
    let big = vec![7u8; (1 << 20) + 1];
    api.call(
        signed(
            &UpdateStatement {
                pieces: Pieces {
                    root: piece(&big),
                    ..statement(2).pieces
                },
                verity: None,
                ..statement(2)
            },
            &key,
        ),
        200,
    );
    api.call(put("/update/root", &big, &sha(&big)), 413);
    api.call(signed(&statement(2), &key), 200);
    api.call(put("/update/boot/grub", b"x", &sha(b"x")), 400);
    api.call(
        Request::new("PUT", "/update/boot/initrd").with_body(vec![0u8; 4096]),
        400,
    );

    // The three pieces, each verified, and the status showing them.
    let written = api.call(put("/update/root", &root, &sha(&root)), 200);
    assert_eq!(written, json!({"sha256": sha(&root), "bytes": root.len()}));
    let status = api.json("GET", "/update/status", 200);
    assert_eq!(
        status["verified"],
        json!({"statement": accepted, "root": written}),
        "{status}"
    );
    api.json("POST", "/update/switch", 409);
    for (name, data) in [
        ("vmlinuz", &b"kernel v2"[..]),
        ("initrd", &b"initrd v2"[..]),
    ] {
        let w = api.call(put(&format!("/update/boot/{name}"), data, &sha(data)), 200);
        assert_eq!(w["sha256"], sha(data));
    }
    let status = api.json("GET", "/update/status", 200);
    let verified = status["verified"].as_object().unwrap();
    assert_eq!(verified.len(), 4, "{status}");

    // A `version` that is not a string is refused, then the switch.
    api.call(
        Request::new("POST", "/update/switch").with_json(&json!({"version": 2})),
        400,
    );
    let switched = api.call(
        Request::new("POST", "/update/switch")
            .with_json(&json!({"version": "v2", "ignored": true})),
        200,
    );
    assert_eq!(switched["entry"], "paddock-00000003-b+3.conf", "{switched}");
    assert!(esp
        .join("loader/entries/paddock-00000003-b+3.conf")
        .is_file());
    let status = api.json("GET", "/update/status", 200);
    assert_eq!(status["verified"], json!({}), "{status}");
    assert_eq!(status["entries"][0]["state"], "probation", "{status}");

    doc.assert_all_checked(|op: &Operation| op.template.starts_with("/update/"));
}
