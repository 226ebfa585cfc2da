//! A paddock instance for black-box tests: a temporary root prefix, the real
//! `paddockd` started on it, and the real `paddock` CLI to talk to it.
//! Everything it made (processes by pid, mounts under the root, the root
//! itself) is removed on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Path of one of the workspace's binaries (built by `cargo build --workspace`
/// into the directory above the test executable's `deps/`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in target/PROFILE/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` before the tests (scripts/test does)",
        path.display()
    );
    path
}

/// Fails the test with the install step if a tool is missing.
pub fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "{tool} is missing: apt-get install {package}");
}

pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests run real containers and must run as root"
    );
}

pub struct Instance {
    pub dir: tempfile::TempDir,
    pub daemon: Option<Child>,
    log: PathBuf,
    /// Network namespace paddockd runs in (`None`: the test's own).
    pub netns: Option<PathBuf>,
}

impl Instance {
    /// A fresh root prefix with `registries.yaml` allowing `insecure`
    /// registries and a paddockd.yaml with fast backoff and no clock wait.
    pub fn new(insecure: &[String]) -> Self {
        require_root();
        let dir = tempfile::Builder::new()
            .prefix("paddock-test-")
            .tempdir_in(
                std::env::var_os("PADDOCK_TEST_TMP")
                    .map(PathBuf::from)
                    .unwrap_or_else(std::env::temp_dir),
            )
            .expect("temp dir");
        let log = dir.path().join("paddockd.log");
        let inst = Self {
            dir,
            daemon: None,
            log,
            netns: None,
        };
        std::fs::create_dir_all(inst.etc().join("containers")).unwrap();
        let list: Vec<String> = insecure.iter().map(|s| format!("\"{s}\"")).collect();
        std::fs::write(
            inst.etc().join("registries.yaml"),
            format!("insecure: [{}]\n", list.join(", ")),
        )
        .unwrap();
        inst.write_daemon_config(
            "clock:\n  wait: false\nbackoff:\n  initial: 100ms\n  max: 2s\n  reset_after: 10s\n",
        );
        inst
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn etc(&self) -> PathBuf {
        self.root().join("etc/paddock")
    }

    pub fn write_daemon_config(&self, yaml: &str) {
        std::fs::write(self.etc().join("paddockd.yaml"), yaml).unwrap();
    }

    pub fn write_manifest(&self, file: &str, yaml: &str) {
        std::fs::write(self.etc().join("containers").join(file), yaml).unwrap();
    }

    pub fn remove_manifest(&self, file: &str) {
        std::fs::remove_file(self.etc().join("containers").join(file)).unwrap();
    }

    /// Starts paddockd and waits for its API socket.
    pub fn start(&mut self) {
        assert!(self.daemon.is_none(), "paddockd already started");
        // A SIGKILLed paddockd leaves its socket behind.
        let socket = self.root().join("run/paddock/paddockd.sock");
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        // nsenter enters only the network namespace and execs paddockd
        // (same pid), so mounts stay visible to the test.
        let mut command = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", ns.display()))
                    .arg(bin("paddockd"));
                c
            }
            None => Command::new(bin("paddockd")),
        };
        let child = command
            .arg("--root")
            .arg(self.root())
            .arg("--log")
            .arg("paddockd=debug,info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawning paddockd");
        self.daemon = Some(child);
        self.wait_for(Duration::from_secs(20), "paddockd's API socket", || {
            socket.exists().then_some(())
        });
    }

    /// SIGKILLs paddockd (containers keep running).
    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERMs paddockd and waits for it to exit (it stops containers).
    pub fn stop_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "paddockd did not exit within 60s of SIGTERM\n{}",
                        self.daemon_log()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn daemon_pid(&self) -> Option<i32> {
        self.daemon.as_ref().map(|c| c.id() as i32)
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs the `paddock` CLI against this instance.
    pub fn paddock(&self, args: &[&str]) -> Output {
        Command::new(bin("paddock"))
            .arg("--root")
            .arg(self.root())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running paddock")
    }

    /// `paddock ps --json`.
    pub fn ps(&self) -> Vec<Value> {
        let out = self.paddock(&["ps", "--json"]);
        assert!(
            out.status.success(),
            "paddock ps failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.daemon_log()
        );
        serde_json::from_slice(&out.stdout).expect("ps --json output")
    }

    pub fn container(&self, name: &str) -> Option<Value> {
        self.ps().into_iter().find(|c| c["name"] == name)
    }

    /// Polls `f` until it returns Some, or fails with `what` and the daemon log.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut f: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n--- paddockd log ---\n{}",
                    self.daemon_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a container is in `state`; returns its status.
    pub fn wait_state(&self, name: &str, state: &str) -> Value {
        self.wait_for(
            Duration::from_secs(60),
            &format!("{name} to be {state}"),
            || self.container(name).filter(|c| c["state"] == state),
        )
    }

    pub fn logs(&self, name: &str) -> String {
        let out = self.paddock(&["logs", name]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Pids of monitor processes this instance's containers run under.
    pub fn monitor_pids(&self) -> Vec<i32> {
        let dir = self.root().join("run/paddock/monitors");
        let mut pids = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if let Ok(text) =
                    std::fs::read_to_string(e.path().join(paddock_wire::runner::files::STATUS_FILE))
                {
                    if let Ok(v) = serde_json::from_str::<Value>(&text) {
                        for key in ["monitor_pid", "pid"] {
                            if let Some(p) = v[key].as_i64() {
                                pids.push(p as i32);
                            }
                        }
                    }
                }
            }
        }
        pids
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop_daemon();
        // Anything still alive that this instance started (by pid).
        for pid in self.monitor_pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(100));
        unmount_below(self.root());
        // libcontainer state and cgroups of containers that were killed.
        let _ = std::fs::remove_dir_all(self.root().join("run/paddock/runner"));
    }
}

/// Unmounts every mount at or below `dir`, deepest first.
pub fn unmount_below(dir: &Path) {
    let Ok(dir) = dir.canonicalize() else { return };
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(&dir))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    for m in mounts {
        let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A busybox-static root filesystem in `dir` (the binary plus applet links).
pub fn busybox_rootfs(dir: &Path) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "var/www"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet));
        }
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nweb:x:1000:1000:web:/var/www:/bin/sh\n").unwrap();
    std::fs::write(
        dir.join("etc/group"),
        "root:x:0:\nnogroup:x:65534:\nweb:x:1000:\n",
    )
    .unwrap();
}

/// Builds a busybox image with `paddock image build` and pushes it.
pub fn push_busybox(registry: &str, repo: &str, insecure_root: &Path) -> String {
    let rootfs = tempfile::tempdir().unwrap();
    busybox_rootfs(rootfs.path());
    let tag = format!("{registry}/{repo}");
    build_busybox_image(insecure_root, rootfs.path(), &tag, "--push");
    tag
}

/// `paddock image build` of `rootfs` as `tag` (a busybox image: `sh`, PATH
/// /bin) with `mode` `--push` or `--import` (into `root`'s store).
pub fn build_busybox_image(root: &Path, rootfs: &Path, tag: &str, mode: &str) {
    let out = Command::new(bin("paddock"))
        .arg("--root")
        .arg(root)
        .args(["image", "build", "--rootfs"])
        .arg(rootfs)
        .args([
            "--tag",
            tag,
            mode,
            "--cmd",
            "[\"sh\"]",
            "--env",
            "PATH=/bin",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "paddock image build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
