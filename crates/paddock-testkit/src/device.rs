//! A device on the host for tests: the real `paddock-init --no-pid1`
//! supervising services, optionally serving its web UI and API
//! (`--web-listen`) next to a paddockd running on the same root.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::instance::bin;

/// `paddock-init --no-pid1` with `services` (JSON service objects of
/// system.json), on its own temporary root or on `root` (where paddockd
/// runs, so init's web server finds its socket); stopped by pid on drop.
pub struct TestInit {
    pub root: PathBuf,
    _temp: Option<tempfile::TempDir>,
    child: Option<Child>,
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
