//! The web UI and API of a real `paddock-init --no-pid1 --web-listen` with
//! real busybox services, over real HTTP: auth, the JSON overview, actions,
//! the SSE log stream, CSRF refusal, the unix socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use paddock_wire::system::{Service, SystemConfig};
use serde_json::Value;

const BUSYBOX: &str = "/bin/busybox";
const PASSWORD: &str = "correct-horse-battery";

fn sh(name: &str, script: &str) -> Service {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: apt-get install busybox-static"
    );
    Service::new(name, BUSYBOX).with_args(["sh", "-c", script])
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// paddock-init with its web server on a free loopback port; stopped (by
/// pid) on drop.
struct Device {
    root: tempfile::TempDir,
    child: Child,
    addr: SocketAddr,
}

impl Device {
    fn start(services: Vec<Service>) -> Self {
        Self::start_with(services, |_| {})
    }

    /// `setup` prepares the root (e.g. /perm/web) before init starts.
    fn start_with(services: Vec<Service>, setup: impl FnOnce(&Path)) -> Self {
        let root = tempfile::tempdir().unwrap();
        setup(root.path());
        let mut config = SystemConfig::new("webtest");
        config.services = services;
        config.update_password_hash = Some(bcrypt::hash(PASSWORD, 4).unwrap());
        std::fs::create_dir_all(root.path().join("etc/paddock")).unwrap();
        std::fs::write(
            root.path().join("etc/paddock/system.json"),
            config.to_json(),
        )
        .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_paddock-init"))
            .args(["--no-pid1", "--root"])
            .arg(root.path())
            .args(["--grace-ms", "500", "--backoff-ms", "100"])
            .arg("--web-listen")
            .arg(addr.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let dev = Self { root, child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        // (With TLS, a TCP connect still succeeds: that is all this waits for.)
        while TcpStream::connect(dev.addr).is_err() || !dev.path("run/paddock/init.sock").exists() {
            assert!(Instant::now() < deadline, "web server never came up");
            std::thread::sleep(Duration::from_millis(25));
        }
        dev
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// One request; returns (status, headers, body).
    fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        send(&mut s, &self.addr.to_string(), method, path, headers, body);
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        Reply::parse(&String::from_utf8_lossy(&raw))
    }

    fn json(&self, method: &str, path: &str) -> (u16, Value) {
        let auth = basic(PASSWORD);
        let r = self.http(
            method,
            path,
            &[("Authorization", &auth), ("Accept", "application/json")],
            "",
        );
        let v = serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {}", r.body));
        (r.status, v)
    }

    fn service(&self, name: &str) -> Value {
        let (status, v) = self.json("GET", &format!("/services/{name}"));
        assert_eq!(status, 200, "{v}");
        v["service"].clone()
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn basic(password: &str) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("paddock:{password}"));
    format!("Basic {enc}")
}

fn send(
    s: &mut impl Write,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
}

#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn parse(raw: &str) -> Self {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        // Bodies here are small and sent with Content-Length.
        Self {
            status,
            head: head.to_ascii_lowercase(),
            body: body.to_string(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            l.strip_prefix(&format!("{}:", name.to_ascii_lowercase()))
                .map(str::trim)
        })
    }
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn requests_without_or_with_wrong_credentials_get_401() {
    let dev = Device::start(vec![sh("idle", "exec sleep 1000")]);
    let r = dev.http("GET", "/", &[], "");
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        r.header("www-authenticate"),
        Some("basic realm=\"paddock\"")
    );
    let wrong = basic("not-the-password");
    for path in ["/", "/services/idle", "/api/v1/containers"] {
        let r = dev.http("GET", path, &[("Authorization", &wrong)], "");
        assert_eq!(r.status, 401, "{path}: {r:?}");
    }
    let r = dev.http(
        "POST",
        "/services/idle/stop",
        &[("Authorization", &wrong)],
        "",
    );
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        dev.service("idle")["state"],
        "running",
        "a refused stop stopped it"
    );
    let right = basic(PASSWORD);
    let r = dev.http("GET", "/", &[("Authorization", &right)], "");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.body
            .contains("<td><a href=\"/services/idle\">idle</a></td>"),
        "{}",
        r.body
    );
}

