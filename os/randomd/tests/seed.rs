//! paddock-randomd as a process with a seed in a temporary directory: the
//! saved seed is credited to the real /dev/urandom (as root) and replaced at
//! start, periodically and at SIGTERM.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

#[test]
fn credits_replaces_and_saves_at_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("random-seed");
    let old = vec![7u8; 64];
    std::fs::write(&seed, &old).unwrap();
    // What a save cut short by a power cut leaves (its writer is gone).
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    std::fs::write(tmp.path().join(format!(".tmp-{dead_pid}-cut")), b"half").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_paddock-randomd"))
        .arg("--seed")
        .arg(&seed)
        .args(["--size", "256", "--interval-secs", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("replaced seed", Duration::from_secs(5), || {
        read(&seed).len() == 256
    });
    let first = read(&seed);
    assert_ne!(first[..64], old[..], "fresh bytes, not the old seed");
    // Hourly in production; every second here.
    wait_until("periodic save", Duration::from_secs(5), || {
        read(&seed) != first
    });
    let periodic = read(&seed);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let last = read(&seed);
    assert_eq!(last.len(), 256);
    assert_ne!(last, periodic, "saved again at SIGTERM");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("credited saved seed"), "{err}");
    let temps: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
}

#[test]
fn first_boot_and_unwritable_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("random-seed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_paddock-randomd"))
        .arg("--seed")
        .arg(&seed)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("first seed", Duration::from_secs(5), || {
        read(&seed).len() == 512
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());

    // No /perm: it keeps running (and would save later) instead of crash-looping.
    let mut child = Command::new(env!("CARGO_BIN_EXE_paddock-randomd"))
        .args(["--seed", "/nonexistent/dir/random-seed"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none());
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("save seed to /nonexistent/dir/random-seed"),
        "{err}"
    );
}
