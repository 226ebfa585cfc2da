//! paddock-ntp against a real NTP server: chronyd serving its local clock
//! (`local stratum 8`) on 127.0.0.1:123 inside a network namespace the test
//! creates. The client runs with --dry-run, so the host clock is never
//! touched; the offset it measures against the same clock must be tiny.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const CHRONYD: &str = "/usr/sbin/chronyd";

struct Server {
    ns: String,
    dir: tempfile::TempDir,
    chronyd: Child,
}

impl Server {
    fn start(tag: &str) -> Self {
        assert!(
            Path::new(CHRONYD).exists(),
            "{CHRONYD} is missing: apt-get install chrony"
        );
        let ns = format!("pdk-ntp-{}-{tag}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .expect("ip (apt-get install iproute2)");
        assert!(st.success());
        assert!(Command::new("ip")
            .args(["-n", &ns, "link", "set", "lo", "up"])
            .status()
            .unwrap()
            .success());
        let conf = dir.path().join("chrony.conf");
        std::fs::write(
            &conf,
            format!(
                "local stratum 8\nallow\nport 123\nbindaddress 127.0.0.1\ncmdport 0\npidfile {}\n",
                dir.path().join("chronyd.pid").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("chronyd.log")).unwrap();
        // -d: foreground; -x: never touch the clock; `ip netns exec` execs
        // chronyd, so this child's pid is chronyd's.
        let chronyd = Command::new("ip")
            .args(["netns", "exec", &ns, CHRONYD, "-f"])
            .arg(&conf)
            .args(["-d", "-x", "-u", "root"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self { ns, dir, chronyd }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn client(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &self.ns,
            env!("CARGO_BIN_EXE_paddock-ntp"),
            "--dry-run",
            "--marker",
        ])
        .arg(self.path("clock-synced"))
        .args(["--servers-file"])
        .arg(self.path("ntp-servers"))
        .args(args);
        c
    }

    /// Runs the client with --once until it succeeds (chronyd needs a moment).
    fn sync_once(&self, args: &[&str]) -> Output {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut c = self.client(args);
            c.arg("--once");
            let mut child = c
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // One sync: well under the deadline, or the client retries forever.
            let until = Instant::now() + Duration::from_secs(3);
            while child.try_wait().unwrap().is_none() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            if child.try_wait().unwrap().is_none() {
                let _ = child.kill();
            }
            let out = child.wait_with_output().unwrap();
            if out.status.success() {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "no sync: {}\nchronyd: {}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.path("chronyd.log")).unwrap_or_default()
            );
        }
    }

    fn marker(&self) -> Option<String> {
        std::fs::read_to_string(self.path("clock-synced")).ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.chronyd.id() as i32), Signal::SIGTERM);
        let _ = self.chronyd.wait();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn offset_us(marker: &str) -> i64 {
    marker
        .lines()
        .find_map(|l| l.strip_prefix("offset_us="))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn measures_the_offset_and_writes_the_marker() {
    let server = Server::start("once");
    let before = std::time::SystemTime::now();
    // An unanswered server first: the client moves on to the next one.
    server.sync_once(&[
        "--server",
        "127.0.0.1:1123",
        "--timeout-ms",
        "300",
        "--server",
        "127.0.0.1",
    ]);
    let marker = server.marker().expect("marker written");
    assert!(marker.contains("server=127.0.0.1:123\n"), "{marker}");
    assert!(marker.contains("stepped=false\n"), "{marker}");
    // Same clock on both ends: the offset is noise.
    assert!(offset_us(&marker).abs() < 100_000, "{marker}");
    let drift = std::time::SystemTime::now().duration_since(before).unwrap();
    assert!(drift < Duration::from_secs(20), "host clock untouched");
}

#[test]
fn servers_from_the_dhcp_file_and_periodic_resync() {
    let server = Server::start("file");
    std::fs::write(server.path("ntp-servers"), "127.0.0.1\n").unwrap();
    server.sync_once(&[]);
    let first = std::fs::metadata(server.path("clock-synced"))
        .unwrap()
        .modified()
        .unwrap();
    // Keeps running and syncs again after the interval.
    let mut child = server
        .client(&["--interval-secs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut rewrites = 0;
    let mut last = first;
    while Instant::now() < deadline && rewrites < 2 {
        let m = std::fs::metadata(server.path("clock-synced"))
            .unwrap()
            .modified()
            .unwrap();
        if m != last {
            rewrites += 1;
            last = m;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let _ = child.wait();
    assert!(
        rewrites >= 2,
        "marker rewritten by periodic syncs ({rewrites})"
    );
}

#[test]
fn no_servers_is_reported_and_retried() {
    let server = Server::start("none");
    let mut child = server
        .client(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "keeps waiting for servers"
    );
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no servers yet (no --server, nothing in "),
        "{err}"
    );
    assert!(server.marker().is_none());
}
