//! `paddock --host`: the CLI against a device's web server, init's own
//! (`paddock-init --no-pid1 --web-listen`, next to a real paddockd).

use paddock_testkit as support;

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::device::TestInit;
use support::instance::{bin, push_busybox, Instance};
use support::registry::{free_port, TestRegistry};

/// `paddock --host HOST ARGS` with `$PADDOCK_PASSWORD` = `password` (unset if None).
fn paddock(host: &str, password: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin("paddock"));
    cmd.args(["--host", host]).args(args).stdin(Stdio::null());
    cmd.env_remove("PADDOCK_PASSWORD");
    // The instance (its CA checks the device's certificate): set by the
    // test once it made one.
    if let Some(dir) = INSTANCE.get() {
        cmd.env("PADDOCK_INSTANCE", dir);
    }
    if let Some(p) = password {
        cmd.env("PADDOCK_PASSWORD", p);
    }
    cmd.output().unwrap()
}

static INSTANCE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "paddock failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn err(out: &Output) -> String {
    assert!(!out.status.success(), "paddock succeeded unexpectedly");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_cli_drives_services_and_containers_of_a_device() {
    let registry = TestRegistry::start();
    let mut inst = Instance::new(&[registry.host_port()]);
    let image = push_busybox(&registry.host_port(), "test/busybox:1", inst.root());
    inst.write_manifest(
        "web.yaml",
        &format!(
            "name: web\nimage: {image}\ncommand: [sh, -c, 'echo web up; exec sleep 1000']\nnetwork: none\nvolumes: ['/perm/web:/srv:ro']\n"
        ),
    );
    inst.start();
    inst.wait_state("web", "running");
    let services = json!([
        {"name": "svc", "path": "/bin/busybox", "args": ["sh", "-c", "echo svc up; exec sleep 1000"]},
        {"name": "idle", "path": "/bin/busybox", "args": ["sleep", "1000"], "dont_start": true},
    ]);

    // The password comes from an instance made by `paddock new`.
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("gate");
    ok(&Command::new(bin("paddock"))
        .args(["new", "gate", "--dir"])
        .arg(&instance)
        .output()
        .unwrap());
    let config = std::fs::read_to_string(instance.join("config.yaml")).unwrap();
    let password = config
        .lines()
        .find_map(|l| l.strip_prefix("update_password: "))
        .unwrap()
        .trim()
        .trim_matches('"')
        .to_string();

    // The device's certificate, from the instance's CA (as `paddock build`
    // puts one into the image): `--instance` speaks HTTPS and checks it.
    support::tls::install_device_cert(&instance, "gate", inst.root());
    INSTANCE.set(instance.clone()).unwrap();
    let port = free_port();
    let hash = bcrypt::hash(&password, 4).unwrap();
    let _init = TestInit::start_in(
        &support::instance::bin("paddock-init"),
        Some(inst.root()),
        services,
        Some((port, hash)),
    );
    let host = format!("127.0.0.1:{port}");
    let inst_arg = instance.to_str().unwrap();

    // Wrong or no password: a clear 401 message naming the host.
    let e = err(&paddock(&host, Some("wrong"), &["ps"]));
    assert!(
        e.contains(&format!(
            "wrong password for {host}: check --password, PADDOCK_PASSWORD or --instance"
        )),
        "{e}"
    );
    let e = err(&paddock(&host, None, &["--password", "", "restart", "web"]));
    assert!(e.contains("wrong password"), "{e}");
    // A device whose certificate is not from this instance's CA (another
    // instance of the same name): refused before any password is sent.
    let stranger = dir.path().join("stranger");
    ok(&Command::new(bin("paddock"))
        .args(["new", "gate", "--dir"])
        .arg(&stranger)
        .output()
        .unwrap());
    let out = Command::new(bin("paddock"))
        .args(["--host", &host, "--instance"])
        .arg(&stranger)
        .arg("ps")
        .env_remove("PADDOCK_PASSWORD")
        .output()
        .unwrap();
    let e = err(&out);
    assert!(e.contains("its certificate must be"), "{e}");
    assert!(e.contains("stranger/keys/tls/ca.crt"), "{e}");
    // Without an instance there is no CA: the CLI will not send the
    // password in the clear unless told to, and this device does not speak
    // plain HTTP anyway.
    let out = Command::new(bin("paddock"))
        .args(["--host", &host, "--password", &password, "ps"])
        .env_remove("PADDOCK_INSTANCE")
        .output()
        .unwrap();
    let e = err(&out);
    assert!(
        e.contains("in the clear") && e.contains("--insecure-http"),
        "{e}"
    );
    let out = Command::new(bin("paddock"))
        .args([
            "--host",
            &host,
            "--password",
            &password,
            "--insecure-http",
            "ps",
        ])
        .env_remove("PADDOCK_INSTANCE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Nobody listening: the error names the host.
    let closed = format!("127.0.0.1:{}", free_port());
    let e = err(&paddock(&closed, Some(&password), &["ps"]));
    assert!(e.contains(&format!("connecting to {closed}")), "{e}");
    assert!(e.contains("refused"), "{e}");

    // ps --json: services and containers, tagged.
    let ps = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["--instance", inst_arg, "ps", "--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&ok(&paddock(&host, None, &all))).unwrap()
    };
    let find = |list: &[Value], name: &str| -> Value {
        list.iter()
            .find(|v| v["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing from {list:?}"))
    };
    let list = wait_for("svc running", || {
        let l = ps(&[]);
        (find(&l, "svc")["state"] == "running").then_some(l)
    });
    let svc = find(&list, "svc");
    assert_eq!(svc["kind"], "service");
    assert!(svc["memory_bytes"].as_u64().unwrap() > 0, "{svc}");
    assert!(svc["started_at_unix"].as_u64().is_some(), "{svc}");
    let idle = find(&list, "idle");
    assert_eq!(
        (&idle["kind"], &idle["state"]),
        (&json!("service"), &json!("stopped"))
    );
    let web = find(&list, "web");
    assert_eq!(
        (&web["kind"], &web["state"]),
        (&json!("container"), &json!("running"))
    );
    assert!(web["memory_bytes"].as_u64().unwrap() > 0, "{web}");
    assert_eq!(
        web["volumes"],
        json!([{"source": "/perm/web", "target": "/srv", "read_only": true}])
    );
    // The table too.
    let table = ok(&paddock(&host, Some(&password), &["ps"]));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("svc ") && l.contains("service")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("web ") && l.contains("container")),
        "{table}"
    );

    // restart: a container through the /api proxy, a service through init.
    let out = ok(&paddock(&host, Some(&password), &["restart", "web"]));
    assert!(out.starts_with("web: "), "{out}");
    wait_for("web's new run", || {
        let w = find(&ps(&[]), "web");
        (w["state"] == "running" && w["pid"] != web["pid"]).then_some(())
    });
    let out = ok(&paddock(&host, Some(&password), &["restart", "svc"]));
    assert!(out.starts_with("svc: "), "{out}");
    wait_for("svc's new run", || {
        let s = find(&ps(&[]), "svc");
        (s["state"] == "running" && s["pid"] != svc["pid"]).then_some(())
    });
    let out = ok(&paddock(&host, Some(&password), &["start", "idle"]));
    assert_eq!(out.trim(), "idle: running");
    let e = err(&paddock(&host, Some(&password), &["stop", "nope"]));
    assert!(
        e.contains(&format!("no container or service named \"nope\" on {host}")),
        "{e}"
    );

    // logs: a container's, a service's (kept lines, and followed).
    let logs = ok(&paddock(&host, Some(&password), &["logs", "web"]));
    assert!(logs.contains(" stdout web up"), "{logs}");
    let logs = ok(&paddock(&host, Some(&password), &["logs", "svc"]));
    assert_eq!(logs.lines().filter(|l| *l == "svc up").count(), 2, "{logs}");
    let logs = ok(&paddock(
        &host,
        Some(&password),
        &["logs", "--tail", "1", "svc"],
    ));
    assert_eq!(logs.lines().count(), 1, "{logs}");
    let mut follow = Command::new(bin("paddock"))
        .args([
            "--host",
            &host,
            "--password",
            &password,
            "logs",
            "-f",
            "svc",
        ])
        .env_remove("PADDOCK_PASSWORD")
        .env("PADDOCK_INSTANCE", &instance)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = follow.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                return;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    wait_for("the followed log", || {
        String::from_utf8_lossy(&seen.lock().unwrap())
            .contains("svc up")
            .then_some(())
    });
    // A line written after the stream began comes too.
    ok(&paddock(&host, Some(&password), &["restart", "svc"]));
    wait_for("a new line in the followed log", || {
        let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        (text.matches("svc up").count() >= 3).then_some(())
    });
    let _ = follow.kill();
    let _ = follow.wait();
    reader.join().unwrap();

    // exec through the proxied upgrade: output, stderr, exit code, stdin.
    let out = paddock(
        &host,
        Some(&password),
        &[
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let mut child = Command::new(bin("paddock"))
        .args([
            "--host",
            &host,
            "--password",
            &password,
            "exec",
            "-i",
            "web",
            "--",
            "tr",
            "a-z",
            "A-Z",
        ])
        .env_remove("PADDOCK_PASSWORD")
        .env("PADDOCK_INSTANCE", &instance)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\n");

    exec_tty_follows_the_window_size(&host, &password);
}

/// `exec -it` on a real terminal: the window size goes first, and again when
/// it changes (SIGWINCH → resize frame → the container's pty).
fn exec_tty_follows_the_window_size(host: &str, password: &str) {
    use nix::pty::{openpty, Winsize};
    let size = |rows, cols| Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&size(24, 80)), None).unwrap();
    let slave: OwnedFd = pty.slave;
    let master = std::fs::File::from(pty.master);
    let mut cmd = Command::new(bin("paddock"));
    cmd.args([
        "--host",
        host,
        "--password",
        password,
        "exec",
        "-i",
        "-t",
        "web",
        "--",
    ])
    .args(["sh", "-c", "stty size; read x; stty size; read y"])
    .env_remove("PADDOCK_PASSWORD")
    .env("PADDOCK_INSTANCE", INSTANCE.get().unwrap())
    .stdin(Stdio::from(slave.try_clone().unwrap()))
    .stdout(Stdio::from(slave.try_clone().unwrap()))
    .stderr(Stdio::from(slave));
    // SAFETY: setsid(2) and ioctl(2) are async-signal-safe; nothing allocates.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            // The pty becomes the controlling terminal: its size changes send SIGWINCH.
            if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut reader = master.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                return;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    wait_for("the first size", || text().contains("24 80").then_some(()));
    let new = size(30, 100);
    // SAFETY: TIOCSWINSZ reads the winsize we own for the call.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &new) };
    assert_eq!(rc, 0);
    std::thread::sleep(Duration::from_millis(500));
    {
        use std::io::Write;
        (&master).write_all(b"\r").unwrap();
    }
    wait_for("the new size", || text().contains("30 100").then_some(()));
    {
        use std::io::Write;
        (&master).write_all(b"\r").unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("exec -it did not end: {}", text());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}: {}", text());
}
