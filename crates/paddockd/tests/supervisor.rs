//! paddockd end to end on the host: real registry, real images built by
//! `paddock image build`, real containers, the real CLI.

use paddock_testkit as support;

use std::time::{Duration, Instant};

use support::instance::{push_busybox, Instance};
use support::registry::TestRegistry;

/// A registry with a busybox image, and an instance that may pull from it.
fn setup() -> (TestRegistry, Instance, String) {
    let registry = TestRegistry::start();
    let inst = Instance::new(&[registry.host_port()]);
    let image = push_busybox(&registry.host_port(), "test/busybox:1", inst.root());
    (registry, inst, image)
}

fn manifest(name: &str, image: &str, extra: &str) -> String {
    format!("name: {name}\nimage: {image}\n{extra}")
}

#[test]
fn runs_containers_and_shows_their_logs() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "hello.yaml",
        &manifest(
            "hello",
            &image,
            "command: [sh, -c, 'echo hello from $(hostname); echo to stderr >&2; exec sleep 1000']\nnetwork: host\nrestart: always\n",
        ),
    );
    inst.write_manifest(
        "quiet.yaml",
        &manifest("quiet", &image, "command: [sleep, '1000']\nnetwork: none\n"),
    );
    inst.start();
    let hello = inst.wait_state("hello", "running");
    assert!(hello["pid"].as_i64().unwrap() > 0);
    assert!(hello["image_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    inst.wait_state("quiet", "running");
    let logs = inst.wait_for(Duration::from_secs(10), "hello's output", || {
        let l = inst.logs("hello");
        (l.contains("hello from") && l.contains("to stderr")).then_some(l)
    });
    assert!(logs.contains(" stdout hello from"), "{logs}");
    assert!(logs.contains(" stderr to stderr"), "{logs}");
    // Rotated log files exist on disk too.
    let file = inst.root().join("var/log/paddock/hello/current.log");
    assert!(std::fs::read_to_string(file)
        .unwrap()
        .contains("hello from"));
}

#[test]
fn var_is_bind_mounted_from_perm() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "a.yaml",
        &manifest("a", &image, "command: [sleep, '1000']\n"),
    );
    inst.start();
    inst.wait_state("a", "running");
    let var = inst.root().canonicalize().unwrap().join("var");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        mountinfo
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(var.to_str().unwrap())),
        "{} is not a mount point",
        var.display()
    );
    // The store lives on /perm.
    assert!(inst
        .root()
        .join("perm/container-storage/lib/paddock/blobs/sha256")
        .is_dir());
}

#[test]
fn a_bad_manifest_is_reported_and_the_others_run() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "good.yaml",
        &manifest("good", &image, "command: [sleep, '1000']\n"),
    );
    inst.write_manifest(
        "bad.yaml",
        &manifest(
            "bad",
            &image,
            "command: [sleep, '1000']\nrestart: sometimes\n",
        ),
    );
    inst.start();
    inst.wait_state("good", "running");
    let bad = inst.wait_state("bad", "invalid");
    let error = bad["last_error"].as_str().unwrap();
    assert!(error.contains("bad.yaml:4:"), "{error}");
}

#[test]
fn a_crash_looping_container_backs_off_while_others_run() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "crash.yaml",
        &manifest(
            "crash",
            &image,
            "command: [sh, -c, 'echo boom; exit 3']\nrestart: always\n",
        ),
    );
    inst.write_manifest(
        "steady.yaml",
        &manifest("steady", &image, "command: [sleep, '1000']\n"),
    );
    inst.start();
    let steady = inst.wait_state("steady", "running");
    std::thread::sleep(Duration::from_secs(4));
    let crash = inst.container("crash").unwrap();
    let restarts = crash["restarts"].as_u64().unwrap();
    // 100 ms doubling, capped at 2 s: about 5-6 restarts in 4 s; without
    // backoff it would be hundreds.
    assert!((2..=10).contains(&restarts), "restarts: {restarts}");
    assert_eq!(crash["last_exit_code"], 3);
    let steady_now = inst.container("steady").unwrap();
    assert_eq!(steady_now["state"], "running");
    assert_eq!(
        steady_now["pid"], steady["pid"],
        "the steady container was not touched"
    );
}