#[test]
fn json_overview_lists_services_and_restart_counts() {
    let dev = Device::start(vec![
        sh("alpha", "echo alpha up; exec sleep 1000"),
        sh("beta", "exec sleep 1000").with_dont_start(true),
    ]);
    let (status, v) = dev.json("GET", "/");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["hostname"], "webtest");
    let names: Vec<&str> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(v["services"][1]["state"], "stopped");
    // No paddockd here: containers null with the reason.
    assert!(v["containers"].is_null());
    assert!(
        v["containers_error"]
            .as_str()
            .unwrap()
            .contains("paddockd.sock"),
        "{v}"
    );
    assert!(v["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["address"] == "127.0.0.1"));
    assert!(v["kernel"].is_string());

    wait_until("alpha running", Duration::from_secs(5), || {
        dev.service("alpha")["state"] == "running"
    });
    let before = dev.service("alpha")["restarts"].as_u64().unwrap();
    let (status, s) = dev.json("POST", "/services/alpha/restart");
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["name"], "alpha");
    wait_until("the restart", Duration::from_secs(10), || {
        let s = dev.service("alpha");
        s["restarts"].as_u64().unwrap() > before && s["state"] == "running"
    });
    let (_, page) = dev.json("GET", "/services/alpha");
    let lines = page["logs"].as_array().unwrap();
    assert_eq!(
        lines.iter().filter(|l| *l == "alpha up").count(),
        2,
        "{page}"
    );

    let (status, s) = dev.json("POST", "/services/beta/start");
    assert_eq!(status, 200, "{s}");
    wait_until("beta started on demand", Duration::from_secs(5), || {
        dev.service("beta")["state"] == "running"
    });

    let (status, e) = dev.json("POST", "/services/nope/restart");
    assert_eq!(status, 404, "{e}");
    assert!(e["error"].as_str().unwrap().contains("nope"), "{e}");
    let (status, _) = dev.json("POST", "/services/alpha/explode");
    assert_eq!(status, 404);
}

/// A service's live log over HTTP: chunked transfer decoded, cut into
/// server-sent events.
struct LogStream {
    reader: BufReader<TcpStream>,
    text: String,
}

impl LogStream {
    fn open(dev: &Device, service: &str) -> Self {
        let mut s = TcpStream::connect(dev.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let auth = basic(PASSWORD);
        let path = format!("/services/{service}/logs");
        send(
            &mut s,
            &dev.addr.to_string(),
            "GET",
            &path,
            &[("Authorization", &auth)],
            "",
        );
        let mut reader = BufReader::new(s);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("content-type: text/event-stream"), "{head}");
        assert!(lower.contains("transfer-encoding: chunked"), "{head}");
        LogStream {
            reader,
            text: String::new(),
        }
    }

    /// The next event as (type, data); keep-alive comments are skipped.
    fn next(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let raw: String = self.text.drain(..end + 2).collect();
                let mut event = "message".to_string();
                let mut data = None;
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim_start().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data = Some(v.strip_prefix(' ').unwrap_or(v).to_string());
                    }
                }
                match data {
                    Some(data) => return (event, data),
                    None => continue,
                }
            }
            let mut size = String::new();
            self.reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {size:?}"));
            assert!(size > 0, "the stream ended");
            let mut chunk = vec![0u8; size + 2];
            self.reader.read_exact(&mut chunk).unwrap();
            self.text.push_str(&String::from_utf8_lossy(&chunk[..size]));
        }
    }

    /// Reads until the line `needle`; returns the lines before it.
    fn until(&mut self, needle: &str) -> Vec<String> {
        let mut before = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "no {needle:?} in the stream");
            match self.next() {
                (e, d) if e == "message" && d == needle => return before,
                (e, d) if e == "message" => before.push(d),
                (e, d) => before.push(format!("<{e}> {d}")),
            }
        }
    }
}

/// A script that says "ready", waits for `trigger` to exist, then runs
/// `then` and sleeps.
fn after_trigger(trigger: &Path, then: &str) -> String {
    format!(
        "echo ready; while [ ! -e {t} ]; do sleep 0.05; done; {then}; exec sleep 1000",
        t = trigger.display()
    )
}

#[test]
fn sse_stream_delivers_kept_and_new_lines() {
    let scratch = tempfile::tempdir().unwrap();
    let trigger = scratch.path().join("trigger");
    let script = after_trigger(&trigger, "echo 'after <trigger> & more'");
    let dev = Device::start(vec![sh("waiter", &script)]);
    let mut stream = LogStream::open(&dev, "waiter");
    stream.until("ready");
    std::fs::write(&trigger, "").unwrap();
    stream.until("after <trigger> & more");
}

