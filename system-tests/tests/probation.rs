//! The probation of a newly installed slot, on the host: real paddock-init
//! (`--no-pid1`) supervising the real paddockd, with busybox containers,
//! and the probation thread of `paddock_init::update` reading both. The
//! loader entries are files in a directory (the host kernel may have no
//! vfat); tests/vm_update.rs runs the same in QEMU with a real ESP.
//!
//! A crash-looping container fails the probation (and says which); once
//! it is gone the slot is marked good.

use paddock_testkit as support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use paddock_init::update::{spawn_probation, Device, Esp, Outcome, ProbationOptions};
use paddock_wire::system::{Service, SystemConfig};
use support::instance::{bin, build_busybox_image, busybox_rootfs, Instance};

const IMAGE: &str = "localhost/probation:1";
const ENTRY: &str = "paddock-00000002-a+1-1.conf";

/// paddock-init running paddockd as its service, over an instance's root;
/// init is stopped (by pid: SIGTERM, so paddockd stops its containers)
/// before the instance is cleaned up.
struct Machine {
    inst: Instance,
    init: Child,
    esp: tempfile::TempDir,
}

impl Machine {
    fn start(manifests: &[(&str, &str)]) -> Self {
        let inst = Instance::new(&[]);
        inst.write_daemon_config(
            "clock:\n  wait: false\nbind_var: false\nbackoff:\n  initial: 100ms\n  max: 1s\n  reset_after: 10s\n",
        );
        let rootfs = tempfile::tempdir().unwrap();
        busybox_rootfs(rootfs.path());
        build_busybox_image(inst.root(), rootfs.path(), IMAGE, "--import");
        for (file, yaml) in manifests {
            inst.write_manifest(file, yaml);
        }
        let mut config = SystemConfig::new("probation");
        config.services = vec![Service::new("paddockd", bin("paddockd"))
            .with_args(["--root".to_string(), inst.root().display().to_string()])];
        std::fs::write(inst.etc().join("system.json"), config.to_json()).unwrap();
        let init = Command::new(bin("paddock-init"))
            .args(["--no-pid1", "--root"])
            .arg(inst.root())
            .args(["--grace-ms", "20000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // A slot on probation: slot a runs, its entry has a counter.
        let esp = tempfile::tempdir().unwrap();
        let entries = esp.path().join("loader/entries");
        std::fs::create_dir_all(&entries).unwrap();
        std::fs::write(entries.join(ENTRY), "title paddock\n").unwrap();
        std::fs::write(esp.path().join("cmdline"), "paddock.slot=a\n").unwrap();
        let dev = Machine { inst, init, esp };
        let paddockd = dev.inst.root().join("run/paddock/paddockd.sock");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !paddockd.exists() {
            assert!(Instant::now() < deadline, "paddockd never came up");
            std::thread::sleep(Duration::from_millis(50));
        }
        dev
    }

    fn probation(&self, timeout: Duration) -> Outcome {
        let root = self.inst.root();
        let mut device = Device::system();
        device.cmdline = self.esp.path().join("cmdline");
        device.esp = Esp::Dir(self.esp.path().to_path_buf());
        let opts = ProbationOptions {
            device,
            control_socket: root.join("run/paddock/init.sock"),
            paddockd_socket: root.join("run/paddock/paddockd.sock"),
            timeout,
            hold: Duration::from_secs(2),
            poll: Duration::from_millis(200),
            reboot: false,
        };
        spawn_probation(opts).join().unwrap()
    }

    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.esp.path().join("loader/entries"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.init.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(40);
        while !matches!(self.init.try_wait(), Ok(Some(_))) {
            if Instant::now() > deadline {
                let _ = self.init.kill();
                let _ = self.init.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn manifest(name: &str, script: &str) -> String {
    format!(
        "name: {name}\nimage: {IMAGE}\npull: never\nnetwork: none\nrestart: always\n\
         command: [sh, -c, '{script}']\n"
    )
}

#[test]
fn a_crash_looping_container_fails_the_probation_until_it_is_gone() {
    let steady = manifest(
        "steady",
        "trap \"exit 0\" TERM; while true; do sleep 1; done",
    );
    let crashy = manifest("crashy", "echo crashing; exit 3");
    let dev = Machine::start(&[("steady.yaml", &steady), ("crashy.yaml", &crashy)]);
    dev.inst.wait_state("steady", "running");

    match dev.probation(Duration::from_secs(8)) {
        Outcome::Failed(why) => {
            assert!(why.contains("container crashy"), "{why}");
            assert!(!why.contains("steady"), "{why}");
        }
        other => panic!("expected a failed probation, got {other:?}"),
    }
    assert_eq!(
        dev.entries(),
        [ENTRY],
        "a failed probation keeps the counter"
    );

    dev.inst.remove_manifest("crashy.yaml");
    let out = dev.inst.paddock(&["apply"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        dev.probation(Duration::from_secs(30)),
        Outcome::MarkedGood("paddock-00000002-a.conf".into())
    );
    assert_eq!(dev.entries(), ["paddock-00000002-a.conf"]);
}
