//! `paddock-runner monitor` against real containers: status.json, log files and
//! rotation, the control socket (status, logs with follow, kill, wait), and a
//! create that fails.

mod common;

use std::io::{BufRead, Read, Write};
use std::process::Child;
use std::time::Duration;

use common::{alive, request, request_json, send, wait_until, Bundle};
use serde_json::{json, Value};

const START: Duration = Duration::from_secs(20);

/// Starts the monitor as our child; returns it once status.json says running.
fn start(b: &Bundle, extra: &[&str]) -> (Child, Value) {
    let child = b.monitor_command(extra).spawn().unwrap();
    let status = b.wait_for_state("running", START);
    wait_until(START, "monitor.sock", || b.socket().exists().then_some(()));
    (child, status)
}

/// Waits for the monitor to exit; returns its exit code.
fn finish(mut child: Child) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("monitor did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_lines(b: &Bundle, file: &str) -> Vec<String> {
    std::fs::read_to_string(b.log_dir().join(file))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `<timestamp> <stream> <text>` → (stream, text), checking the timestamp.
fn parse_line(line: &str) -> (String, String) {
    let mut parts = line.splitn(3, ' ');
    let stamp = parts.next().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok() && stamp.ends_with('Z'),
        "bad timestamp in {line:?}"
    );
    (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap_or("").to_owned(),
    )
}

