//! paddock-breakglass against the real OpenSSH client: exit statuses,
//! pipes and EOF, refused keys, ptys, window changes (under tmux), shells,
//! and hanging up. Needs `ssh`/`ssh-keygen` (openssh-client), `tmux` and
//! `busybox` (busybox-static); a missing one fails the test.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use paddock_testkit::terminal::{self, Tmux};

fn need(tool: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("{tool} is missing: apt-get install {package}");
}

fn keygen(path: &Path) {
    let st = Command::new(need("ssh-keygen", "openssh-client"))
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
}

/// A running paddock-breakglass on 127.0.0.1 with its own keys.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Self {
        need("busybox", "busybox-static");
        let dir = tempfile::tempdir().unwrap();
        keygen(&dir.path().join("client"));
        std::fs::copy(
            dir.path().join("client.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_paddock-breakglass"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--host-key")
            .arg(dir.path().join("host_key"))
            .arg("--authorized-keys")
            .arg(dir.path().join("authorized_keys"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let port = terminal::breakglass_port(&mut child, &dir.path().join("log"));
        Server { child, port, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// `ssh` with this server's port and the given identity.
    fn ssh_as(&self, key: &Path) -> Command {
        let mut c = Command::new(need("ssh", "openssh-client"));
        c.args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-F",
            "/dev/null",
            "-i",
        ])
        .arg(key)
        .arg("-p")
        .arg(self.port.to_string())
        .arg("root@127.0.0.1");
        c
    }

    fn ssh(&self) -> Command {
        self.ssh_as(&self.dir.path().join("client"))
    }

    /// Runs `ssh … ARGS` with `input` on stdin.
    fn run(&self, args: &[&str], input: &[u8]) -> Output {
        let mut c = self.ssh();
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn exec_status_pipes_and_eof() {
    let s = Server::start();
    let out = s.run(&["false"], b"");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\nserver log:\n{}",
        text(&out.stderr),
        s.log()
    );
    let out = s.run(&["busybox", "sh", "-c", "'exit 7'"], b"");
    assert_eq!(out.status.code(), Some(7));
    // Quoting is shell-like (shlex), with no shell on the server side.
    let out = s.run(&["busybox", "echo", "'a  b'", "\"c\""], b"");
    assert_eq!(text(&out.stdout), "a  b c\n");
    // stdin to the program, EOF closes its stdin, stdout back.
    let out = s.run(&["busybox", "tr", "a-z", "A-Z"], b"hello breakglass");
    assert_eq!(text(&out.stdout), "HELLO BREAKGLASS");
    assert!(out.status.success());
    // A megabyte both ways, intact.
    let big: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let out = s.run(&["busybox", "cat"], &big);
    assert!(out.status.success());
    assert!(out.stdout == big, "got {} bytes back", out.stdout.len());
    // stderr stays stderr.
    let out = s.run(&["busybox", "sh", "-c", "'echo out; echo err >&2'"], b"");
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    // Unknown commands: a message and 127, as a shell would.
    let out = s.run(&["no-such-command"], b"");
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains("no-such-command: command not found"),
        "{}",
        text(&out.stderr)
    );
    // Death by signal reaches the client (ssh exits 255 then).
    let out = s.run(&["busybox", "sh", "-c", "'kill -9 $$'"], b"");
    assert_eq!(out.status.code(), Some(255));
    let log = s.log();
    assert!(log.contains("killed by SIGKILL"), "{log}");
    assert!(log.contains("command=\"busybox tr a-z A-Z\""), "{log}");
    assert!(log.contains("SHA256:"), "{log}");
}

#[test]
fn wrong_key_is_refused_until_authorized() {
    let s = Server::start();
    let other = s.dir.path().join("other");
    keygen(&other);
    let out = s
        .ssh_as(&other)
        .args(["busybox", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
    // The file is read again for every connection.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(s.dir.path().join("authorized_keys"))
        .unwrap();
    f.write_all(&std::fs::read(s.dir.path().join("other.pub")).unwrap())
        .unwrap();
    drop(f);
    let out = s
        .ssh_as(&other)
        .args(["busybox", "echo", "in"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "in\n", "{}", text(&out.stderr));
}

#[test]
fn pty_allocation_term_and_status() {
    let s = Server::start();
    let out = s
        .ssh()
        .env("TERM", "xterm-256color")
        .args(["-tt", "busybox", "sh", "-c", "'tty; echo $TERM; exit 3'"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{o}");
    let mut lines = o.lines();
    let tty = lines.next().unwrap_or_default();
    assert!(tty.starts_with("/dev/pts/"), "{o:?}");
    assert_eq!(lines.next(), Some("xterm-256color"), "{o:?}");
}

#[test]
fn shell_request_runs_sh() {
    let s = Server::start();
    let out = s.run(&["-tt"], b"echo shell-$((2+3))\nexit 4\n");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("shell-5"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn no_shell_says_so() {
    let empty = tempfile::tempdir().unwrap();
    let s = Server::start_with(&["--path", empty.path().to_str().unwrap()]);
    let out = s.run(&["-T"], b"");
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains("no shell in this image")
            && text(&out.stderr).contains("paddock ps"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn window_size_and_changes_under_tmux() {
    let s = Server::start();
    let ssh: Vec<String> = {
        let c = s.ssh();
        std::iter::once(c.get_program().to_string_lossy().into_owned())
            .chain(c.get_args().map(|a| a.to_string_lossy().into_owned()))
            .collect()
    };
    // The remote side prints its size, then again on SIGWINCH.
    let remote = "busybox sh -c 'echo size $(busybox stty size); trap \"echo winch $(busybox stty size) \\$(busybox stty size); exit 0\" WINCH; while :; do busybox sleep 0.1; done'";
    let mut line: Vec<String> = ssh
        .iter()
        .map(|a| shlex::try_quote(a).unwrap().into_owned())
        .collect();
    line.push("-t".into());
    line.push(shlex::try_quote(remote).unwrap().into_owned());
    line.push("; echo ssh-exit=$?".into());
    let tmux = Tmux::start(&line.join(" "), 100, 30);
    let wait = Duration::from_secs(15);
    tmux.wait_for("size 30 100", wait, &|| s.log());
    tmux.resize(120, 40);
    let pane = tmux.wait_for("ssh-exit=0", wait, &|| s.log());
    assert!(pane.contains("40 120"), "{pane}");
}

#[test]
fn hanging_up_ends_the_program() {
    let s = Server::start();
    let mut c = s.ssh();
    c.args(["busybox", "sh", "-c", "'echo $$; exec busybox sleep 1000'"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut client = c.spawn().unwrap();
    let mut out = client.stdout.take().unwrap();
    let proc_dir = remote_process(&mut out);
    client.kill().unwrap();
    client.wait().unwrap();
    wait_gone(&proc_dir);
}

/// The program's /proc directory, from the pid it printed as its first line.
fn remote_process(out: &mut impl Read) -> PathBuf {
    let mut pid = String::new();
    let mut b = [0u8; 1];
    while out.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        pid.push(b[0] as char);
    }
    let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
    assert!(proc_dir.exists(), "pid {pid:?}");
    proc_dir
}

/// Waits until the process is gone (or a zombie) for at most 10 s.
fn wait_gone(proc_dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_dir.exists()
        && !std::fs::read_to_string(proc_dir.join("stat")).is_ok_and(|st| st.contains(") Z "))
    {
        assert!(
            Instant::now() < deadline,
            "{} still running",
            proc_dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A client process of this test: killed (by pid) when the test ends,
/// failed or not.
struct Client(Child);

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"))
}

/// A client that stops reading holds the program up (the channel's window
/// closes, the program's pipe or pty fills) instead of its output piling up
/// in the server, and without holding up the connection's other sessions
/// (OpenSSH multiplexes them when ControlMaster is on). Reading again lets
/// it go on. With pipes and on a pty.
#[test]
fn a_client_that_stops_reading_holds_up_only_its_own_program() {
    const LIMIT_KIB: u64 = 64 * 1024;
    for pty in [false, true] {
        let s = Server::start();
        let mux = s.dir.path().join("mux");
        let mut master = s.ssh();
        master
            .args(["-M", "-N", "-S"])
            .arg(&mux)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let master = Client(master.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !mux.exists() {
            assert!(Instant::now() < deadline, "no control socket: {}", s.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        let session = |args: &[&str]| {
            let mut c = s.ssh();
            c.args(["-o", "ControlMaster=no", "-S"])
                .arg(&mux)
                .args(args);
            c
        };
        let mut c = session(if pty { &["-tt"] } else { &[] });
        c.args([
            "busybox",
            "sh",
            "-c",
            "'echo $$; exec busybox cat /dev/zero'",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut client = Client(c.spawn().unwrap());
        let mut out = client.0.stdout.take().unwrap();
        let proc_dir = remote_process(&mut out);
        // Not reading for 3 s: `cat /dev/zero` would write gigabytes.
        let mut peak = 0;
        for _ in 0..30 {
            peak = peak.max(rss_kib(s.child.id()));
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            peak < LIMIT_KIB,
            "pty={pty}: the server grew to {peak} KiB while the client did not read"
        );
        // Another session on the same connection still runs.
        let mut other = Client(
            session(&[])
                .args(["busybox", "echo", "other"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while other.0.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "pty={pty}: the stalled session holds up the other one"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut said = String::new();
        let mut stdout = other.0.stdout.take().unwrap();
        stdout.read_to_string(&mut said).unwrap();
        assert_eq!(said, "other\n", "pty={pty}: {}", s.log());
        // Reading again: the output flows.
        let mut got = vec![0u8; 16 << 20];
        out.read_exact(&mut got).unwrap();
        assert!(got.iter().all(|&b| b == 0), "pty={pty}");
        // Hanging up ends it (the connection: OpenSSH's master may keep a
        // channel whose mux client went away open while data still comes).
        drop(client);
        drop(master);
        wait_gone(&proc_dir);
    }
}

/// Without --listen: every private address, followed as they come and go.
/// Runs in a network namespace of its own (unshare, util-linux; ip,
/// iproute2) with a veth pair that gets addresses later.
#[test]
fn follows_private_addresses_in_a_network_namespace() {
    let unshare = need("unshare", "util-linux");
    let nsenter = need("nsenter", "util-linux");
    let ip = need("ip", "iproute2");
    need("busybox", "busybox-static");
    let dir = tempfile::tempdir().unwrap();
    keygen(&dir.path().join("client"));
    std::fs::copy(
        dir.path().join("client.pub"),
        dir.path().join("authorized_keys"),
    )
    .unwrap();
    let log_path = dir.path().join("log");
    let log = std::fs::File::create(&log_path).unwrap();
    let script = format!(
        "{ip} link set lo up && exec {bin} --port 2222 --host-key {dir}/host_key --authorized-keys {dir}/authorized_keys",
        ip = ip.display(),
        bin = env!("CARGO_BIN_EXE_paddock-breakglass"),
        dir = dir.path().display()
    );
    let mut child = Command::new(unshare)
        .args(["--net", "--", "/bin/sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id();
    let _guard = Kill(&mut child);
    let netns = format!("--net=/proc/{pid}/ns/net");
    let in_ns = |prog: &Path, args: &[&str]| -> Output {
        Command::new(&nsenter)
            .arg(&netns)
            .arg(prog)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ssh_to = |addr: &str| -> Output {
        let key = dir.path().join("client");
        in_ns(
            &need("ssh", "openssh-client"),
            &[
                "-F",
                "/dev/null",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=2",
                "-i",
                key.to_str().unwrap(),
                "-p",
                "2222",
                &format!("root@{addr}"),
                "busybox",
                "echo",
                "ok",
            ],
        )
    };
    let wait_ok = |addr: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = ssh_to(addr);
            if text(&out.stdout) == "ok\n" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no login on {addr}: {}\n{}",
                text(&out.stderr),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    wait_ok("127.0.0.1");
    // A private address that appears later (as DHCP's would) is served
    // within a few seconds; a public one never.
    for args in [
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"][..],
        &["addr", "add", "10.9.8.7/24", "dev", "v0"],
        &["addr", "add", "203.0.113.9/24", "dev", "v0"],
        &["link", "set", "v1", "up"],
        &["link", "set", "v0", "up"],
    ] {
        let out = in_ns(&ip, args);
        assert!(out.status.success(), "ip {args:?}: {}", text(&out.stderr));
    }
    wait_ok("10.9.8.7");
    let out = ssh_to("203.0.113.9");
    assert_ne!(text(&out.stdout), "ok\n", "listening on a public address");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("addr=10.9.8.7:2222"), "{log}");
    assert!(!log.contains("203.0.113.9:2222"), "{log}");
}
