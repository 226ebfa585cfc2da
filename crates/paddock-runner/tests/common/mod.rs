//! Helpers for the black-box tests: busybox bundles made with `runc spec`, the
//! runner binary with a private state root, the monitor's control socket, and
//! cleanup that deletes containers and removes temp dirs even when a test fails.
//! Every container gets a unique id and cgroup, so tests run in parallel.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const RUNNER: &str = env!("CARGO_BIN_EXE_paddock-runner");

/// Fails (never skips) when the test cannot run here.
pub fn require_environment() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests create real containers and must run as root"
    );
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    let runc = Command::new("runc").arg("--version").output();
    assert!(
        runc.is_ok_and(|o| o.status.success()),
        "runc is missing (used for `runc spec`): apt-get install runc"
    );
}

/// A container id nobody else uses: prefix, our pid, a counter.
pub fn unique_id(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A bundle (busybox rootfs + config.json from `runc spec`) in a temp dir, with
/// a private runner state root beside it. Dropping it deletes the container,
/// kills the pids it was told about and removes the directory.
pub struct Bundle {
    pub id: String,
    pub tmp: tempfile::TempDir,
    pub pids: Vec<i32>,
}

impl Bundle {
    /// A bundle running `args`, no terminal, cgroup /paddock-test/<id>.
    pub fn new(prefix: &str, args: &[&str]) -> Self {
        require_environment();
        let id = unique_id(prefix);
        let tmp = tempfile::Builder::new()
            .prefix("paddock-runner-test-")
            .tempdir()
            .unwrap();
        let bundle = Self {
            id,
            tmp,
            pids: Vec::new(),
        };
        let bin = bundle.dir().join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8(list.stdout).unwrap().lines() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
            }
        }
        let spec = Command::new("runc")
            .arg("spec")
            .current_dir(bundle.dir())
            .output()
            .unwrap();
        assert!(spec.status.success(), "runc spec: {spec:?}");
        let id = bundle.id.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        bundle.configure(|c| {
            c["process"]["args"] = serde_json::json!(args);
            c["process"]["terminal"] = Value::Bool(false);
            c["linux"]["cgroupsPath"] = Value::String(format!("/paddock-test/{id}"));
        });
        bundle
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("bundle")
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Edits config.json.
    pub fn configure(&self, edit: impl FnOnce(&mut Value)) {
        let path = self.dir().join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut config);
        std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    }

    /// Drops the pid namespace, so that init is an ordinary process that dies
    /// of SIGTERM (a pid namespace's init ignores signals it has no handler for).
    pub fn without_pid_namespace(&self) {
        self.configure(|c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "pid");
        });
    }

    /// `paddock-runner --root <root>` with `args`.
    pub fn runner(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(RUNNER);
        cmd.arg("--root").arg(self.root()).args(args);
        cmd
    }

    /// Runs the runner to completion; stdin is /dev/null.
    pub fn output(&self, args: &[&str]) -> Output {
        self.runner(args)
            .stdin(Stdio::null())
            .output()
            .expect("run paddock-runner")
    }

    /// Runs the runner and asserts it succeeded; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "paddock-runner {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a runner command that leaves a container behind (`create`, `run -d`)
    /// and asserts it succeeded. The container inherits the runner's stdio, so
    /// that goes to a file: a pipe would stay open as long as the container.
    pub fn detached(&self, args: &[&str]) {
        let log = self.path("detached.out");
        let file = std::fs::File::create(&log).unwrap();
        let status = self
            .runner(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "paddock-runner {args:?} failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `state` as JSON.
    pub fn state(&self) -> Value {
        serde_json::from_str(&self.ok(&["state", &self.id])).unwrap()
    }

    /// The monitor's state dir and log dir, and its command line.
    pub fn monitor_command(&self, extra: &[&str]) -> Command {
        let mut cmd = self.runner(&["monitor", "--id", &self.id]);
        cmd.arg("--bundle")
            .arg(self.dir())
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--log-dir")
            .arg(self.log_dir())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.path("log")
    }

    pub fn socket(&self) -> PathBuf {
        self.state_dir().join("monitor.sock")
    }

    /// status.json, once it exists.
    pub fn status(&self) -> Value {
        let path = self.state_dir().join("status.json");
        let text = std::fs::read(&path).unwrap();
        serde_json::from_slice(&text).unwrap()
    }

    /// Waits until status.json shows `state`.
    pub fn wait_for_state(&self, state: &str, timeout: Duration) -> Value {
        let path = self.state_dir().join("status.json");
        wait_until(timeout, &format!("status {state}"), || {
            let text = std::fs::read(&path).ok()?;
            let v: Value = serde_json::from_slice(&text).ok()?;
            (v["state"] == state).then_some(v)
        })
    }

    /// The cgroup directory the container had under the memory controller
    /// (v1) or the unified hierarchy (v2).
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        [
            format!("/sys/fs/cgroup/memory/paddock-test/{}", self.id),
            format!("/sys/fs/cgroup/pids/paddock-test/{}", self.id),
            format!("/sys/fs/cgroup/paddock-test/{}", self.id),
        ]
        .into_iter()
        .map(PathBuf::from)
        .collect()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for pid in &self.pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self
            .runner(&["delete", "--force", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Polls `check` until it returns something, or panics after `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends one request line; returns the connection for reading the answer.
pub fn send(socket: &Path, request: &Value) -> BufReader<UnixStream> {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut line = serde_json::to_vec(request).unwrap();
    line.push(b'\n');
    stream.write_all(&line).unwrap();
    BufReader::new(stream)
}

/// One request, the whole answer (until the monitor closes the connection).
pub fn request(socket: &Path, request: &Value) -> String {
    let mut answer = String::new();
    send(socket, request).read_to_string(&mut answer).unwrap();
    answer
}

/// One request, the answer parsed as one JSON line.
pub fn request_json(socket: &Path, req: &Value) -> Value {
    let mut line = String::new();
    send(socket, req).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer {line:?}: {e}"))
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}
