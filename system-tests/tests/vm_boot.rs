//! The appliance end to end: `paddock build` an image from a test instance,
//! boot it under QEMU (UEFI, TCG) with `vm/run`, and reach containers from
//! the host through forwarded ports. One image, one disk, two boots:
//!
//! 1. First boot with no network (QEMU `restrict=on`): the preloaded image
//!    is imported and its host-network container answers; paddock-randomd
//!    finds no saved seed.
//! 2. Second boot of the same disk, networked, clock in 2000
//!    (`--rtc 2000-01-01`): paddockd waits for the clock; paddock-ntp syncs
//!    against chronyd on the host's loopback (10.0.2.2 from the guest); the
//!    web image is pulled from a registry on the host's loopback; the
//!    bridged busybox httpd (`ports: ["8080:80"]`) answers through a QEMU
//!    forward to the guest's port 8080, and the host-network one too;
//!    paddock-randomd credits the seed it saved on /perm in the first boot;
//!    a user program (`wait_for_clock`) starts only after the sync, crashes,
//!    and is restarted by paddock-init.
//!
//! The system binaries are this test run's own builds (dynamically linked,
//! debug; `paddock build` strips them and copies their shared libraries),
//! so the suite compiles nothing twice; `$PADDOCK_TEST_BIN_DIR` overrides.

use paddock_testkit as support;
use paddock_testkit::image;

use std::time::{Duration, Instant};

use image::*;
use support::instance::{bin, push_busybox, require_root};
use support::{free_port, TestRegistry};

