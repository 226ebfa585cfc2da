//! Over-the-air updates end to end: `paddock build` v1, boot it under QEMU
//! (UEFI, systemd-boot, `vm/run --reboot` so the guest's reboots reset the
//! machine), then with the real `paddock update`:
//!
//! 1. an upload with a wrong password gets 401 and one without a signed
//!    statement is refused; nothing is switched;
//! 2. v1 → v2 (a changed program and a changed container manifest): the
//!    device boots slot b on probation, init marks it good, v2 runs; then
//!    v1's signed update again (an older generation), an update signed
//!    with another key and an unsigned statement are refused before
//!    anything is written, while the container keeps serving;
//! 3. v3 whose user program exits at once (never healthy; health timeout
//!    45 s, one try): the device reboots by itself, systemd-boot finds no
//!    tries left and boots v2 again; `paddock update` exits 2 ("rolled back");
//! 4. a slot whose init cannot run at all (the initramfs's `/init` is
//!    `/bin/false`): the kernel panics, `panic=5` on its command line
//!    reboots it, no tries left, v2 again, and `paddock update` exits 2;
//! 5. QEMU killed in the middle of an upload, started again on the same
//!    disk: the device boots v2;
//! 6. a correctly signed v6 written and switched to, then one byte of its
//!    root partition changed on the powered-off disk: dm-verity refuses the
//!    block, the slot fails, and v2 comes back.
//!
//! The system binaries are this test run's own builds (as tests/vm_boot.rs).

use paddock_testkit as support;
use paddock_testkit::image;
use paddock_testkit::terminal;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use image::*;
use serde_json::Value;
use support::instance::{bin, push_busybox, require_root};
use support::{free_port, TestRegistry};
use terminal::Ssh;

