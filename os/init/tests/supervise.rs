//! The supervisor as a real process (`paddock-init --no-pid1`) with real
//! busybox services: crashes and backoff, dont_start, wait_for_clock,
//! orphans, stop with grace, shutdown, service cgroups (memory, uptime).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use paddock_wire::control::{request, Request, Response, ServiceState, ServiceStatus};
use paddock_wire::system::{Service, SystemConfig};

const BUSYBOX: &str = "/bin/busybox";

/// A service running `busybox sh -c SCRIPT`.
fn sh(name: &str, script: &str) -> Service {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: apt-get install busybox-static"
    );
    Service::new(name, BUSYBOX).with_args(["sh", "-c", script])
}

/// paddock-init --no-pid1 on a temporary root; stopped (by pid) on drop.
struct Init {
    root: tempfile::TempDir,
    child: Option<Child>,
}

impl Init {
    fn start(services: Vec<Service>) -> Self {
        Self::start_with(services, &[])
    }

    fn start_with(services: Vec<Service>, extra: &[&std::ffi::OsStr]) -> Self {
        let root = tempfile::tempdir().unwrap();
        let mut config = SystemConfig::new("test");
        config.services = services;
        std::fs::create_dir_all(root.path().join("etc/paddock")).unwrap();
        std::fs::write(
            root.path().join("etc/paddock/system.json"),
            config.to_json(),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_paddock-init"))
            .args(["--no-pid1", "--root"])
            .arg(root.path())
            .args([
                "--grace-ms",
                "700",
                "--backoff-ms",
                "100",
                "--backoff-max-ms",
                "400",
                "--healthy-ms",
                "5000",
            ])
            .args(extra)
            .env("PADDOCK_INIT_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let init = Self {
            root,
            child: Some(child),
        };
        init.wait_for(Duration::from_secs(5), "control socket", || {
            init.socket().exists()
        });
        init
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn socket(&self) -> PathBuf {
        self.path("run/paddock/init.sock")
    }

    fn send(&self, req: Request) -> Response {
        request(&self.socket(), &req).unwrap()
    }

    fn status(&self, name: &str) -> ServiceStatus {
        let list = self.send(Request::List).services.unwrap();
        list.into_iter().find(|s| s.name == name).unwrap()
    }

    fn logs(&self, name: &str) -> Vec<String> {
        self.send(Request::Logs {
            name: name.into(),
            lines: None,
            after: None,
        })
        .lines
        .unwrap()
    }

    fn wait_for(&self, timeout: Duration, what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !ok() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn wait_state(&self, name: &str, state: &str) -> ServiceStatus {
        let mut last = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = self.status(name);
            if s.state.as_str() == state {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never became {state}: {last:?}"
            );
            last = Some(s);
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits for init to exit by itself; returns its exit status.
    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "init did not exit");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Init {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A clean shutdown stops the services too; SIGKILL if that hangs.
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn alive(pid: i32) -> bool {
    // A zombie is not alive, but it is not reaped either: count it as alive.
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn crashing_service_restarts_with_growing_backoff() {
    let init = Init::start(vec![sh("crasher", "echo started; exit 3")]);
    init.wait_for(Duration::from_secs(5), "four restarts", || {
        init.status("crasher").restarts >= 4
    });
    let s = init.status("crasher");
    assert_eq!(s.last_exit.as_deref(), Some("exit status 3"));
    let logs = init.logs("crasher");
    assert!(
        logs.iter().filter(|l| *l == "started").count() >= 4,
        "{logs:?}"
    );
    // 100 ms doubling, capped at 400 ms.
    let delays: Vec<&str> = logs
        .iter()
        .filter_map(|l| l.split("restarting in ").nth(1))
        .take(4)
        .collect();
    assert_eq!(delays, ["0.1s", "0.2s", "0.4s", "0.4s"], "{logs:?}");
    assert!(
        logs.iter()
            .any(|l| l.starts_with("[paddock-init] exited (exit status 3) after ")),
        "{logs:?}"
    );
}

#[test]
fn dont_start_and_control_requests() {
    let init = Init::start(vec![
        sh("idle", "echo up; exec sleep 100").with_dont_start(true),
        sh("runner", "exec sleep 100"),
    ]);
    let idle = init.status("idle");
    assert_eq!(
        (idle.state.as_str(), idle.pid, idle.dont_start),
        ("stopped", None, true)
    );
    let runner = init.wait_state("runner", "running");

    let r = init.send(Request::Start {
        name: "idle".into(),
    });
    assert!(r.ok, "{r:?}");
    let idle = init.wait_state("idle", "running");
    assert!(alive(idle.pid.unwrap()));
    init.wait_for(Duration::from_secs(2), "output", || {
        init.logs("idle").contains(&"up".to_string())
    });

    let r = init.send(Request::Restart {
        name: "runner".into(),
    });
    assert!(r.ok, "{r:?}");
    init.wait_for(Duration::from_secs(3), "new pid", || {
        let s = init.status("runner");
        s.state == ServiceState::Running && s.pid != runner.pid
    });
    assert!(!alive(runner.pid.unwrap()), "old process reaped");

    let r = init.send(Request::Stop {
        name: "nope".into(),
    });
    assert_eq!(r.error.as_deref(), Some("no service named \"nope\""));
    // A malformed line gets an error, and the connection stays usable.
    let r: Response = {
        use std::io::{BufRead, BufReader, Write};
        let s = std::os::unix::net::UnixStream::connect(init.socket()).unwrap();
        (&s).write_all(b"{\"op\":\"explode\"}\n").unwrap();
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    };
    assert!(
        !r.ok
            && r.error
                .unwrap()
                .starts_with("bad request: unknown variant `explode`")
    );
}

#[test]
fn wait_for_clock_starts_after_the_marker() {
    let init = Init::start(vec![
        sh("clocked", "exec sleep 100").with_wait_for_clock(true)
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(init.status("clocked").state, ServiceState::WaitingForClock);
    std::fs::write(init.path("run/paddock/clock-synced"), "").unwrap();
    init.wait_state("clocked", "running");
}

#[test]
fn orphans_are_reaped() {
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("orphan.pid");
    let init = Init::start(vec![sh(
        "parent",
        &format!(
            "( sleep 0.3 & echo $! > {} ); exec sleep 100",
            pidfile.display()
        ),
    )]);
    init.wait_for(Duration::from_secs(3), "orphan pid", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))
    });
    let orphan: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The orphan was re-parented to init, exits after 0.3 s, and must not stay a zombie.
    init.wait_for(Duration::from_secs(3), "orphan reaped", || !alive(orphan));
}

#[test]
fn stop_waits_for_the_grace_period_then_kills() {
    let init = Init::start(vec![
        sh(
            "polite",
            "trap 'echo bye; exit 0' TERM; echo ready; while true; do sleep 0.05; done",
        ),
        sh(
            "stubborn",
            "trap '' TERM; echo ready; while true; do sleep 0.05; done",
        ),
    ]);
    for name in ["polite", "stubborn"] {
        init.wait_for(Duration::from_secs(3), "ready", || {
            init.logs(name).contains(&"ready".to_string())
        });
    }
    let start = Instant::now();
    init.send(Request::Stop {
        name: "polite".into(),
    });
    let s = init.wait_state("polite", "stopped");
    assert_eq!(s.last_exit.as_deref(), Some("exit status 0"));
    assert!(init.logs("polite").contains(&"bye".to_string()));
    assert!(
        start.elapsed() < Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );

    let stubborn = init.status("stubborn").pid.unwrap();
    let start = Instant::now();
    init.send(Request::Stop {
        name: "stubborn".into(),
    });
    assert_eq!(init.status("stubborn").state, ServiceState::Stopping);
    let s = init.wait_state("stubborn", "stopped");
    assert!(
        start.elapsed() >= Duration::from_millis(650),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(s.last_exit.as_deref(), Some("signal SIGKILL"));
    assert!(!alive(stubborn));
    // Stopped stays stopped.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(init.status("stubborn").state, ServiceState::Stopped);
}

#[test]
fn poweroff_stops_everything_and_exits() {
    let mut init = Init::start(vec![
        sh("a", "exec sleep 100"),
        sh("stubborn", "trap '' TERM; while true; do sleep 0.05; done"),
    ]);
    let a = init.wait_state("a", "running").pid.unwrap();
    let stubborn = init.wait_state("stubborn", "running").pid.unwrap();
    assert!(init.send(Request::Poweroff).ok);
    let status = init.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status}");
    assert!(!alive(a) && !alive(stubborn));
    assert!(!init.socket().exists(), "socket removed");
}

/// With nothing to stop, init exits right after it handles the request;
/// the "ok" must still reach the asker first (CI once saw the connection
/// closed without a reply).
#[test]
fn poweroff_is_answered_before_init_exits() {
    for _ in 0..20 {
        let mut init = Init::start(vec![]);
        assert!(init.send(Request::Poweroff).ok);
        init.wait_exit(Duration::from_secs(5));
    }
}

#[test]
fn sigterm_shuts_down() {
    let mut init = Init::start(vec![sh("a", "exec sleep 100")]);
    let a = init.wait_state("a", "running").pid.unwrap();
    kill(
        Pid::from_raw(init.child.as_ref().unwrap().id() as i32),
        Signal::SIGTERM,
    )
    .unwrap();
    assert!(init.wait_exit(Duration::from_secs(5)).success());
    assert!(!alive(a));
}

#[test]
fn missing_program_backs_off() {
    let init = Init::start(vec![Service::new("ghost", "/nonexistent/ghost")]);
    init.wait_for(Duration::from_secs(3), "two attempts", || {
        init.logs("ghost")
            .iter()
            .filter(|l| l.contains("start /nonexistent/ghost"))
            .count()
            >= 2
    });
    let s = init.status("ghost");
    assert!(s.last_exit.unwrap().starts_with("start failed: "));
}

/// A fresh directory in this machine's cgroup v2 hierarchy (the device
/// mounts it at /sys/fs/cgroup; a hybrid host has it at
/// /sys/fs/cgroup/unified); removed (deepest first) on drop.
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn new(tag: &str) -> Self {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let v2 = mounts
            .lines()
            .map(|l| l.split(' ').collect::<Vec<_>>())
            .find(|f| f.len() > 2 && f[2] == "cgroup2")
            .map(|f| PathBuf::from(f[1]))
            .expect("no cgroup2 hierarchy mounted (mount -t cgroup2 none /sys/fs/cgroup/unified)");
        Self(v2.join(format!("paddock-init-test-{}-{tag}", std::process::id())))
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn services_run_in_their_own_cgroup_with_memory_and_start_time() {
    let cg = TestCgroup::new("services");
    let before = now_unix();
    let mut init = Init::start_with(
        vec![
            // A child in the background: it must land in the cgroup too.
            sh("forker", "sleep 100 & echo child $!; exec sleep 100"),
            sh("other", "exec sleep 100"),
        ],
        &["--cgroup-root".as_ref(), cg.0.as_os_str()],
    );
    let s = init.wait_state("forker", "running");
    let pid = s.pid.unwrap();
    init.wait_for(Duration::from_secs(3), "the child's pid", || {
        init.logs("forker").iter().any(|l| l.starts_with("child "))
    });
    let child: i32 = init
        .logs("forker")
        .iter()
        .find_map(|l| l.strip_prefix("child ").map(|p| p.parse().unwrap()))
        .unwrap();
    let procs = std::fs::read_to_string(cg.0.join("forker/cgroup.procs")).unwrap();
    let procs: Vec<i32> = procs.lines().map(|l| l.parse().unwrap()).collect();
    assert!(procs.contains(&pid), "{procs:?} lacks {pid}");
    assert!(procs.contains(&child), "{procs:?} lacks the child {child}");
    let other = init.wait_state("other", "running");
    let other_procs = std::fs::read_to_string(cg.0.join("other/cgroup.procs")).unwrap();
    assert_eq!(other_procs.trim(), other.pid.unwrap().to_string());

    // memory.current where the hierarchy has the memory controller, else
    // the process group's VmRSS: a running shell uses some either way.
    let memory = s.memory_bytes.expect("memory_bytes while running");
    assert!(memory > 0 && memory < 1 << 30, "{memory}");
    let started = s.started_at_unix.expect("started_at_unix while running");
    assert!(
        (before..=now_unix()).contains(&started),
        "{before} <= {started}"
    );

    // A restart is a new run; a stopped service has neither field.
    std::thread::sleep(Duration::from_millis(1100));
    init.send(Request::Restart {
        name: "other".into(),
    });
    init.wait_for(Duration::from_secs(3), "other's new run", || {
        let s = init.status("other");
        s.state == ServiceState::Running && s.pid != other.pid
    });
    assert!(init.status("other").started_at_unix.unwrap() > other.started_at_unix.unwrap());
    init.send(Request::Stop {
        name: "other".into(),
    });
    let stopped = init.wait_state("other", "stopped");
    assert_eq!(
        (stopped.memory_bytes, stopped.started_at_unix),
        (None, None)
    );

    init.send(Request::Poweroff);
    init.wait_exit(Duration::from_secs(5));
    // Stopped with its process group, so the cgroup can be removed.
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(child) {
        assert!(Instant::now() < deadline, "{child} outlived its service");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn without_cgroups_memory_comes_from_the_process_group() {
    let init = Init::start(vec![sh("plain", "sleep 100 & exec sleep 100")]);
    let s = init.wait_state("plain", "running");
    let memory = s.memory_bytes.expect("memory_bytes while running");
    // Two processes (the shell exec'd into sleep, the background sleep).
    let one = {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid.unwrap())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    assert!(memory >= one && one > 0, "{memory} < {one}");
    assert!(s.started_at_unix.is_some());
}
