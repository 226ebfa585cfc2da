//! The seed's use case end to end, in QEMU: irssi in screen on a paddock
//! device, reached the way its user reaches it.
//!
//! `scripts/irssi-image` builds the irssi image from Debian's packages and
//! pushes it to a registry on the host's loopback; the instance is
//! `configs/irssi` (the seed's podman settings as a manifest) with the
//! registry at 10.0.2.2, NTP from chronyd on the host, and breakglass with
//! a key made here. First boot, clock in 2000: paddockd waits for the
//! clock, then pulls the image and runs irssi. Over SSH, under tmux:
//! `ssh -t … paddock exec -it irssi -- screen -r irssi` shows irssi's
//! screen at the terminal's size; a setting set and `/save`d there lands in
//! /perm/irssi; killing irssi's process makes paddockd restart the
//! container. A reboot through the device's API (`POST /reboot`), and in
//! the second boot of the same disk the setting is still there, in the
//! file and in irssi.
//!
//! Serial logs: `target/tmp/vm_irssi-serial-{1,2}.log`.

use paddock_testkit as support;
use paddock_testkit::image;
use paddock_testkit::terminal;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use image::*;
use serde_json::Value;
use support::instance::{bin, require_root, require_tool, Instance};
use support::{free_port, TestRegistry};
use terminal::{Ssh, Tmux};

/// configs/irssi's `update_password`: the web API's.
const PASSWORD: &str = "paddock-irssi-password";

/// The device's containers (`paddock ps --json` over SSH), or why not.
fn device_ps(ssh: &Ssh) -> Result<Vec<Value>, String> {
    let out = ssh.run("paddock ps --json");
    if !out.status.success() {
        return Err(stderr(&out));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}: {}", stderr(&out)))
}

