//! A stand-in for the device's web server (init's, written in os/init/src/web)
//! for testing the `paddock --host` client before both meet in the VM: the
//! few routes the client uses, with HTTP Basic auth, backed by real parts —
//! a real `paddock-init --no-pid1` (its control socket) for services and a
//! real paddockd (its API socket, proxied under `/api`, the exec upgrade
//! included) for containers. It implements nothing of its own beyond
//! translating routes. [`has_web_server`] tells whether the paddock-init
//! at hand serves the real thing (`--web-listen`), which tests then prefer.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, UPGRADE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::instance::bin;

type Body = BoxBody<Bytes, std::io::Error>;

/// `paddock-init --no-pid1` with `services` (JSON service objects of
/// system.json), on its own temporary root or on `root` (where paddockd
/// runs, so init's web server finds its socket); stopped by pid on drop.
pub struct TestInit {
    pub root: PathBuf,
    _temp: Option<tempfile::TempDir>,
    child: Option<Child>,
}

/// Whether this paddock-init serves the device's web UI (`--web-listen`).
pub fn has_web_server(init: &Path) -> bool {
    Command::new(init)
        .arg("--help")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("--web-listen"))
        .unwrap_or(false)
}

impl TestInit {
    pub fn start(services: Value) -> Self {
        Self::start_in(&bin("paddock-init"), None, services, None)
    }

