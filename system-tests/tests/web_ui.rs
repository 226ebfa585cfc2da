//! The device web UI and API end to end on the host: real paddockd with a
//! real container, real paddock-init (`--no-pid1 --web-listen`) with a
//! busybox service, real HTTP — and real headless Chromium (Debian's
//! `chromium`) logging in, restarting a container and watching its logs.

use paddock_testkit as support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use paddock_wire::system::{Service, SystemConfig};
use serde_json::Value;
use support::chromium::{self, Chromium};
use support::instance::{bin, build_busybox_image, busybox_rootfs, Instance};

const PASSWORD: &str = "web-ui-test-password";
const IMAGE: &str = "local/webui-busybox:1";
const MARK: &str = "webui-container-started";

/// One device at a time: container names (and their cgroups) are global to
/// the host.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// paddockd with one container (`pinger`), and paddock-init serving the web
/// UI on the same root; everything stopped by pid on drop.
struct Device {
    /// paddockd and its containers: stopped on drop (after init).
    _inst: Instance,
    init: Child,
    addr: SocketAddr,
}

impl Device {
    fn start() -> Self {
        let mut inst = Instance::new(&[]);
        // The image is imported into <root>/var: no /perm bind mount over it.
        inst.write_daemon_config(
            "clock:\n  wait: false\nbind_var: false\nbackoff:\n  initial: 100ms\n  max: 2s\n  reset_after: 10s\n",
        );
        let rootfs = tempfile::tempdir().unwrap();
        busybox_rootfs(rootfs.path());
        build_busybox_image(inst.root(), rootfs.path(), IMAGE, "--import");
        inst.write_manifest(
            "pinger.yaml",
            &format!(
                "name: pinger\nimage: {IMAGE}\npull: never\nnetwork: none\n\
                 command: [sh, -c, 'trap \"exit 0\" TERM; echo {MARK}; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done']\n"
            ),
        );
        inst.start();
        inst.wait_state("pinger", "running");

        let mut config = SystemConfig::new("webui");
        config.update_password_hash = Some(bcrypt::hash(PASSWORD, 4).unwrap());
        config.services = vec![Service::new("greeter", "/bin/busybox").with_args([
            "sh",
            "-c",
            "echo greeter up; exec sleep 1000",
        ])];
        std::fs::write(inst.etc().join("system.json"), config.to_json()).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let init = Command::new(bin("paddock-init"))
            .args(["--no-pid1", "--root"])
            .arg(inst.root())
            .args(["--grace-ms", "500", "--web-listen", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let dev = Self {
            _inst: inst,
            init,
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "paddock-init's web server never came up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        dev
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn json(&self, method: &str, path: &str) -> (u16, Value) {
        let (status, body) = http(
            self.addr,
            method,
            path,
            &[("Accept", "application/json")],
            "",
        );
        let v = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"));
        (status, v)
    }

    fn container(&self) -> Value {
        let (status, v) = self.json("GET", "/containers/pinger");
        assert_eq!(status, 200, "{v}");
        v
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.init.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.init.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.init.kill();
        let _ = self.init.wait();
        // self.inst stops paddockd and its containers on its own drop.
    }
}

fn authorization() -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("paddock:{PASSWORD}"));
    format!("Basic {enc}")
}

/// One authenticated request; (status, body).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: {}\r\n",
        authorization()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn api_lists_and_restarts_containers_and_proxies_exec() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Device::start();
    let (status, v) = dev.json("GET", "/");
    assert_eq!(status, 200, "{v}");
    assert!(v["containers_error"].is_null(), "{v}");
    let pinger = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pinger")
        .unwrap_or_else(|| panic!("no pinger in {v}"));
    assert_eq!(pinger["state"], "running");
    assert!(pinger["image_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(v["services"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "greeter"));

    let before = dev.container()["restarts"].as_u64().unwrap();
    let (status, after) = dev.json("POST", "/containers/pinger/restart");
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["name"], "pinger");
    wait_until("pinger restarted", Duration::from_secs(20), || {
        let c = dev.container();
        c["state"] == "running" && c["restarts"].as_u64().unwrap() > before
    });
    let (status, e) = dev.json("GET", "/containers/nope");
    assert_eq!(status, 404, "{e}");

    // paddockd's own API through the device's.
    let (status, list) = dev.json("GET", "/api/v1/containers");
    assert_eq!(status, 200, "{list}");
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "pinger"));