#[test]
fn runs_to_completion_with_status_and_tagged_logs() {
    let b = Bundle::new(
        "mon-basic",
        &[
            "sh",
            "-c",
            "echo to-out; echo to-err >&2; sleep 0.3; exit 5",
        ],
    );
    let child = b.monitor_command(&[]).spawn().unwrap();
    let monitor_pid = child.id() as i32;
    let running = b.wait_for_state("running", START);
    assert_eq!(running["id"], b.id.as_str());
    assert_eq!(running["monitor_pid"], monitor_pid);
    assert!(running["pid"].as_i64().unwrap() > 0);
    assert!(chrono::DateTime::parse_from_rfc3339(running["started_at"].as_str().unwrap()).is_ok());
    assert_eq!(running["finished_at"], Value::Null);
    assert_eq!(running["exit_code"], Value::Null);

    assert_eq!(finish(child), 0);
    let done = b.status();
    assert_eq!(done["state"], "exited");
    assert_eq!(done["exit_code"], 5);
    assert_eq!(done["exit_signal"], Value::Null);
    assert_eq!(done["error"], Value::Null);
    assert!(chrono::DateTime::parse_from_rfc3339(done["finished_at"].as_str().unwrap()).is_ok());

    let lines: Vec<(String, String)> = log_lines(&b, "current.log")
        .iter()
        .map(|l| parse_line(l))
        .collect();
    assert!(
        lines.contains(&("stdout".into(), "to-out".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("stderr".into(), "to-err".into())),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 2, "{lines:?}");

    // The container is deleted: no state, no cgroup, no socket.
    assert!(!b.root().join(&b.id).exists());
    for dir in b.cgroup_dirs() {
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
    assert!(!b.socket().exists());
}

#[test]
fn control_socket_status_logs_follow_kill_wait() {
    let b = Bundle::new(
        "mon-control",
        &[
            "sh",
            "-c",
            "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.05; done",
        ],
    );
    // A shell that is not pid 1 of a namespace dies of SIGTERM.
    b.without_pid_namespace();
    let (child, running) = start(&b, &["--log-buffer-lines", "5"]);

    let status = request_json(&b.socket(), &json!({"op": "status"}));
    assert_eq!(status, running);

    // Wait until the ring buffer has overflowed, then ask for all of it.
    wait_until(START, "7 lines of output", || {
        (log_lines(&b, "current.log").len() >= 7).then_some(())
    });
    let all = request(&b.socket(), &json!({"op": "logs"}));
    let ring: Vec<(String, String)> = all.lines().map(parse_line).collect();
    assert_eq!(ring.len(), 5, "ring holds --log-buffer-lines lines: {all}");
    let numbers: Vec<u64> = ring
        .iter()
        .map(|(stream, text)| {
            assert_eq!(stream, "stdout");
            text.strip_prefix("line ").unwrap().parse().unwrap()
        })
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    assert!(numbers[0] >= 2, "older lines are dropped: {numbers:?}");
    let tail = request(&b.socket(), &json!({"op": "logs", "tail": 2}));
    assert_eq!(tail.lines().count(), 2);

    // Follow: the last line, then new ones as they come.
    let mut follow = send(
        &b.socket(),
        &json!({"op": "logs", "tail": 1, "follow": true}),
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        let mut line = String::new();
        follow.read_line(&mut line).unwrap();
        let (_, text) = parse_line(line.trim_end());
        seen.push(text.strip_prefix("line ").unwrap().parse::<u64>().unwrap());
    }
    assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");

    // A waiter, then kill: the waiter learns the exit, the follower is closed.
    let mut waiter = send(&b.socket(), &json!({"op": "wait"}));
    std::thread::sleep(Duration::from_millis(100));
    let killed = request_json(&b.socket(), &json!({"op": "kill", "signal": 15}));
    assert_eq!(killed, json!({"ok": true}));
    let mut line = String::new();
    waiter.read_line(&mut line).unwrap();
    let exited: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(exited["state"], "exited");
    assert_eq!(exited["exit_signal"], 15);
    assert_eq!(exited["exit_code"], 143);
    let mut rest = String::new();
    follow.read_to_string(&mut rest).unwrap(); // ends: EOF
    assert_eq!(finish(child), 0);
    assert_eq!(b.status(), exited);
}

#[test]
fn control_socket_copes_with_odd_clients() {
    let b = Bundle::new("mon-bad", &["sleep", "1000"]);
    let (child, _) = start(&b, &[]);
    let answer = request_json(&b.socket(), &json!({"op": "reboot"}));
    assert_eq!(answer["ok"], false);
    assert!(answer["error"].as_str().unwrap().contains("bad request"));
    let answer = request_json(&b.socket(), &json!({"op": "kill", "signal": "NOPE"}));
    assert_eq!(answer["ok"], false);
    // A client that connects and leaves without a word.
    drop(std::os::unix::net::UnixStream::connect(b.socket()).unwrap());
    assert_eq!(
        request_json(&b.socket(), &json!({"op": "status"}))["state"],
        "running"
    );
    // A request without newline counts once the client shuts down writing.
    let mut half = std::os::unix::net::UnixStream::connect(b.socket()).unwrap();
    half.write_all(br#"{"op":"status"}"#).unwrap();
    half.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    half.read_to_string(&mut answer).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["state"],
        "running"
    );
    // A waiter that shut down its sending side still gets the exit.
    let mut waiter = send(&b.socket(), &json!({"op": "wait"}));
    waiter
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // SIGKILL reaches init even in its own pid namespace.
    let killed = request_json(&b.socket(), &json!({"op": "kill", "signal": "KILL"}));
    assert_eq!(killed, json!({"ok": true}));
    let mut line = String::new();
    waiter.read_line(&mut line).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&line).unwrap()["exit_code"],
        137
    );
    assert_eq!(finish(child), 0);
    assert_eq!(b.status()["exit_signal"], 9);
    assert_eq!(b.status()["exit_code"], 137);
}