#[test]
fn on_failure_with_a_maximum_gives_up() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "flaky.yaml",
        &manifest(
            "flaky",
            &image,
            "command: [sh, -c, 'exit 1']\nrestart: on-failure:2\n",
        ),
    );
    inst.write_manifest(
        "once.yaml",
        &manifest(
            "once",
            &image,
            "command: [sh, -c, 'exit 0']\nrestart: on-failure\n",
        ),
    );
    inst.start();
    let flaky = inst.wait_state("flaky", "exited");
    assert_eq!(flaky["restarts"], 2);
    let once = inst.wait_state("once", "exited");
    assert_eq!(once["restarts"], 0);
    assert_eq!(once["last_exit_code"], 0);
}

#[test]
fn stop_escalates_to_sigkill_after_the_grace_period() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "stubborn.yaml",
        &manifest(
            "stubborn",
            &image,
            "command: [sh, -c, 'trap \"echo ignoring\" TERM; while true; do sleep 0.1; done']\nstop_grace_period: 1s\n",
        ),
    );
    inst.write_manifest(
        "polite.yaml",
        &manifest(
            "polite",
            &image,
            "command: [sleep, '1000']\nstop_signal: SIGKILL\nstop_grace_period: 30s\n",
        ),
    );
    inst.start();
    inst.wait_state("stubborn", "running");
    inst.wait_state("polite", "running");
    let t = Instant::now();
    let out = inst.paddock(&["stop", "stubborn"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "stopped too early: {took:?}"
    );
    let s = inst.wait_state("stubborn", "stopped");
    assert_eq!(s["last_exit_code"], 137, "{s}");
    let t = Instant::now();
    assert!(inst.paddock(&["stop", "polite"]).status.success());
    assert!(t.elapsed() < Duration::from_secs(10));
    inst.wait_state("polite", "stopped");
    // A stopped container stays stopped until started.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inst.container("polite").unwrap()["state"], "stopped");
    assert!(inst.paddock(&["start", "polite"]).status.success());
    inst.wait_state("polite", "running");
    // A restart waits for the old monitor to be gone; it never fails.
    for _ in 0..3 {
        let out = inst.paddock(&["restart", "polite"]);
        assert!(!String::from_utf8_lossy(&out.stdout).contains("failed"));
        let c = inst.wait_state("polite", "running");
        assert!(c["last_error"].is_null(), "{c}");
    }
}

#[test]
fn sigkilled_paddockd_re_adopts_running_containers() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "keep.yaml",
        &manifest(
            "keep",
            &image,
            "command: [sh, -c, 'echo started; exec sleep 1000']\n",
        ),
    );
    inst.start();
    let before = inst.wait_state("keep", "running");
    inst.kill_daemon();
    let pid = before["pid"].as_i64().unwrap() as i32;
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok(),
        "the container died with paddockd"
    );
    inst.start();
    let after = inst.wait_state("keep", "running");
    assert_eq!(after["pid"], before["pid"], "re-adopted, not restarted");
    assert_eq!(after["restarts"], 0);
    // Exactly one monitor runs for it.
    let monitors = std::process::Command::new("pgrep")
        .args([
            "-f",
            &format!("monitor --id keep --bundle {}", inst.root().display()),
        ])
        .output()
        .unwrap();
    let count = String::from_utf8_lossy(&monitors.stdout).lines().count();
    assert_eq!(
        count,
        1,
        "monitors: {}",
        String::from_utf8_lossy(&monitors.stdout)
    );
    // The re-adopted container is still controllable.
    assert!(inst.paddock(&["restart", "keep"]).status.success());
    let restarted = inst.wait_state("keep", "running");
    assert_ne!(restarted["pid"], before["pid"]);
}

