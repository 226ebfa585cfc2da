//! Runs specs from `build_spec` in a real OCI runtime (runc) on a busybox
//! rootfs, and checks from inside the container that docker's confinement
//! holds: capabilities, seccomp, masked and read-only paths, user, limits.
//!
//! Needs root and the Debian packages `runc` and `busybox-static`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::image::ImageConfiguration;
use paddock_manifest::load_str;
use paddockd::spec::{build_spec, EtcFiles, SpecInput};

const BUSYBOX: &str = "/bin/busybox";

fn require_tools() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs containers and must run as root"
    );
    assert!(
        Command::new("runc")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "runc is missing: apt-get install runc"
    );
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: apt-get install busybox-static"
    );
}

/// A bundle directory with a busybox rootfs, host /etc files and runc state.
struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "home/michael"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nmichael:x:1000:1000::/home/michael:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nmichael:x:1000:\naudio:x:29:michael\n",
        )
        .unwrap();
        let etc = dir.path().join("host-etc");
        std::fs::create_dir(&etc).unwrap();
        std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.53\n").unwrap();
        std::fs::write(etc.join("hosts"), "127.0.0.1 localhost\n").unwrap();
        std::fs::write(etc.join("hostname"), "web\n").unwrap();
        std::fs::create_dir(dir.path().join("runc-state")).unwrap();
        std::fs::create_dir(dir.path().join("prefix")).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes config.json for `manifest` and runs it; returns stdout.
    fn run(&self, id: &str, manifest: &str) -> String {
        let m = load_str(manifest, Path::new("web.yaml")).unwrap();
        let image: ImageConfiguration = serde_json::from_value(serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Entrypoint": ["/bin/busybox"]},
            "rootfs": {"type": "layers", "diff_ids": []}
        }))
        .unwrap();
        let spec = build_spec(&SpecInput {
            manifest: &m,
            image_config: &image,
            rootfs: &self.path("rootfs"),
            root_prefix: &self.path("prefix"),
            etc_files: EtcFiles {
                resolv_conf: self.path("host-etc/resolv.conf"),
                hosts: self.path("host-etc/hosts"),
                hostname: self.path("host-etc/hostname"),
            },
            cgroups_path: format!("/{id}"),
            network_namespace: None,
        })
        .unwrap();
        spec.save(self.path("config.json")).unwrap();

        let state = self.path("runc-state");
        let mut child = Command::new("runc")
            .arg("--root")
            .arg(&state)
            .args(["run", "--bundle"])
            .arg(self.dir.path())
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = Command::new("runc")
                    .arg("--root")
                    .arg(&state)
                    .args(["delete", "--force", id])
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                panic!("container {id} did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        // `runc run` deletes the container when it exits; make sure.
        let _ = Command::new("runc")
            .arg("--root")
            .arg(&state)
            .args(["delete", "--force", id])
            .output();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "runc run failed: {}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// `key=value` lines printed by the script, in a map.
fn facts(out: &str) -> std::collections::BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

const PROBE: &str = r#"
echo "uid=$(id -u)"
echo "gid=$(id -g)"
echo "groups=$(id -G)"
echo "hostname=$(hostname)"
echo "capeff=$(grep CapEff /proc/self/status | cut -f2)"
echo "nnp=$(grep NoNewPrivs /proc/self/status | cut -f2)"
echo "seccomp=$(grep '^Seccomp:' /proc/self/status | cut -f2)"
unshare -U true 2>/dev/null && echo "userns=allowed" || echo "userns=denied"
mount -t tmpfs none /tmp 2>/dev/null && echo "mount=allowed" || echo "mount=denied"
(echo 1 > /proc/sys/vm/overcommit_memory) 2>/dev/null && echo "procsys=writable" || echo "procsys=readonly"
echo "kcore=$(head -c 16 /proc/kcore | wc -c)"
echo "linux32=$(linux32 uname -m)"
echo "fork=$(sh -c 'echo ok')"
echo "nofile=$(ulimit -n)"
echo "resolv=$(cat /etc/resolv.conf)"
echo "home=$HOME"
echo "env_hostname=$HOSTNAME"
touch /rootfs-write 2>/dev/null && echo "rootfs=writable" || echo "rootfs=readonly"
echo "volume=$(cat /data/hello 2>&1)"
"#;

fn manifest(extra: &str) -> String {
    let script = PROBE.replace('\n', "\n    ");
    format!("image: busybox\nnetwork: none\ncommand:\n  - sh\n  - -c\n  - |\n    {script}\n{extra}")
}

#[test]
fn docker_defaults_hold_inside_a_real_container() {
    require_tools();
    let b = Bundle::new();
    std::fs::create_dir_all(b.path("prefix/perm/data")).unwrap();
    std::fs::write(b.path("prefix/perm/data/hello"), "from the host").unwrap();
    let id = format!("paddock-spec-{}-a", std::process::id());
    let out = b.run(&id, &manifest("volumes: ['/perm/data:/data:ro']\n"));
    eprintln!("{out}");
    let f = facts(&out);
    assert_eq!(f["uid"], "0");
    assert_eq!(f["hostname"], "web");
    // docker's 14 default capabilities.
    assert_eq!(f["capeff"], "00000000a80425fb");
    assert_eq!(f["nnp"], "1");
    assert_eq!(f["seccomp"], "2", "a seccomp filter is installed");
    assert_eq!(f["userns"], "denied", "seccomp refuses unshare");
    assert_eq!(f["mount"], "denied");
    assert_eq!(f["procsys"], "readonly");
    assert_eq!(f["kcore"], "0", "/proc/kcore is masked");
    assert_eq!(f["linux32"], "i686", "personality(PER_LINUX32) is allowed");
    assert_eq!(f["fork"], "ok", "clone without namespace flags works");
    assert_eq!(f["nofile"], "1024");
    assert_eq!(f["resolv"], "nameserver 127.0.0.53");
    assert_eq!(f["home"], "/root");
    assert_eq!(f["env_hostname"], "web");
    assert_eq!(f["rootfs"], "writable");
    assert_eq!(f["volume"], "from the host");
}

#[test]
fn user_read_only_and_caps_inside_a_real_container() {
    require_tools();
    let b = Bundle::new();
    let id = format!("paddock-spec-{}-b", std::process::id());
    let f = facts(&b.run(
        &id,
        &manifest("user: michael\nread_only: true\ncap_drop: [ALL]\ncap_add: [SYS_ADMIN]\nulimits: {nofile: 4096}\nhostname: box\n"),
    ));
    assert_eq!(f["uid"], "1000");
    assert_eq!(f["gid"], "1000");
    assert_eq!(f["groups"], "1000 29");
    assert_eq!(f["home"], "/home/michael");
    assert_eq!(f["hostname"], "box");
    // A non-root process keeps no effective capabilities after exec.
    assert_eq!(f["capeff"], "0000000000000000");
    assert_eq!(f["rootfs"], "readonly");
    assert_eq!(f["nofile"], "4096");
}