    // exec through the proxy: the upgrade on both sides, frames both ways.
    let body = r#"{"cmd":["sh","-c","echo exec-ok; cat"],"tty":false}"#;
    let mut s = TcpStream::connect(dev.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!(
        "POST /api/v1/containers/pinger/exec HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\
         Connection: upgrade\r\nUpgrade: paddock-exec\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        dev.addr,
        authorization(),
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let frame = |kind: u8, payload: &[u8]| {
        let mut f = vec![kind];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    s.write_all(&frame(0, b"through the proxy\n")).unwrap();
    s.write_all(&frame(5, b"")).unwrap();
    let mut stdout = Vec::new();
    let exit = loop {
        let mut h = [0u8; 5];
        s.read_exact(&mut h).unwrap();
        let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).unwrap();
        match h[0] {
            1 => stdout.extend_from_slice(&payload),
            3 => break i32::from_be_bytes(payload[..4].try_into().unwrap()),
            6 => panic!("exec error: {}", String::from_utf8_lossy(&payload)),
            _ => {}
        }
    };
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        "exec-ok\nthrough the proxy\n"
    );
    assert_eq!(exit, 0);
}

/// Where screenshots go: $PADDOCK_ARTIFACTS, else the target dir.
fn artifacts() -> PathBuf {
    let dir = std::env::var_os("PADDOCK_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn chromium_logs_in_restarts_a_container_and_watches_its_logs() {
    chromium::require();
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Device::start();
    let mut browser = Chromium::launch();
    browser.call("Page.enable", serde_json::json!({}));
    browser.call("Network.enable", serde_json::json!({}));

    // Without credentials: 401 (checked without the browser: Chromium
    // would wait at its password prompt).
    let mut s = TcpStream::connect(dev.addr).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        dev.addr
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 401"), "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"paddock\""),
        "{raw}"
    );

    // Logged in (Basic auth on every request, the event stream included).
    browser.call(
        "Network.setExtraHTTPHeaders",
        serde_json::json!({"headers": {"Authorization": authorization()}}),
    );
    browser.navigate(&dev.url("/"));
    browser.wait_for(
        "the overview with the container and the service",
        Duration::from_secs(20),
        "!!document.querySelector('#containers tr[data-name=\"pinger\"]') && \
         !!document.querySelector('#services tr[data-name=\"greeter\"]')",
    );
    let row =
        browser.eval("document.querySelector('#containers tr[data-name=\"pinger\"]').innerText");
    assert!(row.as_str().unwrap().contains("running"), "{row}");
    let shot = artifacts().join("web-ui-overview.png");
    std::fs::write(&shot, browser.screenshot()).unwrap();
    println!("screenshot: {}", shot.display());

    // The container's page: its log stream shows the first start.
    browser.eval("document.querySelector('#containers tr[data-name=\"pinger\"] a').click()");
    let starts = format!(
        "(document.getElementById('log') ? document.getElementById('log').textContent.split('{MARK}').length - 1 : -1)"
    );
    browser.wait_for(
        "the container's live log",
        Duration::from_secs(20),
        &format!("location.pathname === '/containers/pinger' && document.getElementById('logstate').textContent === 'live' && {starts} === 1"),
    );
    // Lines keep coming on the open stream.
    let ticks = "document.getElementById('log').textContent.split('tick ').length";
    let before = browser.eval(ticks).as_u64().unwrap();
    browser.wait_for(
        "a new log line on the stream",
        Duration::from_secs(10),
        &format!("{ticks} > {before}"),
    );

    // Restart from the page: POST with the form's token, 303 back here,
    // and the stream shows the second start.
    let restarts = dev.container()["restarts"].as_u64().unwrap();
    browser.eval(
        "document.querySelector('form[action=\"/containers/pinger/restart\"] button').click()",
    );
    browser.wait_for(
        "the restarted container's start in the log stream",
        Duration::from_secs(30),
        &format!("location.pathname === '/containers/pinger' && {starts} >= 2"),
    );
    assert!(dev.container()["restarts"].as_u64().unwrap() > restarts);

    // The page keeps its state current without reloading: stopped and
    // started through the API, the open page follows.
    browser.eval("window.notReloaded = true");
    let state = "(document.querySelector('#status span') || {}).textContent";
    for (action, want) in [("stop", "stopped"), ("start", "running")] {
        let (status, v) = dev.json("POST", &format!("/containers/pinger/{action}"));
        assert_eq!(status, 200, "{action}: {v}");
        browser.wait_for(
            &format!("the open page to show {want}"),
            Duration::from_secs(30),
            &format!("window.notReloaded === true && {state} === '{want}'"),
        );
    }
    let shot = artifacts().join("web-ui-container.png");
    std::fs::write(&shot, browser.screenshot()).unwrap();
    println!("screenshot: {}", shot.display());
}