#[test]
fn exec_runs_commands_inside_the_container() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "box.yaml",
        &manifest(
            "box",
            &image,
            "command: [sh, -c, 'echo inside > /tmp/marker; exec sleep 1000']\nhostname: boxhost\n",
        ),
    );
    inst.start();
    inst.wait_state("box", "running");
    inst.wait_for(Duration::from_secs(5), "the marker", || {
        let out = inst.paddock(&["exec", "box", "--", "cat", "/tmp/marker"]);
        (String::from_utf8_lossy(&out.stdout) == "inside\n").then_some(())
    });
    let out = inst.paddock(&[
        "exec",
        "box",
        "--",
        "sh",
        "-c",
        "hostname; echo err >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "boxhost\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    // Without a terminal: stdin is not a tty.
    let out = inst.paddock(&[
        "exec",
        "box",
        "--",
        "sh",
        "-c",
        "test -t 0 && echo tty || echo notty",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "notty\n");
}

#[test]
fn exec_with_a_tty_gets_a_terminal() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "box.yaml",
        &manifest("box", &image, "command: [sleep, '1000']\n"),
    );
    inst.start();
    inst.wait_state("box", "running");
    // Run the CLI under `script` so it has a terminal of its own.
    support::instance::require_tool("script", "bsdutils");
    // 20000 lines: more than a pty buffer holds, so output must flow while
    // the command runs.
    let cmd = format!(
        "{} --root {} exec -t box -- sh -c 'tty; seq 1 20000 | tail -n 1; seq 1 20000 >/dev/tty; echo end'",
        support::instance::bin("paddock").display(),
        inst.root().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("COLUMNS", "100")
        .env("LINES", "40")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(
        text.contains("19999\r\n20000\r\nend"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert!(out.status.success(), "{text}");
}

#[test]
fn logs_rotate_within_their_bounds() {
    let (_registry, mut inst, image) = setup();
    inst.write_daemon_config(
        "clock:\n  wait: false\nlogs:\n  max_file_bytes: 40000\n  max_files: 2\n  buffer_lines: 50\n",
    );
    inst.write_manifest(
        "chatty.yaml",
        &manifest(
            "chatty",
            &image,
            "command: [sh, -c, 'i=0; while [ $i -lt 6000 ]; do echo line $i; i=$((i+1)); done; echo done; exec sleep 1000']\n",
        ),
    );
    inst.start();
    inst.wait_state("chatty", "running");
    let dir = inst.root().join("var/log/paddock/chatty");
    inst.wait_for(Duration::from_secs(20), "the last line", || {
        std::fs::read_to_string(dir.join("current.log"))
            .ok()
            .filter(|t| t.contains(" done"))
    });
    let mut total = 0;
    let mut files = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let len = e.metadata().unwrap().len();
        assert!(len <= 40000 + 200, "{:?} is {len} bytes", e.path());
        total += len;
        files += 1;
    }
    assert!(files <= 3, "{files} files");
    assert!(total <= 3 * 40200);
    assert!(total >= 2 * 30000, "rotation kept too little: {total}");
    // The in-memory buffer keeps the last 50 lines.
    let logs = inst.logs("chatty");
    assert_eq!(logs.lines().count(), 50, "{logs}");
    assert!(logs.lines().last().unwrap().ends_with("done"));
}

#[test]
fn the_clock_gates_containers_that_wait_for_it() {
    let (_registry, mut inst, image) = setup();
    inst.write_daemon_config(
        "clock:\n  wait: true\n  not_before: '2999-01-01T00:00:00Z'\n  poll_interval: 50ms\n",
    );
    inst.write_manifest(
        "patient.yaml",
        &manifest("patient", &image, "command: [sleep, '1000']\n"),
    );
    inst.write_manifest(
        "eager.yaml",
        &manifest(
            "eager",
            &image,
            "command: [sleep, '1000']\nwait_for_clock: false\n",
        ),
    );
    inst.start();
    inst.wait_state("eager", "running");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inst.container("patient").unwrap()["state"], "waiting");
    std::fs::write(inst.root().join("run/paddock/clock-synced"), b"").unwrap();
    inst.wait_state("patient", "running");
}

#[test]
fn apply_restarts_only_what_changed() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "a.yaml",
        &manifest("a", &image, "command: [sleep, '1000']\n"),
    );
    inst.write_manifest(
        "b.yaml",
        &manifest("b", &image, "command: [sleep, '1000']\n"),
    );
    inst.write_manifest(
        "c.yaml",
        &manifest("c", &image, "command: [sleep, '1000']\n"),
    );
    inst.start();
    let a = inst.wait_state("a", "running");
    let b = inst.wait_state("b", "running");
    inst.wait_state("c", "running");
    inst.write_manifest(
        "b.yaml",
        &manifest("b", &image, "command: [sleep, '2000']\n"),
    );
    inst.remove_manifest("c.yaml");
    let out = inst.paddock(&["apply"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("recreated: b"), "{text}");
    assert!(text.contains("removed: c"), "{text}");
    assert!(text.contains("unchanged: a"), "{text}");
    assert_eq!(inst.container("a").unwrap()["pid"], a["pid"]);
    let b2 = inst.wait_state("b", "running");
    assert_ne!(b2["pid"], b["pid"]);
    assert!(inst.container("c").is_none());
    assert!(!inst.root().join("var/lib/paddock/containers/c").exists());
}