    /// `web`: serve the web UI on 127.0.0.1:PORT with this bcrypt hash.
    pub fn start_in(
        init: &Path,
        root: Option<&Path>,
        services: Value,
        web: Option<(u16, String)>,
    ) -> Self {
        let temp = root.is_none().then(|| tempfile::tempdir().unwrap());
        let root = root
            .map(Path::to_path_buf)
            .unwrap_or_else(|| temp.as_ref().unwrap().path().to_path_buf());
        std::fs::create_dir_all(root.join("etc/paddock")).unwrap();
        let mut config = json!({"hostname": "test", "services": services});
        if let Some((_, hash)) = &web {
            config["update_password_hash"] = json!(hash);
        }
        std::fs::write(root.join("etc/paddock/system.json"), config.to_string()).unwrap();
        let mut cmd = Command::new(init);
        cmd.args(["--no-pid1", "--root"]).arg(&root).args([
            "--grace-ms",
            "500",
            "--backoff-ms",
            "100",
        ]);
        if let Some((port, _)) = &web {
            cmd.arg("--web-listen").arg(format!("127.0.0.1:{port}"));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let init = Self {
            root,
            _temp: temp,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !init.socket().exists()
            || web.as_ref().is_some_and(|(port, _)| {
                std::net::TcpStream::connect(("127.0.0.1", *port)).is_err()
            })
        {
            assert!(Instant::now() < deadline, "paddock-init never came up");
            std::thread::sleep(Duration::from_millis(20));
        }
        init
    }

    pub fn socket(&self) -> PathBuf {
        self.root.join("run/paddock/init.sock")
    }
}

impl Drop for TestInit {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One request to init's control socket (the protocol of os/README.md).
pub fn control(socket: &Path, request: &Value) -> Value {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    (&stream)
        .write_all(format!("{request}\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

struct State {
    password: String,
    init: PathBuf,
    paddockd: PathBuf,
}

/// The stand-in server on 127.0.0.1 (its own runtime, stopped on drop).
pub struct DeviceServer {
    pub port: u16,
    runtime: Option<tokio::runtime::Runtime>,
}

impl DeviceServer {
    pub fn start(password: &str, init_socket: &Path, paddockd_socket: &Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            password: password.to_string(),
            init: init_socket.to_path_buf(),
            paddockd: paddockd_socket.to_path_buf(),
        });
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(route(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Self {
            port,
            runtime: Some(runtime),
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for DeviceServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn full(status: StatusCode, body: Value) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn authorized(state: &State, req: &Request<Incoming>) -> bool {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return false;
    };
    let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token) else {
        return false;
    };
    let text = String::from_utf8_lossy(&decoded);
    // Any user name; the password decides.
    text.split_once(':')
        .is_some_and(|(_, password)| password == state.password)
}

async fn route(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    if !authorized(state, &req) {
        let mut r = full(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
        r.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"paddock\""),
        );
        return r;
    }
    let path = req.uri().path().to_string();
    if path.starts_with("/api/v1/") {
        return proxy(state, req).await;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let init = state.init.clone();
    let ctl = move |request: Value| {
        let init = init.clone();
        async move {
            tokio::task::spawn_blocking(move || control(&init, &request))
                .await
                .unwrap()
        }
    };
    match (req.method().clone(), segments.as_slice()) {
        (Method::GET, [""]) => {
            let list = ctl(json!({"op": "list"})).await;
            full(
                StatusCode::OK,
                json!({"services": list["services"], "containers": null}),
            )
        }
        (Method::GET, ["services", name]) => {
            let list = ctl(json!({"op": "list"})).await;
            let Some(service) = list["services"]
                .as_array()
                .and_then(|l| l.iter().find(|s| s["name"] == *name).cloned())
            else {
                return not_found(name);
            };
            let logs = ctl(json!({"op": "logs", "name": name})).await;
            full(
                StatusCode::OK,
                json!({"service": service, "logs": logs["lines"]}),
            )
        }
        (Method::GET, ["services", name, "logs"]) => service_events(ctl, name.to_string()),
        (Method::POST, ["services", name, action @ ("start" | "stop" | "restart")]) => {
            let r = ctl(json!({"op": action, "name": name})).await;
            if r["ok"] == true {
                full(StatusCode::OK, r["service"].clone())
            } else {
                not_found(name)
            }
        }
        _ => full(StatusCode::NOT_FOUND, json!({"error": "no such page"})),
    }
}

fn not_found(name: &str) -> Response<Body> {
    full(
        StatusCode::NOT_FOUND,
        json!({"error": format!("no service named {name:?}")}),
    )
}

/// Server-sent events: the kept lines, then new ones (polled) as they come.
fn service_events<F, Fut>(ctl: F, name: String) -> Response<Body>
where
    F: Fn(Value) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Value> + Send,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let mut sent = 0;
        loop {
            let lines = ctl(json!({"op": "logs", "name": name})).await;
            let lines = lines["lines"].as_array().cloned().unwrap_or_default();
            for line in lines.iter().skip(sent) {
                let event = format!("data: {}\n\n", line.as_str().unwrap_or_default());
                if tx.send(Bytes::from(event)).await.is_err() {
                    return;
                }
            }
            sent = sent.max(lines.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r
}

/// `/api/v1/…` → paddockd's `/v1/…` on its unix socket; an upgrade (exec)
/// is answered 101 and then both connections are joined byte for byte.
async fn proxy(state: &Arc<State>, mut req: Request<Incoming>) -> Response<Body> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().trim_start_matches("/api").to_string())
        .unwrap_or_default();
    let upgrade = req.headers().contains_key(UPGRADE);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let stream = match tokio::net::UnixStream::connect(&state.paddockd).await {
        Ok(s) => s,
        Err(e) => {
            return full(
                StatusCode::BAD_GATEWAY,
                json!({"error": format!("paddockd: {e}")}),
            )
        }
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut up = Request::builder().method(parts.method).uri(path);
    for (k, v) in parts.headers.iter() {
        if k != AUTHORIZATION {
            up = up.header(k, v);
        }
    }
    let mut resp = sender
        .send_request(up.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let server_upgrade = hyper::upgrade::on(&mut resp);
        if let Some(client_upgrade) = client_upgrade {
            tokio::spawn(async move {
                let (Ok(a), Ok(b)) = (client_upgrade.await, server_upgrade.await) else {
                    return;
                };
                let _ =
                    tokio::io::copy_bidirectional(&mut TokioIo::new(a), &mut TokioIo::new(b)).await;
            });
        }
        let (parts, _) = resp.into_parts();
        return Response::from_parts(
            parts,
            http_body_util::Empty::new().map_err(|n| match n {}).boxed(),
        );
    }
    resp.map(|b| b.map_err(std::io::Error::other).boxed())
}
