//! The runc command line against real containers: run, the create → start →
//! state → kill → delete lifecycle, exec with and without a terminal.

mod common;

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{wait_until, Bundle};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

#[test]
fn run_prints_and_exits_zero() {
    let b = Bundle::new("run-echo", &["echo", "hello from busybox"]);
    let out = b.output(&["run", "--bundle", b.dir().to_str().unwrap(), &b.id]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from busybox\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!b.root().join(&b.id).exists(), "run deletes the container");
    for dir in b.cgroup_dirs() {
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
}

#[test]
fn run_exits_with_the_container_status() {
    let b = Bundle::new("run-exit", &["sh", "-c", "echo to-stderr >&2; exit 3"]);
    let out = b.output(&["run", "-b", b.dir().to_str().unwrap(), &b.id]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("to-stderr"));
}

#[test]
fn run_detached_then_kill_and_delete() {
    let b = Bundle::new("run-detach", &["sleep", "1000"]);
    b.detached(&["run", "-d", "-b", b.dir().to_str().unwrap(), &b.id]);
    assert_eq!(b.state()["status"], "running");
    b.ok(&["kill", &b.id, "9"]);
    wait_until(Duration::from_secs(10), "stopped", || {
        (b.state()["status"] == "stopped").then_some(())
    });
    b.ok(&["delete", &b.id]);
}

#[test]
fn lifecycle_create_start_state_kill_delete() {
    let b = Bundle::new("lifecycle", &["sleep", "1000"]);
    let pid_file = b.path("pid");
    b.detached(&[
        "create",
        "--bundle",
        b.dir().to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &b.id,
    ]);
    let state = b.state();
    assert_eq!(state["id"], b.id.as_str());
    assert_eq!(state["status"], "created");
    assert!(state["ociVersion"].as_str().unwrap().starts_with("1."));
    assert_eq!(
        state["bundle"],
        b.dir().canonicalize().unwrap().to_str().unwrap()
    );
    let pid = state["pid"].as_i64().unwrap();
    let from_file: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, from_file);
    assert!(common::alive(pid as i32));

    // Deleting a running container needs --force.
    b.ok(&["start", &b.id]);
    assert_eq!(b.state()["status"], "running");
    let refused = b.output(&["delete", &b.id]);
    assert!(!refused.status.success());
    assert_eq!(b.state()["status"], "running");

    // SIGKILL by name reaches the container's init (pid 1 in its namespace).
    b.ok(&["kill", &b.id, "KILL"]);
    let stopped = wait_until(Duration::from_secs(10), "stopped", || {
        let s = b.state();
        (s["status"] == "stopped").then_some(s)
    });
    assert!(
        stopped.get("pid").is_none(),
        "a stopped container has no pid"
    );
    b.ok(&["delete", &b.id]);
    assert!(!b.root().join(&b.id).exists());
    let gone = b.output(&["state", &b.id]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("does not exist"));
    // --force on a missing container is fine, as with runc.
    b.ok(&["delete", "--force", &b.id]);
}

#[test]
fn kill_defaults_to_sigterm_and_accepts_numbers() {
    let b = Bundle::new("kill-term", &["sleep", "1000"]);
    b.without_pid_namespace();
    b.detached(&["run", "-d", "-b", b.dir().to_str().unwrap(), &b.id]);
    let bad = b.output(&["kill", &b.id, "NOSUCHSIGNAL"]);
    assert!(!bad.status.success());
    assert_eq!(b.state()["status"], "running");
    b.ok(&["kill", &b.id]);
    wait_until(Duration::from_secs(10), "stopped", || {
        (b.state()["status"] == "stopped").then_some(())
    });
}

#[test]
fn create_refuses_a_terminal_without_console_socket() {
    let b = Bundle::new("no-console", &["sh"]);
    b.configure(|c| c["process"]["terminal"] = serde_json::Value::Bool(true));
    let out = b
        .runner(&["create", "-b", b.dir().to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("console"),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !b.root().join(&b.id).exists(),
        "a failed create leaves nothing"
    );
}

#[test]
fn exec_without_tty_returns_output_and_status() {
    let b = Bundle::new("exec", &["sleep", "1000"]);
    b.detached(&["run", "-d", "-b", b.dir().to_str().unwrap(), &b.id]);
    let out = b.output(&[
        "exec",
        "--env",
        "GREETING=hi",
        "--cwd",
        "/bin",
        &b.id,
        "--",
        "sh",
        "-c",
        "echo $GREETING; pwd; echo oops >&2; exit 7",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n/bin\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    assert_eq!(out.status.code(), Some(7));

    let user = b.ok(&["exec", "--user", "1000:1001", &b.id, "--", "id", "-u"]);
    assert_eq!(user, "1000\n");

    // The exec'd process shares the container's pid namespace.
    let ps = b.ok(&["exec", &b.id, "--", "cat", "/proc/1/cmdline"]);
    assert_eq!(ps, "sleep\u{0}1000\u{0}");

    // --detach: the runner returns at once, the process runs on.
    b.detached(&[
        "exec",
        "-d",
        &b.id,
        "--",
        "sh",
        "-c",
        "sleep 0.2; echo done > /dev/shm/marker",
    ]);
    wait_until(Duration::from_secs(10), "the detached exec", || {
        let out = b.output(&["exec", &b.id, "--", "cat", "/dev/shm/marker"]);
        (String::from_utf8_lossy(&out.stdout) == "done\n").then_some(())
    });

    let missing = b.output(&["exec", "no-such-container", "--", "true"]);
    assert!(!missing.status.success());
}

/// Runs `cmd` with a fresh 33x111 pty as its controlling terminal and stdio,
/// writes `input` to the terminal; returns all it wrote and its exit code.
fn under_pty(mut cmd: Command, input: &[u8]) -> (String, i32) {
    let size = nix::pty::Winsize {
        ws_row: 33,
        ws_col: 111,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).unwrap();
    let slave: OwnedFd = pty.slave;
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()));
    // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    // Our copies of the slave must go, or reading the master never ends.
    drop(cmd);
    drop(slave);
    let mut master = std::fs::File::from(pty.master);
    if !input.is_empty() {
        std::io::Write::write_all(&mut master, input).unwrap();
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(20_000u16)).unwrap();
        assert!(
            ready > 0,
            "no output for 20 s: {:?}",
            String::from_utf8_lossy(&out)
        );
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break, // all slaves closed
            Err(e) => panic!("read pty: {e}"),
        }
    }
    let status = child.wait().unwrap();
    (
        String::from_utf8_lossy(&out).into_owned(),
        status.code().unwrap_or(-1),
    )
}