#[test]
fn depends_on_orders_the_start() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "db.yaml",
        &manifest(
            "db",
            &image,
            "command: [sh, -c, 'rm -f /tmp/ready; sleep 1; touch /tmp/ready; exec sleep 1000']\nhealthcheck:\n  test: [CMD, test, -f, /tmp/ready]\n  interval: 200ms\n  retries: 3\n  start_period: 5s\n",
        ),
    );
    inst.write_manifest(
        "app.yaml",
        &manifest(
            "app",
            &image,
            "command: [sleep, '1000']\ndepends_on:\n  db:\n    condition: service_healthy\n",
        ),
    );
    inst.start();
    inst.wait_state("db", "running");
    let db = inst.wait_for(Duration::from_secs(20), "db healthy", || {
        inst.container("db").filter(|c| c["health"] == "healthy")
    });
    let app = inst.wait_state("app", "running");
    let db_started =
        chrono::DateTime::parse_from_rfc3339(db["started_at"].as_str().unwrap()).unwrap();
    let app_started =
        chrono::DateTime::parse_from_rfc3339(app["started_at"].as_str().unwrap()).unwrap();
    assert!(
        app_started - db_started >= chrono::Duration::milliseconds(900),
        "db started {db_started}, app {app_started}\n{}",
        inst.daemon_log()
    );
}

#[test]
fn an_unhealthy_container_is_restarted() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "sick.yaml",
        &manifest(
            "sick",
            &image,
            "command: [sleep, '1000']\nhealthcheck:\n  test: 'test -f /tmp/never'\n  interval: 200ms\n  retries: 2\n",
        ),
    );
    inst.start();
    let first = inst.wait_state("sick", "running");
    let later = inst.wait_for(
        Duration::from_secs(20),
        "a restart for unhealthiness",
        || {
            inst.container("sick")
                .filter(|c| c["restarts"].as_u64() >= Some(1) && c["state"] == "running")
        },
    );
    assert_ne!(later["pid"], first["pid"]);
}