/// The instance the device was built from: its CA checks the device's
/// certificate.
static INSTANCE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// One HTTPS request with Basic auth, the certificate checked against the
/// instance's CA for the name `updtest`; (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    password: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let addr = format!("127.0.0.1:{port}");
    let mut s = support::tls::connect(
        &addr.parse().ok()?,
        INSTANCE.get()?,
        "updtest",
        Duration::from_secs(60),
    )?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("paddock:{password}"));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nAccept: application/json\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => {}
        // A peer that closes without TLS close_notify: the answer is there.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {}
        Err(_) => return None,
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// `GET /update/status`, once the device answers it.
fn status(vm: &mut Vm, port: u16, password: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some((200, body)) = http(port, "GET", "/update/status", password, &[], b"") {
            if let Ok(v) = serde_json::from_str::<Value>(&body) {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no /update/status within {timeout:?}; serial console:\n{}",
            vm.log()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn entries(st: &Value) -> Vec<String> {
    st["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap().to_string())
        .collect()
}

/// A user program that prints `text` and stays up (or exits at once).
fn write_program(dir: &Path, text: &str, exit_at_once: bool) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    let body = if exit_at_once {
        "std::process::exit(1);".to_string()
    } else {
        "loop { std::thread::sleep(std::time::Duration::from_secs(3600)); }".to_string()
    };
    std::fs::write(
        dir.join("src/main.rs"),
        format!("fn main() {{\n    println!(\"{text}\");\n    {body}\n}}\n"),
    )
    .unwrap();
}

fn write_container(inst: &Path, image: &str, text: &str) {
    std::fs::write(
        inst.join("containers/web.yaml"),
        format!(
            "image: {image}\nnetwork: host\ncommand: [sh, -c, 'mkdir -p /tmp/www && echo {text} > /tmp/www/index.html && exec httpd -f -p 8081 -h /tmp/www']\nstop_grace_period: 1s\n"
        ),
    )
    .unwrap();
}

fn update(inst: &Path, web: u16, bin_dir: &str, extra: &[&str]) -> Output {
    let mut c = Command::new(bin("paddock"));
    c.args(["update", "--instance"])
        .arg(inst)
        .args(["--host", &format!("127.0.0.1:{web}"), "--bin-dir", bin_dir])
        .args(["--epoch", "1767225600", "--timeout-secs", "900"])
        .args(extra)
        .stdin(Stdio::null());
    c.output().expect("run paddock update")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn update_to_a_new_version_rolls_back_a_broken_one_and_survives_power_loss() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start();
    let host_reg = registry.host_port();
    let guest_reg = format!("10.0.2.2:{}", registry.port());
    let push_root = push_root(tmp.path(), &host_reg);
    push_busybox(&host_reg, "test/busybox:latest", &push_root);
    let image_ref = format!("{guest_reg}/test/busybox:latest");

    let inst = tmp.path().join("inst");
    new_instance(&inst, "updtest");
    INSTANCE.set(inst.clone()).unwrap();
    set_config(
        &inst,
        "registries",
        &format!("{{insecure: [\"{guest_reg}\", \"{host_reg}\"], mirrors: {{\"{guest_reg}\": [\"{host_reg}\"]}}}}"),
    );
    set_config(&inst, "preload", "true");
    set_config(&inst, "update", "{health_timeout_secs: 45, tries: 1}");
    let config = std::fs::read_to_string(inst.join("config.yaml")).unwrap();
    let password = config
        .lines()
        .find_map(|l| l.strip_prefix("update_password:"))
        .map(|p| p.trim().trim_matches('"').trim_matches('\'').to_string())
        .expect("update_password in config.yaml");

    let program = tmp.path().join("hello");
    write_program(&program, "hello from v1", false);
    let out = image::paddock(&[
        "add",
        "--instance",
        inst.to_str().unwrap(),
        program.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "paddock add: {}", stderr(&out));
    write_container(&inst, &image_ref, "container-v1");
    // breakglass is installed but not started at boot (config.yaml's
    // default); its key goes to /perm.
    let ssh_port = free_port();
    let ssh = Ssh::new(tmp.path(), ssh_port);
    std::fs::write(inst.join("breakglass.authorized_keys"), &ssh.public_key).unwrap();

    let bin_dir = std::env::var("PADDOCK_TEST_BIN_DIR").unwrap_or_else(|_| {
        bin("paddock-init")
            .parent()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    });
    let img = tmp.path().join("updtest.img");
    let update_v1 = tmp.path().join("update-v1");
    let out = build(
        &inst,
        &img,
        &[
            "--bin-dir",
            &bin_dir,
            "--update-dir",
            update_v1.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "paddock build: {}", stderr(&out));

    // Boot v1.
    let web = free_port();
    let plain = free_port();
    let cport = free_port();
    let fwd = [
        "--reboot".to_string(),
        "--fwd".into(),
        format!("{web}:443"),
        "--fwd".into(),
        format!("{plain}:80"),
        "--fwd".into(),
        format!("{cport}:8081"),
        "--fwd".into(),
        format!("{ssh_port}:22"),
    ];
    let fwd: Vec<&str> = fwd.iter().map(String::as_str).collect();
    let serial = tmp.path().join("serial-1.log");
    let _keep = KeepLog {
        test: "vm_update",
        log: serial.clone(),
    };
    let mut vm = Vm::start(&img, &serial, &fwd);
    vm.wait_for_http(cport, "container-v1", Duration::from_secs(400));
    vm.wait_for_log("hello from v1", Duration::from_secs(30));
    let st = status(&mut vm, web, &password, Duration::from_secs(120));
    println!("v1: {st}");
    assert_eq!(st["slot"], "a", "{st}");
    let v1 = st["version"].as_str().unwrap().to_string();
    assert_eq!(
        entries(&st),
        ["paddock-00000002-a.conf", "paddock-00000001-b.conf"],
        "{st}"
    );
    assert!(
        vm.log().contains("no probation"),
        "init did not check the boot entry:\n{}",
        vm.log()
    );

    // Scripted use: the password from the instance, services and containers as JSON.
    let out = Command::new(bin("paddock"))
        .args(["ps", "--json", "--instance"])
        .arg(&inst)
        .args(["--host", &format!("127.0.0.1:{web}")])
        .env_remove("PADDOCK_PASSWORD")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let ps: Value = serde_json::from_slice(&out.stdout).unwrap();
    let state_of = |kind: &str, name: &str| {
        ps.as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind && e["name"] == name)
            .map(|e| e["state"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(
        state_of("service", "paddockd").as_deref(),
        Some("running"),
        "{ps}"
    );
    assert_eq!(
        state_of("container", "web").as_deref(),
        Some("running"),
        "{ps}"
    );

    // breakglass on demand: not running at boot, started through the API.
    assert_eq!(
        state_of("service", "breakglass").as_deref(),
        Some("stopped"),
        "{ps}"
    );
    assert!(
        !ssh.run("paddock ps").status.success(),
        "ssh answered before breakglass was started"
    );
    let (code, answer) = http(
        web,
        "POST",
        "/services/breakglass/start",
        &password,
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(code, 200, "{answer}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let listing = loop {
        let out = ssh.run("paddock ps");
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "ssh after starting breakglass: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(
        listing.contains("web") && listing.contains("running"),
        "{listing}"
    );

    // Plain HTTP only redirects (no password is ever taken in the clear),
    // and answers the login-free health page.
    let mut s = TcpStream::connect(("127.0.0.1", plain)).unwrap();
    s.write_all(b"GET /update/status HTTP/1.1\r\nHost: updtest\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    assert!(
        answer.contains("location: https://updtest/update/status"),
        "{answer}"
    );
    let mut s = TcpStream::connect(("127.0.0.1", plain)).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: updtest\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#"{"status":"ok"}"#), "{answer}");

    // 1. Wrong password: 401, nothing written.
    let body = b"not a root file system".to_vec();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&body))
    };
    let (code, _) = http(
        web,
        "PUT",
        "/update/root",
        "wrong-password",
        &[("X-Paddock-Sha256", &sha)],
        &body,
    )
    .expect("device answers");
    assert_eq!(code, 401);
    let (code, _) = http(web, "POST", "/update/switch", "wrong-password", &[], b"").unwrap();
    assert_eq!(code, 401);
    let st = status(&mut vm, web, &password, Duration::from_secs(10));
    assert_eq!(
        entries(&st),
        ["paddock-00000002-a.conf", "paddock-00000001-b.conf"],
        "a refused request changed the entries: {st}"
    );
    // The right password but no signed statement: refused before the
    // slot is touched (both entries stay).
    let (code, answer) = http(
        web,
        "PUT",
        "/update/root",
        &password,
        &[("X-Paddock-Sha256", &sha)],
        &body,
    )
    .unwrap();
    assert_eq!(code, 409, "{answer}");
    assert!(answer.contains("no signed update statement"), "{answer}");
    let (code, answer) = http(web, "POST", "/update/switch", &password, &[], b"").unwrap();
    assert_eq!(code, 409, "switch after a refused upload: {answer}");
    let st = status(&mut vm, web, &password, Duration::from_secs(10));
    assert_eq!(
        entries(&st),
        ["paddock-00000002-a.conf", "paddock-00000001-b.conf"],
        "{st}"
    );
    assert_eq!(st["generation"], 1, "{st}");
    assert!(
        st["update_key"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:"),
        "{st}"
    );
    let out = update(&inst, web, &bin_dir, &["--password", "wrong-password"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("401"), "{}", text(&out));

    // 2. v1 → v2: a changed program and container.
    write_program(&program, "hello from v2", false);
    write_container(&inst, &image_ref, "container-v2");
    let started = Instant::now();
    let out = update(&inst, web, &bin_dir, &[]);
    println!("update to v2 in {:.1?}:\n{}", started.elapsed(), text(&out));
    assert!(out.status.success(), "{}\n{}", text(&out), vm.log());
    let st = status(&mut vm, web, &password, Duration::from_secs(60));
    assert_eq!(st["slot"], "b", "{st}");
    let v2 = st["version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    assert!(text(&out).contains(&format!("the device runs version {v2} on slot b")));
    assert_eq!(
        entries(&st),
        ["paddock-00000003-b.conf", "paddock-00000002-a.conf"],
        "{st}"
    );
    vm.wait_for_http(cport, "container-v2", Duration::from_secs(120));
    let log = vm.log();
    assert!(log.contains("hello from v2"), "{log}");
    assert!(log.contains("marked this slot's entry good"), "{log}");
    assert_eq!(st["rollback_floor"], 2, "{st}");

    // Attacks on v2, none of which gets to write: v1's genuine signed
    // update (an older generation), the same statement signed with another
    // key, and a statement with no signature.
    let out = update(
        &inst,
        web,
        &bin_dir,
        &["--from", update_v1.to_str().unwrap(), "--force"],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("anti-rollback"), "{}", text(&out));
    let forged = tmp.path().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    for f in [
        "root.squashfs",
        "vmlinuz",
        "initrd",
        "version",
        "update.json",
    ] {
        std::fs::copy(update_v1.join(f), forged.join(f)).unwrap();
    }
    let mut statement: Value =
        serde_json::from_slice(&std::fs::read(forged.join("update.json")).unwrap()).unwrap();
    statement["generation"] = serde_json::json!(1000);
    std::fs::write(forged.join("update.json"), statement.to_string()).unwrap();
    let other_key = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl ecparam -genkey -name prime256v1 -noout | openssl pkcs8 -topk8 -nocrypt > {0}/other.key && \
             openssl dgst -sha256 -sign {0}/other.key {0}/update.json | base64 -w0 > {0}/update.json.sig",
            forged.display()
        ))
        .status()
        .expect("openssl (apt-get install openssl)");
    assert!(other_key.success());
    let out = update(&inst, web, &bin_dir, &["--from", forged.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("403"), "{}", text(&out));
    assert!(text(&out).contains("does not verify"), "{}", text(&out));
    let (code, answer) = http(
        web,
        "PUT",
        "/update/statement",
        &password,
        &[],
        statement.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(code, 400, "{answer}");
    let st = status(&mut vm, web, &password, Duration::from_secs(10));
    assert_eq!(
        entries(&st),
        ["paddock-00000003-b.conf", "paddock-00000002-a.conf"],
        "a refused update changed the entries: {st}"
    );
    vm.wait_for_http(cport, "container-v2", Duration::from_secs(30));

    // 3. v3 never becomes healthy: back to v2 on its own.
    write_program(&program, "hello from v3, exiting", true);
    let rolls_back_to_v2 = |vm: &mut Vm, bins: &str, what: &str| {
        let started = Instant::now();
        let out = update(&inst, web, bins, &[]);
        println!(
            "update to {what} in {:.1?}:\n{}",
            started.elapsed(),
            text(&out)
        );
        assert_eq!(out.status.code(), Some(2), "{}\n{}", text(&out), vm.log());
        assert!(text(&out).contains("ROLLBACK"), "{}", text(&out));
        let st = status(vm, web, &password, Duration::from_secs(60));
        assert_eq!(
            (st["slot"].as_str(), st["version"].as_str()),
            (Some("b"), Some(v2.as_str())),
            "{st}"
        );
        // An upload first removes the inactive slot's entry, so the new
        // one takes the generation after the good one's every time.
        assert_eq!(
            entries(&st),
            ["paddock-00000003-b.conf", "paddock-00000004-a+0-1.conf"],
            "{st}"
        );
    };
    rolls_back_to_v2(&mut vm, &bin_dir, "v3");
    let log = vm.log();
    assert!(
        log.contains("hello from v3, exiting"),
        "v3 never ran:\n{log}"
    );
    assert!(log.contains("failed its probation"), "{log}");
    vm.wait_for_http(cport, "container-v2", Duration::from_secs(120));

    // 4. A kernel panic in the new slot: its init is /bin/false.
    let broken_bins = tmp.path().join("broken-bins");
    std::fs::create_dir_all(&broken_bins).unwrap();
    for name in SYSTEM_BINARIES.iter().filter(|&&b| b != "paddock-init") {
        std::os::unix::fs::symlink(Path::new(&bin_dir).join(name), broken_bins.join(name)).unwrap();
    }
    std::fs::copy("/bin/false", broken_bins.join("paddock-init")).unwrap();
    let panics = vm.log().matches("Attempted to kill init").count();
    rolls_back_to_v2(&mut vm, broken_bins.to_str().unwrap(), "a slot that panics");
    let log = vm.log();
    assert_eq!(
        log.matches("Attempted to kill init").count(),
        panics + 1,
        "the new slot's kernel did not panic once:\n{log}"
    );
    assert!(log.contains("Rebooting in 5 seconds"), "{log}");
    vm.wait_for_http(cport, "container-v2", Duration::from_secs(120));

    // 5. Power lost in the middle of an upload.
    write_program(&program, "hello from v5", false);
    let mut child = Command::new(bin("paddock"))
        .args(["update", "--instance"])
        .arg(&inst)
        .args(["--host", &format!("127.0.0.1:{web}"), "--bin-dir", &bin_dir])
        .args(["--epoch", "1767225600", "--timeout-secs", "120"])
        // Killed below: its temp dir (the build, ~80 MB) stays in ours.
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let writes = vm.log().matches("update: writing the root").count();
    let deadline = Instant::now() + Duration::from_secs(300);
    while vm.log().matches("update: writing the root").count() == writes {
        assert!(
            Instant::now() < deadline,
            "the v5 upload never started:\n{}",
            vm.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1500));
    drop(vm); // vm/run kills QEMU: the guest just stops
    let _ = child.kill();
    let _ = child.wait();
    let serial = tmp.path().join("serial-2.log");
    let _keep2 = KeepLog {
        test: "vm_update",
        log: serial.clone(),
    };
    let mut vm = Vm::start(&img, &serial, &fwd);
    let st = status(&mut vm, web, &password, Duration::from_secs(400));
    assert_eq!(
        (st["slot"].as_str(), st["version"].as_str()),
        (Some("b"), Some(v2.as_str())),
        "{st}"
    );
    assert_eq!(entries(&st), ["paddock-00000003-b.conf"], "{st}");
    vm.wait_for_http(cport, "container-v2", Duration::from_secs(300));

    // 6. Signed, written, switched; then the root changed offline.
    write_program(&program, "hello from v6", false);
    let update_v6 = tmp.path().join("update-v6");
    let out = build(
        &inst,
        &tmp.path().join("v6.img"),
        &[
            "--bin-dir",
            &bin_dir,
            "--update-dir",
            update_v6.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let file = |name: &str| std::fs::read(update_v6.join(name)).unwrap();
    let sig = String::from_utf8(file("update.json.sig")).unwrap();
    let (code, answer) = http(
        web,
        "PUT",
        "/update/statement",
        &password,
        &[("X-Paddock-Signature", sig.trim())],
        &file("update.json"),
    )
    .unwrap();
    assert_eq!(code, 200, "{answer}");
    for (route, name) in [
        ("/update/root", "root.squashfs"),
        ("/update/boot/vmlinuz", "vmlinuz"),
        ("/update/boot/initrd", "initrd"),
    ] {
        let (code, answer) = http(web, "PUT", route, &password, &[], &file(name)).unwrap();
        assert_eq!(code, 200, "{route}: {answer}");
    }
    let (code, answer) = http(web, "POST", "/update/switch", &password, &[], b"").unwrap();
    assert_eq!(code, 200, "{answer}");
    drop(vm);
    // Slot a's first block (the SquashFS superblock), one bit flipped.
    let dump = Command::new("sfdisk")
        .arg("--dump")
        .arg(&img)
        .output()
        .unwrap();
    let start: u64 = String::from_utf8_lossy(&dump.stdout)
        .lines()
        .find(|l| l.contains("name=\"root-a\""))
        .and_then(|l| l.split("start=").nth(1))
        .and_then(|r| r.split(',').next())
        .map(|n| n.trim().parse().unwrap())
        .expect("root-a in the GPT (apt-get install fdisk)");
    {
        use std::io::{Seek, SeekFrom};
        let mut disk = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&img)
            .unwrap();
        let at = start * 512 + 100;
        let mut byte = [0u8; 1];
        disk.seek(SeekFrom::Start(at)).unwrap();
        disk.read_exact(&mut byte).unwrap();
        disk.seek(SeekFrom::Start(at)).unwrap();
        disk.write_all(&[byte[0] ^ 0x10]).unwrap();
        disk.sync_all().unwrap();
    }
    let serial = tmp.path().join("serial-3.log");
    let _keep3 = KeepLog {
        test: "vm_update",
        log: serial.clone(),
    };
    let mut vm = Vm::start(&img, &serial, &fwd);
    vm.wait_for_log("is corrupted", Duration::from_secs(300));
    let st = status(&mut vm, web, &password, Duration::from_secs(400));
    assert_eq!(
        (st["slot"].as_str(), st["version"].as_str()),
        (Some("b"), Some(v2.as_str())),
        "{st}"
    );
    let bad = st["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["slot"] == "a")
        .map(|e| e["state"].clone());
    assert_eq!(bad, Some(serde_json::json!("bad")), "{st}");
    assert!(
        vm.log().contains("root verified by dm-verity"),
        "{}",
        vm.log()
    );
    vm.wait_for_http(cport, "container-v2", Duration::from_secs(300));
    drop(vm);
}