/// The stream follows the buffer by line numbers, not by text: 1500
/// identical lines through a 1000-line buffer all arrive (in bursts of 100,
/// so none is dropped before the stream gets it).
#[test]
fn sse_stream_keeps_identical_lines_past_a_full_buffer() {
    let scratch = tempfile::tempdir().unwrap();
    let trigger = scratch.path().join("trigger");
    let burst = "i=0; while [ $i -lt 1500 ]; do echo tick; i=$((i+1)); \
                 if [ $((i % 100)) = 0 ]; then sleep 0.3; fi; done; echo done";
    let dev = Device::start(vec![sh("ticker", &after_trigger(&trigger, burst))]);
    let mut stream = LogStream::open(&dev, "ticker");
    stream.until("ready");
    std::fs::write(&trigger, "").unwrap();
    let before = stream.until("done");
    assert_eq!(
        before.len(),
        1500,
        "{:?}",
        &before[before.len().min(1490)..]
    );
    assert!(before.iter().all(|l| l == "tick"));
}

/// Lines the buffer drops before the stream reads them are counted in a
/// `skipped` event: what arrives plus what is skipped is all of it, in
/// order, ending with the newest.
#[test]
fn sse_stream_counts_lines_dropped_before_it_read_them() {
    let scratch = tempfile::tempdir().unwrap();
    let trigger = scratch.path().join("trigger");
    // One write of 20000 lines: far more than a 1000-line buffer holds
    // between two reads of the stream, however slow the machine.
    let burst = "busybox seq 1 20000; echo done";
    let dev = Device::start(vec![sh("burst", &after_trigger(&trigger, burst))]);
    let mut stream = LogStream::open(&dev, "burst");
    stream.until("ready");
    std::fs::write(&trigger, "").unwrap();
    let before = stream.until("done");
    let mut expect = 1u64;
    let mut skipped = 0;
    for l in &before {
        if let Some(n) = l.strip_prefix("<skipped> ") {
            let n: u64 = n.parse().unwrap();
            skipped += n;
            expect += n;
        } else {
            assert_eq!(l, &expect.to_string(), "out of order");
            expect += 1;
        }
    }
    assert_eq!(expect, 20001, "{} lines, {skipped} skipped", before.len());
    assert!(skipped > 0, "20000 lines at once never overran the buffer");
}

#[test]
fn cross_site_posts_are_refused_and_forms_need_the_token() {
    let dev = Device::start(vec![sh("victim", "exec sleep 1000")]);
    wait_until("victim running", Duration::from_secs(5), || {
        dev.service("victim")["state"] == "running"
    });
    let auth = basic(PASSWORD);
    let host = dev.addr.to_string();
    let own_origin = format!("http://{host}");
    let form = "application/x-www-form-urlencoded";

    // A page elsewhere posting a form to the device.
    let r = dev.http(
        "POST",
        "/services/victim/stop",
        &[
            ("Authorization", &auth),
            ("Origin", "http://evil.example"),
            ("Content-Type", form),
        ],
        "back=%2F",
    );
    assert_eq!(r.status, 403, "{r:?}");
    let r = dev.http(
        "POST",
        "/services/victim/stop",
        &[("Authorization", &auth), ("Sec-Fetch-Site", "cross-site")],
        "",
    );
    assert_eq!(r.status, 403, "{r:?}");
    // Same origin, but no token (or a wrong one).
    for body in ["back=%2F", "csrf=0000&back=%2F"] {
        let r = dev.http(
            "POST",
            "/services/victim/stop",
            &[
                ("Authorization", &auth),
                ("Origin", &own_origin),
                ("Sec-Fetch-Site", "same-origin"),
                ("Content-Type", form),
            ],
            body,
        );
        assert_eq!(r.status, 403, "{body}: {r:?}");
    }
    assert_eq!(dev.service("victim")["state"], "running");

    // The token from our own page: accepted, and the browser is sent back.
    let page = dev.http("GET", "/", &[("Authorization", &auth)], "");
    let token = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf token in the page");
    let r = dev.http(
        "POST",
        "/services/victim/stop",
        &[
            ("Authorization", &auth),
            ("Origin", &own_origin),
            ("Sec-Fetch-Site", "same-origin"),
            ("Content-Type", form),
            ("Accept", "text/html"),
        ],
        &format!("csrf={token}&back=%2Fservices%2Fvictim"),
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/services/victim"));
    wait_until("victim stopped", Duration::from_secs(5), || {
        dev.service("victim")["state"] == "stopped"
    });
}

#[test]
fn unix_socket_needs_no_password() {
    let dev = Device::start(vec![sh("idle", "exec sleep 1000")]);
    let socket = dev.path("run/paddock/web.sock");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    send(
        &mut s,
        "localhost",
        "GET",
        "/services/idle",
        &[("Accept", "application/json")],
        "",
    );
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let r = Reply::parse(&raw);
    assert_eq!(r.status, 200, "{r:?}");
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["service"]["name"], "idle");
}