#[test]
fn resolv_conf_follows_the_host() {
    let (_registry, mut inst, image) = setup();
    std::fs::write(
        inst.root().join("etc/resolv.conf"),
        "nameserver 192.0.2.1\n",
    )
    .unwrap();
    inst.write_manifest(
        "r.yaml",
        &manifest("r", &image, "command: [sleep, '1000']\nnetwork: host\n"),
    );
    inst.start();
    inst.wait_state("r", "running");
    let read = || {
        let out = inst.paddock(&["exec", "r", "--", "cat", "/etc/resolv.conf"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(read(), "nameserver 192.0.2.1\n");
    std::fs::write(
        inst.root().join("etc/resolv.conf"),
        "nameserver 192.0.2.53\n",
    )
    .unwrap();
    inst.wait_for(Duration::from_secs(10), "the new resolv.conf", || {
        (read() == "nameserver 192.0.2.53\n").then_some(())
    });
}

#[test]
fn sigterm_stops_everything_and_leaves_no_mounts() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "a.yaml",
        &manifest("a", &image, "command: [sleep, '1000']\n"),
    );
    inst.start();
    let a = inst.wait_state("a", "running");
    inst.stop_daemon();
    let pid = a["pid"].as_i64().unwrap() as i32;
    std::thread::sleep(Duration::from_millis(200));
    assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err());
    let rootfs = inst
        .root()
        .canonicalize()
        .unwrap()
        .join("var/lib/paddock/containers/a/rootfs");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(rootfs.to_str().unwrap()));
}

#[test]
fn containers_get_dockers_default_confinement() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "jail.yaml",
        &manifest(
            "jail",
            &image,
            "command: [sleep, '1000']\nmem_limit: 64m\npids_limit: 50\n",
        ),
    );
    inst.write_manifest(
        "free.yaml",
        &manifest(
            "free",
            &image,
            "command: [sleep, '1000']\nprivileged: true\n",
        ),
    );
    inst.start();
    inst.wait_state("jail", "running");
    inst.wait_state("free", "running");
    let status = |name: &str| {
        let out = inst.paddock(&["exec", name, "--", "cat", "/proc/1/status"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let field = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .map(|l| l[key.len()..].trim().to_string())
            .unwrap_or_default()
    };
    let jail = status("jail");
    assert_eq!(field(&jail, "CapEff:"), "00000000a80425fb", "{jail}");
    assert_eq!(field(&jail, "Seccomp:"), "2", "{jail}");
    assert_eq!(field(&jail, "NoNewPrivs:"), "1", "{jail}");
    // Masked and read-only paths, and a syscall the profile refuses.
    let out = inst.paddock(&[
        "exec",
        "jail",
        "--",
        "sh",
        "-c",
        "wc -c < /proc/timer_list; echo 1 > /proc/sys/kernel/panic; unshare -m true",
    ]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.starts_with("0\n"), "{text}");
    assert!(text.contains("Read-only file system"), "{text}");
    assert!(text.contains("unshare"), "{text}");
    assert_ne!(out.status.code(), Some(0));
    // Limits reached the cgroup.
    let out = inst.paddock(&["exec", "jail", "--", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "67108864\n50\n");
    // Privileged: every capability, no seccomp.
    let free = status("free");
    assert_eq!(field(&free, "Seccomp:"), "0", "{free}");
    assert_ne!(field(&free, "CapEff:"), "00000000a80425fb", "{free}");
}

#[test]
fn containers_come_back_after_paddockd_is_stopped_and_started() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "u.yaml",
        &manifest(
            "u",
            &image,
            "command: [sleep, '1000']\nrestart: unless-stopped\nstop_signal: SIGKILL\n",
        ),
    );
    inst.write_manifest(
        "n.yaml",
        &manifest(
            "n",
            &image,
            "command: [sleep, '1000']\nrestart: 'no'\nstop_signal: SIGKILL\n",
        ),
    );
    inst.write_manifest(
        "s.yaml",
        &manifest(
            "s",
            &image,
            "command: [sleep, '1000']\nrestart: unless-stopped\nstop_signal: SIGKILL\n",
        ),
    );
    inst.start();
    inst.wait_state("u", "running");
    inst.wait_state("n", "running");
    inst.wait_state("s", "running");
    assert!(inst.paddock(&["stop", "s"]).status.success());
    inst.stop_daemon();
    inst.start();
    inst.wait_state("u", "running");
    inst.wait_state("n", "running");
    // The one the user stopped stays stopped.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inst.container("s").unwrap()["state"], "stopped");
}

