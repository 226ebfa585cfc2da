//! Helpers for image and VM tests: instances made with the real `paddock`
//! CLI, `paddock build`, a QEMU VM via `vm/run` (killed by pid on drop), and
//! a chronyd NTP server on loopback (the guest reaches it at 10.0.2.2).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::instance::bin;

/// The workspace root.
pub fn workspace() -> PathBuf {
    // crates/paddock-testkit → the workspace root.
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Runs `paddock ARGS`.
pub fn paddock(args: &[&str]) -> Output {
    Command::new(bin("paddock"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run paddock")
}

/// `paddock new NAME --dir DIR`, asserting success.
pub fn new_instance(dir: &Path, name: &str) {
    let out = paddock(&["new", name, "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "paddock new: {}", stderr(&out));
}

pub fn stderr(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Replaces `key: …` (a top-level line) in the instance's config.yaml.
pub fn set_config(dir: &Path, key: &str, yaml_value: &str) {
    let path = dir.join("config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    let mut replaced = false;
    let mut skipping = false;
    for line in text.lines() {
        if skipping && (line.starts_with(' ') || line.starts_with('#') || line.starts_with('-')) {
            continue;
        }
        skipping = false;
        if line.starts_with(&format!("{key}:")) {
            out.push_str(&format!("{key}: {yaml_value}\n"));
            replaced = true;
            skipping = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !replaced {
        out.push_str(&format!("{key}: {yaml_value}\n"));
    }
    std::fs::write(&path, out).unwrap();
}

/// A directory of static stand-ins for the system binaries (copies of
/// busybox-static): enough for tests of the image format, which treats
/// them as opaque executables; never booted.
pub fn stand_in_bins(dir: &Path) -> PathBuf {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    let bins = dir.join("bin");
    std::fs::create_dir_all(&bins).unwrap();
    for b in SYSTEM_BINARIES {
        std::fs::copy(busybox, bins.join(b)).unwrap();
    }
    bins
}

/// `paddock build` with a fixed epoch; extra args (e.g. `--bin-dir X`).
pub fn build(instance: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "build",
        "--instance",
        instance.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--epoch",
        "1767225600", // 2026-01-01
        "-q",
    ];
    args.extend_from_slice(extra);
    paddock(&args)
}

pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// What `paddock build --bin-dir DIR` takes from DIR (crates/paddock's
/// `build::binaries::SYSTEM`).
pub const SYSTEM_BINARIES: [&str; 8] = [
    "paddock-init",
    "paddock-dhcp",
    "paddock-ntp",
    "paddock-randomd",
    "paddockd",
    "paddock-runner",
    "paddock-breakglass",
    "paddock",
];

/// Copies a serial console log to cargo's test temp dir when dropped (also
/// on failure), as `target/tmp/TEST-FILE` (`vm_boot-serial-1.log`).
pub struct KeepLog {
    pub test: &'static str,
    pub log: PathBuf,
}

impl Drop for KeepLog {
    fn drop(&mut self) {
        let name = format!(
            "{}-{}",
            self.test,
            self.log.file_name().unwrap_or_default().to_string_lossy()
        );
        // target/tmp, where cargo keeps integration tests' files.
        let exe = std::env::current_exe().unwrap_or_default();
        if let Some(target) = exe.ancestors().nth(3) {
            let tmp = target.join("tmp");
            let _ = std::fs::create_dir_all(&tmp);
            let _ = std::fs::copy(&self.log, tmp.join(name));
        }
    }
}

/// A root prefix for `paddock image build --push`, whose
/// `etc/paddock/registries.yaml` lets it push to `registry` over HTTP.
pub fn push_root(dir: &Path, registry: &str) -> PathBuf {
    let root = dir.join("push-root");
    std::fs::create_dir_all(root.join("etc/paddock")).unwrap();
    std::fs::write(
        root.join("etc/paddock/registries.yaml"),
        format!("insecure: [\"{registry}\"]\n"),
    )
    .unwrap();
    root
}

/// A VM started with `vm/run`, its serial console in a file.
pub struct Vm {
    child: Child,
    pub serial: PathBuf,
    pub started: Instant,
}

impl Vm {
    pub fn start(image: &Path, serial: &Path, args: &[&str]) -> Vm {
        crate::instance::require_tool("qemu-system-x86_64", "qemu-system-x86");
        assert!(
            Path::new("/usr/share/OVMF/OVMF_CODE_4M.fd").is_file(),
            "OVMF is missing: apt-get install ovmf"
        );
        let child = Command::new(workspace().join("vm/run"))
            .arg(image)
            .arg("--serial")
            .arg(serial)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("start vm/run");
        Vm {
            child,
            serial: serial.to_path_buf(),
            started: Instant::now(),
        }
    }

    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.serial).unwrap_or_default()).into_owned()
    }

    /// Waits until the serial log contains `needle`; panics with the log.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the VM exited ({status}) before {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on the serial console within {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls `GET /` on 127.0.0.1:`port` until the body contains `needle`.
    pub fn wait_for_http(&mut self, port: u16, needle: &str, timeout: Duration) -> Duration {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(body) = http_get(port) {
                if body.contains(needle) {
                    return self.started.elapsed();
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the VM exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "127.0.0.1:{port} did not answer {needle:?} within {timeout:?}; serial console:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // vm/run kills its QEMU and removes its OVMF_VARS copy on SIGTERM.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

/// The response of `GET /` on 127.0.0.1:`port`, if any.
pub fn http_get(port: u16) -> Option<String> {
    let addr = format!("127.0.0.1:{port}");
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.starts_with("HTTP/").then_some(text)
}

/// chronyd serving NTP on 127.0.0.1:`port` from the host's clock, never
/// touching it (`-x`). Killed by pid on drop.
pub struct NtpServer {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl NtpServer {
    pub fn start() -> NtpServer {
        Self::start_on(free_udp_port())
    }

    pub fn start_on(port: u16) -> NtpServer {
        let chronyd = Path::new("/usr/sbin/chronyd");
        assert!(
            chronyd.is_file(),
            "chronyd is missing: apt-get install chrony"
        );
        let dir = tempfile::Builder::new()
            .prefix("paddock-ntp-")
            .tempdir()
            .unwrap();
        let conf = dir.path().join("chrony.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 3\ncmdport 0\npidfile {}\n",
                dir.path().join("chronyd.pid").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("chronyd.log")).unwrap();
        let child = Command::new(chronyd)
            .args(["-d", "-x", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start chronyd");
        std::thread::sleep(Duration::from_millis(300));
        NtpServer { child, dir, port }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chronyd.log")).unwrap_or_default()
    }
}

impl Drop for NtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind udp")
}