#[test]
fn signals_to_the_monitor_are_forwarded() {
    let b = Bundle::new("mon-forward", &["sleep", "1000"]);
    b.without_pid_namespace();
    let (child, running) = start(&b, &[]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .unwrap();
    assert_eq!(finish(child), 0, "the monitor outlives its container");
    let done = b.status();
    assert_eq!(done["exit_signal"], 10, "SIGUSR1 killed the container");
    assert!(!alive(running["pid"].as_i64().unwrap() as i32));
}

#[test]
fn log_files_rotate_within_max_bytes_times_max_files() {
    let script = "i=0; while [ $i -lt 4000 ]; do \
                  echo \"line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; \
                  i=$((i+1)); done";
    let b = Bundle::new("mon-rotate", &["sh", "-c", script]);
    let child = b
        .monitor_command(&["--log-max-bytes", "32768", "--log-max-files", "3"])
        .spawn()
        .unwrap();
    assert_eq!(finish(child), 0);
    assert_eq!(b.status()["exit_code"], 0);
    let mut names: Vec<String> = std::fs::read_dir(b.log_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["current.log", "current.log.1", "current.log.2"]);
    for name in &names {
        let size = std::fs::metadata(b.log_dir().join(name)).unwrap().len();
        assert!(size <= 32768, "{name} has {size} bytes");
    }
    // Oldest first: .2, .1, current, with consecutive line numbers throughout.
    let mut numbers = Vec::new();
    for name in ["current.log.2", "current.log.1", "current.log"] {
        for line in log_lines(&b, name) {
            let (stream, text) = parse_line(&line);
            assert_eq!(stream, "stdout");
            let n: u64 = text.split(' ').nth(1).unwrap().parse().unwrap();
            numbers.push(n);
        }
    }
    assert_eq!(*numbers.last().unwrap(), 3999);
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(numbers[0] > 0, "the oldest file was dropped");
}

#[test]
fn failed_create_reports_failed_and_exits_1() {
    let b = Bundle::new("mon-fail", &["/no/such/program"]);
    let child = b.monitor_command(&[]).spawn().unwrap();
    assert_eq!(finish(child), 1);
    let status = b.status();
    assert_eq!(status["state"], "failed");
    let error = status["error"].as_str().unwrap();
    assert!(error.contains("/no/such/program"), "error: {error}");
    assert_eq!(status["pid"], Value::Null);
    assert!(!b.root().join(&b.id).exists(), "nothing left in --root");
    for dir in b.cgroup_dirs() {
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
    assert!(!b.socket().exists());
}

#[test]
fn tty_output_is_logged_as_stdout() {
    let b = Bundle::new("mon-tty", &["sh", "-c", "tty; echo to-err >&2"]);
    b.configure(|c| c["process"]["terminal"] = Value::Bool(true));
    let child = b.monitor_command(&["--tty"]).spawn().unwrap();
    assert_eq!(finish(child), 0);
    assert_eq!(b.status()["exit_code"], 0);
    let lines: Vec<(String, String)> = log_lines(&b, "current.log")
        .iter()
        .map(|l| parse_line(l))
        .collect();
    assert_eq!(lines[0].0, "stdout");
    assert!(lines[0].1.starts_with("/dev/pts/"), "{lines:?}");
    assert_eq!(lines[1], ("stdout".into(), "to-err".into()));
}

#[test]
fn tty_flag_without_terminal_in_config_fails() {
    let b = Bundle::new("mon-notty", &["true"]);
    let child = b.monitor_command(&["--tty"]).spawn().unwrap();
    assert_eq!(finish(child), 1);
    let status = b.status();
    assert_eq!(status["state"], "failed");
    assert!(status["error"].as_str().unwrap().contains("terminal"));
}

#[test]
fn a_stale_container_of_the_same_id_is_replaced() {
    let b = Bundle::new("mon-stale", &["sleep", "1000"]);
    b.detached(&["create", "-b", b.dir().to_str().unwrap(), &b.id]);
    let stale_pid = b.state()["pid"].as_i64().unwrap() as i32;
    b.configure(|c| c["process"]["args"] = json!(["sh", "-c", "echo fresh"]));
    let child = b.monitor_command(&[]).spawn().unwrap();
    assert_eq!(finish(child), 0);
    assert_eq!(b.status()["exit_code"], 0);
    assert!(!alive(stale_pid), "the stale container was killed");
    let lines = log_lines(&b, "current.log");
    assert_eq!(parse_line(&lines[0]).1, "fresh");
}
