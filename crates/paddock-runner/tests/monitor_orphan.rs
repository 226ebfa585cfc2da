//! The monitor outlives its parent: paddockd can crash or be upgraded while
//! containers keep running. Its own test binary, because it makes the test
//! process a child subreaper (to collect the orphaned monitor at the end).

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{alive, request_json, wait_until, Bundle};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use serde_json::json;

#[test]
fn monitor_survives_its_parent_being_killed() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let b = Bundle::new(
        "mon-orphan",
        &["sh", "-c", "while true; do echo tick; sleep 0.1; done"],
    );
    let monitor = b.monitor_command(&[]);
    // The intermediate parent: a shell that starts the monitor, says its pid
    // and waits. Its stdout is a pipe; the monitor's is /dev/null.
    let mut argv = vec![monitor.get_program().to_owned()];
    argv.extend(monitor.get_args().map(|a| a.to_owned()));
    let mut parent = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#""$@" </dev/null >/dev/null 2>&1 & echo $!; wait"#)
        .arg("sh")
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let monitor_pid: i32 = line.trim().parse().unwrap();
    b.wait_for_state("running", Duration::from_secs(20));
    wait_until(Duration::from_secs(20), "socket", || {
        b.socket().exists().then_some(())
    });

    kill(Pid::from_raw(parent.id() as i32), Signal::SIGKILL).unwrap();
    parent.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));

    assert!(alive(monitor_pid), "the monitor died with its parent");
    let status = request_json(&b.socket(), &json!({"op": "status"}));
    assert_eq!(status["state"], "running");
    assert_eq!(status["monitor_pid"], monitor_pid);
    let container_pid = status["pid"].as_i64().unwrap() as i32;
    assert!(alive(container_pid));
    // Output still flows.
    let lines_before = std::fs::read_to_string(b.log_dir().join("current.log"))
        .unwrap()
        .lines()
        .count();
    wait_until(Duration::from_secs(10), "more output", || {
        let now = std::fs::read_to_string(b.log_dir().join("current.log"))
            .unwrap()
            .lines()
            .count();
        (now > lines_before).then_some(())
    });

    let killed = request_json(&b.socket(), &json!({"op": "kill", "signal": 9}));
    assert_eq!(killed, json!({"ok": true}));
    // The orphaned monitor is now our child (we are a subreaper): collect it.
    let status = waitpid(Pid::from_raw(monitor_pid), None).unwrap();
    assert_eq!(status, WaitStatus::Exited(Pid::from_raw(monitor_pid), 0));
    assert_eq!(b.status()["exit_signal"], 9);
}