/// A certificate in /perm/web turns the TCP listener into HTTPS (checked
/// with curl against that certificate); plain HTTP there gets no answer.
#[test]
fn tls_from_a_certificate_in_perm() {
    for (tool, package) in [("openssl", "openssl"), ("curl", "curl")] {
        assert!(
            Command::new(tool).arg("--version").output().is_ok(),
            "{tool} is missing: apt-get install {package}"
        );
    }
    let dev = Device::start_with(vec![sh("svc", "exec sleep 1000")], |root| {
        let web = root.join("perm/web");
        std::fs::create_dir_all(&web).unwrap();
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=paddock"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(web.join("key.pem"))
            .arg("-out")
            .arg(web.join("cert.pem"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    let curl = |scheme: &str| {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(dev.path("perm/web/cert.pem"))
            .args([
                "-u",
                &format!("paddock:{PASSWORD}"),
                "-H",
                "Accept: application/json",
            ])
            .arg(format!("{scheme}://{}/", dev.addr))
            .output()
            .unwrap()
    };
    let mut tries = 0;
    let out = loop {
        let out = curl("https");
        if out.status.success() || tries == 50 {
            break out;
        }
        tries += 1;
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        out.status.success(),
        "https: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hostname"], "webtest", "{v}");
    let plain = curl("http");
    assert!(
        !plain.status.success() || !String::from_utf8_lossy(&plain.stdout).contains("webtest"),
        "plain HTTP answered on the TLS port"
    );
}

/// A SIGTERM to an init serving its web UI is read from init's signalfd:
/// init stops its services and exits cleanly. Init's web threads used to
/// start before it blocked its signals, so the SIGTERM went to a web thread
/// and killed init outright (exit 143), leaving the services running; as
/// PID 1 the same signals (SIGCHLD included) were lost.
#[test]
fn sigterm_stops_the_services_even_with_the_web_server_running() {
    let mut dev = Device::start(vec![sh("idle", "exec sleep 1000")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        let s = dev.service("idle");
        if let Some(pid) = s["pid"].as_i64() {
            break pid as i32;
        }
        assert!(Instant::now() < deadline, "the service never ran: {s}");
        std::thread::sleep(Duration::from_millis(25));
    };
    let init = nix::unistd::Pid::from_raw(dev.child.id() as i32);
    nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = dev.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "init did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(25));
    };
    assert!(
        status.success(),
        "init should stop its services and exit 0 on SIGTERM, not be killed by it: {status:?}"
    );
    let service = nix::unistd::Pid::from_raw(pid);
    let outlived = nix::sys::signal::kill(service, None).is_ok();
    if outlived {
        // Clean up what the failing init left behind, by pid.
        let _ = nix::sys::signal::kill(service, nix::sys::signal::Signal::SIGKILL);
    }
    assert!(!outlived, "the service (pid {pid}) outlived init");
}

/// `POST /poweroff` is answered before init goes down, every time: init
/// used to be asked first and could exit (outside PID 1, as soon as its
/// services stopped) before the web thread wrote the answer.
#[test]
fn poweroff_is_answered_and_then_init_goes_down() {
    for round in 0..10 {
        let mut dev = Device::start(vec![sh("idle", "exec sleep 1000")]);
        let auth = basic(PASSWORD);
        let r = dev.http(
            "POST",
            "/poweroff",
            &[("Authorization", &auth), ("Accept", "application/json")],
            "",
        );
        assert_eq!((r.status, r.body.as_str()), (200, "{}"), "round {round}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while dev.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "round {round}: init did not go down"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}