/// Polls until irssi is `running` (and, with `after`, restarted more
/// often than that); returns its status.
fn wait_for_irssi(ssh: &Ssh, vm: &Vm, after: Option<u64>, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match device_ps(ssh) {
            Ok(list) => {
                if let Some(c) = list.into_iter().find(|c| c["name"] == "irssi") {
                    let restarts = c["restarts"].as_u64().unwrap_or(0);
                    if c["state"] == "running" && after.is_none_or(|n| restarts > n) {
                        return c;
                    }
                    last = c.to_string();
                }
            }
            Err(e) => last = e,
        }
        assert!(
            Instant::now() < deadline,
            "irssi is not running{} within {timeout:?}; last answer: {last}\nserial console:\n{}",
            after.map_or(String::new(), |n| format!(" with more than {n} restarts")),
            vm.log()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// `scripts/irssi-image --push TAG`, plain HTTP as `root`'s
/// registries.yaml allows.
fn push_irssi_image(root: &Path, tag: &str) {
    let started = Instant::now();
    let out = Command::new(workspace().join("scripts/irssi-image"))
        .arg("--paddock")
        .arg(bin("paddock"))
        .arg("--root")
        .arg(root)
        .args(["--push", tag])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/irssi-image: {}",
        stderr(&out)
    );
    println!("irssi image built and pushed in {:.1?}", started.elapsed());
}

/// configs/irssi's manifest with its image from `registry` instead.
fn irssi_manifest(registry: &str) -> String {
    let manifest =
        std::fs::read_to_string(workspace().join("configs/irssi/containers/irssi.yaml")).unwrap();
    assert!(manifest.contains("image: 10.0.2.2:5000/irssi:latest"));
    manifest.replace("10.0.2.2:5000/", &format!("{registry}/"))
}

/// Attaches with `command` (in a 100×30 tmux pane) and checks irssi is
/// there at the pane's size; then sets `real_name` and saves, and detaches.
fn attach_set_and_save(command: &str, real_name: &str, context: &dyn Fn() -> String) {
    let term = Tmux::start(command, 100, 30);
    let screen = term.wait_for("[(status)]", Duration::from_secs(90), context);
    println!("irssi under tmux:\n{screen}");
    assert!(screen.contains("Irssi v"), "not irssi:\n{screen}");
    // irssi drew for the terminal's 30 rows (the window size came through
    // to screen): its prompt is the last line.
    assert_eq!(
        screen.lines().position(|l| l.starts_with("[(status)]")),
        Some(29),
        "irssi's prompt is not on the last of 30 rows:\n{screen}"
    );
    term.type_line(&format!("/set real_name {real_name}"));
    term.wait_for(
        &format!("real_name {real_name}"),
        Duration::from_secs(30),
        context,
    );
    term.type_line("/save");
    term.wait_for(
        "Saved configuration to file /home/michael/.irssi/config",
        Duration::from_secs(30),
        context,
    );
    detach(&term, context);
}

/// Ctrl-a d: screen detaches, and the command that attached ends well.
fn detach(term: &Tmux, context: &dyn Fn() -> String) {
    term.keys(&["C-a", "d"]);
    let screen = term.wait_for("[exited 0]", Duration::from_secs(30), context);
    assert!(screen.contains("[detached from"), "{screen}");
}

/// The line number of the first serial console line with all of `words`.
fn line_of(log: &str, words: &[&str]) -> usize {
    log.lines()
        .position(|l| words.iter().all(|w| l.contains(w)))
        .unwrap_or_else(|| panic!("no line with {words:?} on the serial console:\n{log}"))
}

#[test]
fn irssi_waits_for_the_clock_attaches_over_ssh_keeps_its_settings_and_is_restarted() {
    require_root();
    require_tool("mmdebstrap", "mmdebstrap");
    require_tool("tmux", "tmux");
    require_tool("curl", "curl");
    let tmp = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start();
    let host_reg = registry.host_port();
    let guest_reg = format!("10.0.2.2:{}", registry.port());

    // The image, from Debian's packages (cached under ~/.cache/paddock).
    let push_root = push_root(tmp.path(), &host_reg);
    push_irssi_image(&push_root, &format!("{host_reg}/irssi:latest"));

    // The instance: configs/irssi as it is, pointed at this test's
    // registry and NTP server, with breakglass and a key made here.
    let ssh_port = free_port();
    let ssh = Ssh::new(tmp.path(), ssh_port);
    let inst = tmp.path().join("irssi");
    std::fs::create_dir_all(inst.join("containers")).unwrap();
    let configs = workspace().join("configs/irssi");
    std::fs::copy(configs.join("config.yaml"), inst.join("config.yaml")).unwrap();
    let config = std::fs::read_to_string(inst.join("config.yaml")).unwrap();
    assert!(config.contains(&format!("update_password: {PASSWORD}\n")));
    // A checked-in instance has no keys: the one command that makes them.
    let out = image::paddock(&["keys", "init", "--instance", inst.to_str().unwrap()]);
    assert!(out.status.success(), "paddock keys init: {}", stderr(&out));
    assert!(inst.join("keys/update.key").is_file());
    std::fs::write(
        inst.join("containers/irssi.yaml"),
        irssi_manifest(&guest_reg),
    )
    .unwrap();
    let ntp_port = free_udp_port();
    set_config(
        &inst,
        "registries",
        &format!("{{insecure: [\"{guest_reg}\"]}}"),
    );
    set_config(&inst, "ntp_servers", &format!("[\"10.0.2.2:{ntp_port}\"]"));
    set_config(&inst, "breakglass", "true");
    std::fs::write(inst.join("breakglass.authorized_keys"), &ssh.public_key).unwrap();

    let bin_dir = std::env::var("PADDOCK_TEST_BIN_DIR").unwrap_or_else(|_| {
        bin("paddock-init")
            .parent()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    });
    for b in [
        "paddock-breakglass",
        "paddock",
        "paddock-ntp",
        "paddock-runner",
    ] {
        assert!(
            Path::new(&bin_dir).join(b).is_file(),
            "{bin_dir}/{b} is missing: run `cargo build --workspace` before the tests (scripts/test does)"
        );
    }
    let img = tmp.path().join("irssi.img");
    let out = build(&inst, &img, &["--bin-dir", &bin_dir]);
    assert!(out.status.success(), "paddock build: {}", stderr(&out));

    // 1. First boot, the clock in 2000: wait, sync, pull, run.
    let serial = tmp.path().join("serial-1.log");
    let _keep = KeepLog {
        test: "vm_irssi",
        log: serial.clone(),
    };
    let http_port = free_port();
    let mut vm = Vm::start(
        &img,
        &serial,
        &[
            "--rtc",
            "2000-01-01",
            "--fwd",
            &format!("{ssh_port}:22"),
            "--fwd",
            &format!("{http_port}:443"),
        ],
    );
    vm.wait_for_log(
        "waiting for the clock to be synced",
        Duration::from_secs(300),
    );
    // Not pulled before the clock is trusted: nothing to sync with yet.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !vm.log().contains("pulled"),
        "irssi's image was pulled before the clock was synced:\n{}",
        vm.log()
    );
    let ntp = NtpServer::start_on(ntp_port);
    let first = wait_for_irssi(&ssh, &vm, None, Duration::from_secs(900));
    println!(
        "irssi running {:.1?} after power on: {first}",
        vm.started.elapsed()
    );
    let log = vm.log();
    let waiting = line_of(&log, &["waiting for the clock to be synced"]);
    let trusted = line_of(&log, &["clock trusted"]);
    let pulled = line_of(&log, &["pulled", "irssi:latest"]);
    assert!(
        waiting < trusted && trusted < pulled,
        "expected the clock wait, the trusted clock, then the pull:\n{log}"
    );
    for at in [waiting, trusted, pulled] {
        println!("  {}", log.lines().nth(at).unwrap_or("").trim());
    }

    // Attach like the seed's user: ssh -t, paddock exec -it, screen -r.
    let attach = ssh.command_line(true, "paddock exec -it irssi -- screen -r irssi");
    let serial_log = || format!("serial console:\n{}", vm.log());
    let real_name = format!("paddock irssi test {}", std::process::id());
    attach_set_and_save(&attach, &real_name, &serial_log);

    let saved = ssh.run("paddock exec irssi -- cat /home/michael/.irssi/config");
    assert!(saved.status.success(), "{}", stderr(&saved));
    let config = String::from_utf8_lossy(&saved.stdout);
    assert!(
        config.contains(&format!("real_name = \"{real_name}\"")),
        "the saved setting is not in irssi's config:\n{config}"
    );

    // Kill irssi's process: its screen session ends, so does the
    // container, and paddockd starts it again.
    let restarts = first["restarts"].as_u64().unwrap_or(0);
    let kill = ssh.run("paddock exec irssi -- sh -c 'kill $(pidof irssi)'");
    assert!(kill.status.success(), "kill: {}", stderr(&kill));
    let again = wait_for_irssi(&ssh, &vm, Some(restarts), Duration::from_secs(120));
    println!("after killing irssi: {again}");
    assert_ne!(again["pid"], first["pid"], "the same process: {again}");
    let term = Tmux::start(&attach, 100, 30);
    term.wait_for("[(status)]", Duration::from_secs(90), &serial_log);
    detach(&term, &serial_log);
    drop(term);

    // A clean reboot through the device's API (`POST /reboot`) over HTTPS,
    // the certificate checked against the instance's CA as a browser that
    // trusts keys/tls/ca.crt does; vm/run's QEMU stops at the guest's
    // reset, and boots the disk again below.
    let out = Command::new("curl")
        .args(["-fsS", "-X", "POST", "-H", "Accept: application/json", "-u"])
        .arg(format!("paddock:{PASSWORD}"))
        .arg("--cacert")
        .arg(inst.join("keys/tls/ca.crt"))
        .arg("--resolve")
        .arg(format!("irssi:{http_port}:127.0.0.1"))
        .arg(format!("https://irssi:{http_port}/reboot"))
        .output()
        .unwrap();
    assert!(out.status.success(), "POST /reboot: {}", stderr(&out));
    vm.wait_for_log("syncing and unmounting /perm", Duration::from_secs(120));
    vm.wait_for_log("reboot: Restarting system", Duration::from_secs(60));
    drop(vm);

    // 2. Second boot of the same disk: the setting is still there.
    let serial = tmp.path().join("serial-2.log");
    let _keep2 = KeepLog {
        test: "vm_irssi",
        log: serial.clone(),
    };
    let vm = Vm::start(
        &img,
        &serial,
        &["--rtc", "2000-01-01", "--fwd", &format!("{ssh_port}:22")],
    );
    let serial_log = || format!("serial console:\n{}", vm.log());
    wait_for_irssi(&ssh, &vm, None, Duration::from_secs(600));
    let saved = ssh.run("paddock exec irssi -- cat /home/michael/.irssi/config");
    assert!(saved.status.success(), "{}", stderr(&saved));
    let config = String::from_utf8_lossy(&saved.stdout);
    assert!(
        config.contains(&format!("real_name = \"{real_name}\"")),
        "the setting saved before the reboot is gone:\n{config}"
    );
    let term = Tmux::start(&attach, 100, 30);
    term.wait_for("[(status)]", Duration::from_secs(90), &serial_log);
    term.type_line("/set real_name");
    let screen = term.wait_for(
        &format!("real_name {real_name}"),
        Duration::from_secs(30),
        &serial_log,
    );
    println!("irssi after the reboot:\n{screen}");
    detach(&term, &serial_log);
    drop(term);
    drop(vm);
    drop(ntp);
}