fn lines(out: &str) -> Vec<&str> {
    out.lines().map(|l| l.trim_end_matches('\r')).collect()
}

#[test]
fn exec_with_tty_gets_a_pty_of_the_callers_size() {
    let b = Bundle::new("exec-tty", &["sleep", "1000"]);
    b.detached(&["run", "-d", "-b", b.dir().to_str().unwrap(), &b.id]);
    let (out, code) = under_pty(
        b.runner(&[
            "exec",
            "-t",
            &b.id,
            "--",
            "sh",
            "-c",
            "tty; stty size; exit 4",
        ]),
        b"",
    );
    assert_eq!(code, 4, "output: {out:?}");
    let lines = lines(&out);
    assert!(
        lines[0].starts_with("/dev/pts/"),
        "tty printed {out:?} (not a pty)"
    );
    assert_eq!(lines[1], "33 111", "window size not passed on: {out:?}");
}

#[test]
fn exec_with_tty_relays_input() {
    let b = Bundle::new("exec-input", &["sleep", "1000"]);
    b.detached(&["run", "-d", "-b", b.dir().to_str().unwrap(), &b.id]);
    // Raw mode: the container's line discipline echoes and cooks the input.
    let (out, code) = under_pty(
        b.runner(&[
            "exec",
            "-t",
            &b.id,
            "--",
            "sh",
            "-c",
            "read line; echo got:$line",
        ]),
        b"typed text\r",
    );
    assert_eq!(code, 0, "output: {out:?}");
    assert!(out.contains("got:typed text"), "output: {out:?}");
}

#[test]
fn run_with_terminal_relays_the_pty() {
    let b = Bundle::new("run-tty", &["sh", "-c", "tty; exit 2"]);
    b.configure(|c| c["process"]["terminal"] = serde_json::Value::Bool(true));
    let (out, code) = under_pty(
        b.runner(&["run", "-b", b.dir().to_str().unwrap(), &b.id]),
        b"",
    );
    assert_eq!(code, 2, "output: {out:?}");
    assert!(out.contains("/dev/pts/0"), "output: {out:?}");
    assert!(!b.root().join(&b.id).exists());
}

#[test]
fn exec_tty_restores_the_terminal() {
    let b = Bundle::new("exec-stty", &["sleep", "1000"]);
    b.detached(&["run", "-d", "-b", b.dir().to_str().unwrap(), &b.id]);
    // The caller's terminal settings before and after an exec -t, on one pty.
    let script = format!(
        "stty -g; {} --root {} exec -t {} -- true; stty -g",
        common::RUNNER,
        b.root().display(),
        b.id
    );
    let mut sh = Command::new("/bin/sh");
    sh.args(["-c", &script]);
    let (out, code) = under_pty(sh, b"");
    assert_eq!(code, 0, "output: {out:?}");
    let settings: Vec<&str> = lines(&out)
        .into_iter()
        .filter(|l| l.contains(':'))
        .collect();
    assert_eq!(settings.len(), 2, "output: {out:?}");
    assert_eq!(settings[0], settings[1], "terminal not restored");
}

#[test]
fn exec_keeps_the_containers_seccomp_profile() {
    let b = Bundle::new("exec-seccomp", &["sleep", "1000"]);
    b.configure(|c| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        });
        // Without no_new_privs, as docker runs containers: the harder case.
        c["process"]
            .as_object_mut()
            .unwrap()
            .remove("noNewPrivileges");
    });
    b.detached(&["run", "-d", "-b", b.dir().to_str().unwrap(), &b.id]);
    let out = b.output(&[
        "exec",
        &b.id,
        "--",
        "sh",
        "-c",
        "mkdir /dev/shm/d; echo rc=$?; grep Seccomp: /proc/self/status",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rc=1"), "mkdir was allowed: {stdout}");
    assert!(stdout.contains("Seccomp:\t2"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
}

#[test]
fn run_forwards_signals_to_the_container() {
    let b = Bundle::new("run-forward", &["sleep", "1000"]);
    b.without_pid_namespace();
    let out = std::fs::File::create(b.path("run.out")).unwrap();
    let mut runner = b
        .runner(&["run", "-b", b.dir().to_str().unwrap(), &b.id])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(20), "running", || {
        let state = b.output(&["state", &b.id]);
        let state: serde_json::Value = serde_json::from_slice(&state.stdout).ok()?;
        (state["status"] == "running").then_some(())
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(runner.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = runner.wait().unwrap();
    assert_eq!(status.code(), Some(143), "the container died of SIGTERM");
    assert!(!b.root().join(&b.id).exists());
}
