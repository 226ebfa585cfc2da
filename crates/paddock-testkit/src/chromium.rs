//! Headless Chromium (Debian's `chromium`) driven over the DevTools
//! protocol: a websocket to one page, `call` for any CDP method, `eval` for
//! JavaScript in the page. The browser (by pid) and its profile are removed
//! on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub struct Chromium {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

/// The chromium binary, or a failure naming the package.
pub fn require() -> &'static str {
    for bin in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(bin).is_file() {
            return bin;
        }
    }
    panic!("chromium is missing: apt-get install chromium");
}

impl Chromium {
    pub fn launch() -> Self {
        let bin = require();
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .args([
                "--headless",
                // Root in a test sandbox: Chromium's own sandbox needs user namespaces it may not get.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--window-size=1280,1100",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting chromium");
        // Its stderr names the DevTools port; keep draining it afterwards
        // (a full pipe would block the browser).
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("DevTools listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(rest.trim().to_string());
                    }
                }
            }
        });
        let browser_ws = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not start its DevTools server within 30 s");
            }
        };
        let port: u16 = browser_ws
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .and_then(|hp| hp.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .expect("DevTools port");
        let page_ws = page_websocket(port);
        let ws = connect(port, &page_ws);
        Self {
            child,
            _profile: profile,
            ws,
            next_id: 1,
        }
    }

    /// One CDP command; its `result` (panics on a protocol error).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .expect("sending to chromium");
        loop {
            let msg = self.ws.read().expect("reading from chromium");
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            if v["id"] != json!(id) {
                continue; // an event
            }
            if let Some(err) = v.get("error") {
                panic!("{method}: {err}");
            }
            return v["result"].clone();
        }
    }

    /// Evaluates `expr` in the page and returns its value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("{expr}: {ex}");
        }
        r["result"]["value"].clone()
    }

    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
    }

    /// Polls `expr` until it is true.
    pub fn wait_for(&mut self, what: &str, timeout: Duration, expr: &str) {
        let deadline = Instant::now() + timeout;
        loop {
            // Pages come and go while navigating: an error means "not yet".
            let guarded = format!(
                "(() => {{ try {{ return !!({expr}); }} catch (e) {{ return false; }} }})()"
            );
            if self.eval(&guarded) == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                let text = self.eval("document.body ? document.body.innerText : ''");
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A PNG of the page as it is.
    pub fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page's websocket, with timeouts on every read and write (a stuck
/// browser fails the test instead of hanging it).
fn connect(port: u16, url: &str) -> WebSocket<MaybeTlsStream<TcpStream>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to chromium");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let (ws, _) = tungstenite::client(url, MaybeTlsStream::Plain(stream))
        .unwrap_or_else(|e| panic!("websocket handshake with chromium ({url}): {e}"));
    ws
}

/// The websocket URL of the first page target (GET /json/list).
fn page_websocket(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(
                format!("GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            // Chromium keeps the connection open: read until the body parses.
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut raw = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = s.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&raw);
                let Some((_, body)) = text.split_once("\r\n\r\n") else {
                    continue;
                };
                if let Ok(Value::Array(targets)) = serde_json::from_str::<Value>(body) {
                    if let Some(url) = targets
                        .iter()
                        .find(|t| t["type"] == "page")
                        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                    {
                        return url.to_string();
                    }
                    break;
                }
            }
        }
        assert!(Instant::now() < deadline, "chromium has no page target");
        std::thread::sleep(Duration::from_millis(100));
    }
}