/// The same story on this machine, no VM: paddockd under a temp root runs
/// configs/irssi's manifest with the image from a local registry;
/// `paddock exec -it irssi -- screen -r irssi` under tmux shows irssi, a
/// saved setting lands in /perm/irssi, and killing irssi restarts the
/// container.
#[test]
fn irssi_on_the_host_attaches_with_screen_r_saves_and_is_restarted() {
    require_root();
    require_tool("mmdebstrap", "mmdebstrap");
    require_tool("tmux", "tmux");
    let registry = TestRegistry::start();
    let mut inst = Instance::new(&[registry.host_port()]);
    push_irssi_image(
        inst.root(),
        &format!("{}/irssi:latest", registry.host_port()),
    );
    inst.write_manifest("irssi.yaml", &irssi_manifest(&registry.host_port()));
    inst.start();
    let first = inst.wait_state("irssi", "running");

    let attach = format!(
        "{} --root {} exec -it irssi -- screen -r irssi",
        bin("paddock").display(),
        inst.root().display()
    );
    let real_name = format!("paddock irssi host test {}", std::process::id());
    let daemon_log = || format!("paddockd log:\n{}", inst.daemon_log());
    attach_set_and_save(&attach, &real_name, &daemon_log);
    let config = std::fs::read_to_string(inst.root().join("perm/irssi/config")).unwrap();
    assert!(
        config.contains(&format!("real_name = \"{real_name}\"")),
        "the saved setting is not in /perm/irssi/config:\n{config}"
    );

    let out = inst.paddock(&["exec", "irssi", "--", "sh", "-c", "kill $(pidof irssi)"]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    let restarts = first["restarts"].as_u64().unwrap_or(0);
    let again = inst.wait_for(Duration::from_secs(60), "irssi to be restarted", || {
        inst.container("irssi")
            .filter(|c| c["state"] == "running" && c["restarts"].as_u64().unwrap_or(0) > restarts)
    });
    assert_ne!(again["pid"], first["pid"], "the same process: {again}");
    let term = Tmux::start(&attach, 100, 30);
    term.wait_for("[(status)]", Duration::from_secs(60), &daemon_log);
    detach(&term, &daemon_log);
}