#[test]
fn a_manifest_that_breaks_keeps_its_running_container() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "db.yaml",
        &manifest("db", &image, "command: [sleep, '1000']\n"),
    );
    inst.start();
    let before = inst.wait_state("db", "running");
    inst.write_manifest(
        "db.yaml",
        &manifest(
            "db",
            &image,
            "command: [sleep, '1000']\nrestart: sometimes\n",
        ),
    );
    let out = inst.paddock(&["apply"]);
    assert_eq!(out.status.code(), Some(1), "apply reports the error");
    let after: Vec<serde_json::Value> = inst
        .ps()
        .into_iter()
        .filter(|c| c["name"] == "db")
        .collect();
    assert!(
        after
            .iter()
            .any(|c| c["state"] == "running" && c["pid"] == before["pid"]),
        "{after:?}"
    );
    assert!(after.iter().any(|c| c["state"] == "invalid"), "{after:?}");
    assert!(inst
        .root()
        .join("var/lib/paddock/containers/db/upper")
        .is_dir());
    // Fixed again: recreated from the new manifest.
    inst.write_manifest(
        "db.yaml",
        &manifest("db", &image, "command: [sleep, '1001']\n"),
    );
    assert!(inst.paddock(&["apply"]).status.success());
    inst.wait_for(Duration::from_secs(30), "db recreated", || {
        inst.container("db")
            .filter(|c| c["state"] == "running" && c["pid"] != before["pid"])
    });
}

#[test]
fn output_of_containers_that_exit_at_once_is_kept() {
    let (_registry, mut inst, image) = setup();
    for i in 0..4 {
        inst.write_manifest(
            &format!("q{i}.yaml"),
            &manifest(
                &format!("q{i}"),
                &image,
                &format!("command: [echo, quick-{i}]\nrestart: 'no'\n"),
            ),
        );
    }
    inst.start();
    for i in 0..4 {
        let name = format!("q{i}");
        let c = inst.wait_state(&name, "exited");
        assert_eq!(c["last_exit_code"], 0);
        assert!(c["last_error"].is_null(), "{c}");
        inst.wait_for(Duration::from_secs(10), &format!("{name}'s line"), || {
            inst.logs(&name)
                .contains(&format!("stdout quick-{i}"))
                .then_some(())
        });
    }
}

#[test]
fn status_shows_memory_and_volumes() {
    let (_registry, mut inst, image) = setup();
    inst.write_manifest(
        "vols.yaml",
        &manifest(
            "vols",
            &image,
            // Some memory of its own: a shell holding 4 MiB in a variable.
            "command: [sh, -c, 'x=$(head -c 4194304 /dev/zero | tr \"\\\\0\" a); echo filled; exec sleep 1000']\nnetwork: none\nvolumes:\n  - /perm/data:/data\n  - /perm/conf:/etc/app:ro\n",
        ),
    );
    inst.start();
    inst.wait_state("vols", "running");
    inst.wait_for(Duration::from_secs(20), "the shell's output", || {
        inst.logs("vols").contains("filled").then_some(())
    });
    let c = inst.container("vols").unwrap();
    let memory = c["memory_bytes"].as_u64().unwrap_or_else(|| panic!("{c}"));
    assert!(memory > 0 && memory < 1 << 32, "{c}");
    assert_eq!(
        c["volumes"],
        serde_json::json!([
            {"source": "/perm/data", "target": "/data", "read_only": false},
            {"source": "/perm/conf", "target": "/etc/app", "read_only": true},
        ])
    );
    // Read from the cgroup the runtime made for it, not made up.
    let pid = c["pid"].as_i64().unwrap();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroup.contains("/paddock/vols"), "{cgroup}");

    let out = inst.paddock(&["stop", "vols"]);
    assert!(out.status.success(), "{out:?}");
    let c = inst.wait_state("vols", "stopped");
    assert!(c["memory_bytes"].is_null(), "{c}");
    assert_eq!(c["volumes"].as_array().unwrap().len(), 2);
}