/// The kernel's own time stamp on "Run /init as init process": how long
/// the kernel alone takes to reach init (firmware and loader not counted).
fn kernel_uptime_at_init(log: &str) -> String {
    log.lines()
        .find(|l| l.contains("Run /init as init process"))
        .and_then(|l| l.split(']').next())
        .map(|t| t.trim_start_matches('[').trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn httpd(text: &str, port: u16) -> String {
    format!("[sh, -c, 'mkdir -p /tmp/www && echo {text} > /tmp/www/index.html && exec httpd -f -p {port} -h /tmp/www']")
}

#[test]
fn image_boots_offline_from_preload_then_syncs_the_clock_and_serves_bridged_and_host_containers() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start();
    let host_reg = registry.host_port();
    let guest_reg = format!("10.0.2.2:{}", registry.port());
    let push_root = push_root(tmp.path(), &host_reg);
    push_busybox(&host_reg, "test/busybox:latest", &push_root);
    push_busybox(&host_reg, "test/preload:latest", &push_root);
    // chronyd starts only once paddockd waits, so the serial console shows
    // the wait before the sync whatever the boot's timing.
    let ntp_port = free_udp_port();

    let inst = tmp.path().join("inst");
    new_instance(&inst, "vmtest");
    // The guest pulls from 10.0.2.2; the build (preload) reaches the same
    // registry as 127.0.0.1 through the mirror, which the guest cannot use.
    set_config(
        &inst,
        "registries",
        &format!("{{insecure: [\"{guest_reg}\", \"{host_reg}\"], mirrors: {{\"{guest_reg}\": [\"{host_reg}\"]}}}}"),
    );
    set_config(&inst, "ntp_servers", &format!("[\"10.0.2.2:{ntp_port}\"]"));
    set_config(&inst, "preload", "[host]");
    std::fs::write(
        inst.join("containers/web.yaml"),
        format!(
            "image: {guest_reg}/test/busybox:latest\nnetwork: bridge\nports: [\"8080:80\"]\ncommand: {}\nstop_grace_period: 1s\n",
            httpd("paddock-bridged", 80)
        ),
    )
    .unwrap();
    std::fs::write(
        inst.join("containers/host.yaml"),
        format!(
            "image: {guest_reg}/test/preload:latest\nnetwork: host\ncommand: {}\nstop_grace_period: 1s\n",
            httpd("paddock-host", 8081)
        ),
    )
    .unwrap();

    // A user program that crashes at once: paddock-init restarts it with
    // backoff, and only once the clock is synced (wait_for_clock).
    let crasher = tmp.path().join("crasher");
    std::fs::create_dir_all(crasher.join("src")).unwrap();
    std::fs::write(
        crasher.join("Cargo.toml"),
        "[package]\nname = \"crasher\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        crasher.join("src/main.rs"),
        "fn main() {\n    let args: Vec<String> = std::env::args().skip(1).collect();\n    println!(\"crasher starts with {args:?} and crashes\");\n    std::process::exit(3);\n}\n",
    )
    .unwrap();
    let out = paddock(&[
        "add",
        "--instance",
        inst.to_str().unwrap(),
        "--wait-for-clock",
        crasher.to_str().unwrap(),
        "--",
        "--flag",
    ]);
    assert!(out.status.success(), "paddock add: {}", stderr(&out));

    let img = tmp.path().join("vmtest.img");
    let bin_dir = std::env::var("PADDOCK_TEST_BIN_DIR").unwrap_or_else(|_| {
        bin("paddock-init")
            .parent()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    });
    for b in [
        "paddock-dhcp",
        "paddock-ntp",
        "paddock-randomd",
        "paddock-runner",
    ] {
        assert!(
            std::path::Path::new(&bin_dir).join(b).is_file(),
            "{bin_dir}/{b} is missing: run `cargo build --workspace` before the tests (scripts/test does)"
        );
    }
    let started = Instant::now();
    let out = build(&inst, &img, &["--bin-dir", &bin_dir]);
    assert!(out.status.success(), "paddock build: {}", stderr(&out));
    println!("image built in {:.1?}", started.elapsed());

    // 1. First boot, no network: the preloaded image serves.
    let host_port = free_port();
    let serial = tmp.path().join("serial-1.log");
    let _keep = KeepLog {
        test: "vm_boot",
        log: serial.clone(),
    };
    let mut vm = Vm::start(
        &img,
        &serial,
        &["--isolated", "--fwd", &format!("{host_port}:8081")],
    );
    vm.wait_for_log("Run /init as init process", Duration::from_secs(120));
    let kernel_to_init = vm.started.elapsed();
    let serving = vm.wait_for_http(host_port, "paddock-host", Duration::from_secs(300));
    println!(
        "offline first boot: init after {kernel_to_init:.1?} from power on ({} s of kernel uptime), boot-to-serving {serving:.1?} (power on to the preloaded container's first HTTP answer)",
        kernel_uptime_at_init(&vm.log())
    );
    let log = vm.log();
    assert!(
        log.contains("stage 1: root verified by dm-verity"),
        "the root was not mounted through dm-verity:\n{log}"
    );
    assert!(
        log.contains("imported a preloaded image"),
        "no preloaded image imported:\n{log}"
    );
    assert!(
        log.contains("no saved seed"),
        "paddock-randomd found a seed on a new /perm:\n{log}"
    );
    assert!(
        !log.contains("crasher starts"),
        "the wait_for_clock program started with no NTP sync:\n{log}"
    );
    drop(vm);

    // 2. Second boot of the same disk, networked, the clock in 2000.
    let web = free_port();
    let host_port = free_port();
    let serial = tmp.path().join("serial-2.log");
    let _keep = KeepLog {
        test: "vm_boot",
        log: serial.clone(),
    };
    let mut vm = Vm::start(
        &img,
        &serial,
        &[
            "--rtc",
            "2000-01-01",
            "--fwd",
            &format!("{web}:8080"),
            "--fwd",
            &format!("{host_port}:8081"),
        ],
    );
    vm.wait_for_log("Run /init as init process", Duration::from_secs(120));
    let kernel_to_init = vm.started.elapsed();
    vm.wait_for_log(
        "waiting for the clock to be synced",
        Duration::from_secs(180),
    );
    let ntp = NtpServer::start_on(ntp_port);
    let serving = vm.wait_for_http(web, "paddock-bridged", Duration::from_secs(300));
    println!(
        "networked boot (clock in 2000): init after {kernel_to_init:.1?} from power on ({} s of kernel uptime), boot-to-serving {serving:.1?} (power on to the bridged container's first HTTP answer on a published port)",
        kernel_uptime_at_init(&vm.log())
    );
    vm.wait_for_http(host_port, "paddock-host", Duration::from_secs(60));
    // The crashing program, restarted with backoff (1 s, 2 s, …).
    let crash = "crasher starts with [\"--flag\"] and crashes";
    let deadline = Instant::now() + Duration::from_secs(60);
    while vm.log().matches(crash).count() < 2 {
        assert!(
            Instant::now() < deadline,
            "the crashing program was not restarted:\n{}",
            vm.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = vm.log();
    let line_of = |what: &str, hit: &dyn Fn(&str) -> bool| {
        log.lines()
            .position(hit)
            .unwrap_or_else(|| panic!("no {what} on the serial console:\n{log}"))
    };
    let waiting = line_of("clock wait (paddockd)", &|l| {
        l.contains("waiting for the clock to be synced")
    });
    let synced = line_of("NTP sync (paddock-ntp)", &|l| {
        l.contains("ntp") && l.contains(" synced") && !l.contains("waiting")
    });
    let trusted = line_of("trusted clock (paddockd)", &|l| l.contains("clock trusted"));
    // Trusted for the marker, or for the wall time the sync just stepped
    // past the floor (paddock-ntp steps, then writes the marker): after the
    // sync either way.
    assert!(
        waiting < synced && synced < trusted,
        "expected the clock wait, then the NTP sync, then paddockd trusting the clock:\n{log}"
    );
    let crasher_first = line_of("crashing program (wait_for_clock)", &|l| {
        l.contains("crasher starts")
    });
    assert!(
        synced < crasher_first,
        "the wait_for_clock program started before the NTP sync:\n{log}"
    );
    for at in [waiting, synced, trusted] {
        println!("  {}", log.lines().nth(at).unwrap_or("").trim());
    }
    assert!(
        log.contains("credited saved seed"),
        "paddock-randomd found no seed from the first boot on /perm:\n{log}"
    );
    drop(vm);
    drop(ntp);
}
