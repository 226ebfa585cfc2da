//! paddock-breakglass with the real OpenSSH client against a real paddockd:
//! `ssh HOST paddock ps`, and `ssh -t HOST paddock exec -it NAME -- …` into
//! a busybox container under tmux, window size changes passing through
//! both ptys (breakglass's and the container's). Needs openssh-client and
//! tmux; a missing one fails the test.

mod support;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::instance::{bin, build_busybox_image, busybox_rootfs, require_tool, Instance};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// paddock-breakglass on 127.0.0.1 whose PATH starts with the workspace's
/// binaries (so `paddock` is the one under test).
struct Breakglass {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Breakglass {
    fn start() -> Self {
        require_tool("ssh", "openssh-client");
        require_tool("ssh-keygen", "openssh-client");
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client");
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::copy(
            dir.path().join("client.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bins = bin("paddock");
        let path = format!(
            "{}:/usr/bin:/bin:/usr/sbin:/sbin",
            bins.parent().unwrap().display()
        );
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(bin("paddock-breakglass"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--host-key")
            .arg(dir.path().join("host_key"))
            .arg("--authorized-keys")
            .arg(dir.path().join("authorized_keys"))
            .args(["--path", &path])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let b = Breakglass { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "breakglass is not listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        b
    }

    /// The ssh command line (program first).
    fn ssh(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            "ssh",
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
            "IdentitiesOnly=yes",
            "-i",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push(self.dir.path().join("client").display().to_string());
        v.extend(["-p".into(), self.port.to_string(), "root@127.0.0.1".into()]);
        v
    }

    fn run(&self, args: &[&str]) -> Output {
        let ssh = self.ssh();
        Command::new(&ssh[0])
            .args(&ssh[1..])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for Breakglass {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tmux server of our own (by socket name), killed at the end.
struct Tmux(String);

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.0, "-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    fn wait_for(&self, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pane = self.run(&["capture-pane", "-p", "-t", "t"]);
            if pane.contains(want) {
                return pane;
            }
            assert!(
                Instant::now() < deadline,
                "{want:?} not on the screen:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .output();
    }
}

fn start_container(inst: &mut Instance) {
    // The image is imported into <root>/var: no /perm bind mount over it.
    inst.write_daemon_config(
        "clock:\n  wait: false\nbind_var: false\nbackoff:\n  initial: 100ms\n  max: 2s\n  reset_after: 10s\n",
    );
    let rootfs = tempfile::tempdir().unwrap();
    busybox_rootfs(rootfs.path());
    build_busybox_image(inst.root(), rootfs.path(), "paddock.test/bg:1", "--import");
    inst.write_manifest(
        "box.yaml",
        "name: box\nimage: paddock.test/bg:1\npull: never\ncommand: [sleep, '1000']\n",
    );
    inst.start();
    inst.wait_state("box", "running");
}

#[test]
fn paddock_through_breakglass() {
    require_tool("tmux", "tmux");
    let mut inst = Instance::new(&[]);
    start_container(&mut inst);
    let bg = Breakglass::start();
    let root = inst.root().display().to_string();

    // `ssh HOST paddock ps`, no pty.
    let out = bg.run(&["paddock", "--root", &root, "ps"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("box"), "{}", text(&out.stdout));
    // Exit statuses come back through both.
    let out = bg.run(&[
        "paddock", "--root", &root, "exec", "box", "--", "sh", "-c", "'exit 6'",
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));

    // `ssh -t HOST paddock exec -it box -- sh …` in a 100x30 tmux window,
    // then the window grows to 120x40: the container's shell sees it.
    let tmux = Tmux(format!("breakglass-paddock-{}", std::process::id()));
    let remote = format!(
        "paddock --root {root} exec -it box -- sh -c 'tty; echo size $(stty size); trap \"echo winch $(stty size) \\$(stty size); exit 0\" WINCH; while :; do sleep 0.1; done'"
    );
    let mut line: Vec<String> = bg
        .ssh()
        .iter()
        .map(|a| shlex::try_quote(a).unwrap().into_owned())
        .collect();
    line.push("-t".into());
    line.push(shlex::try_quote(&remote).unwrap().into_owned());
    line.push("; echo ssh-exit=$?; sleep 60".into());
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "100",
        "-y",
        "30",
        &line.join(" "),
    ]);
    let pane = tmux.wait_for("size 30 100");
    assert!(pane.contains("/dev/pts/"), "{pane}");
    tmux.run(&["resize-window", "-t", "t", "-x", "120", "-y", "40"]);
    let pane = tmux.wait_for("ssh-exit=0");
    assert!(pane.contains("40 120"), "{pane}");
    let log = std::fs::read_to_string(bg.dir.path().join("log")).unwrap();
    assert!(log.contains("exec -it box"), "{log}");
    drop(tmux);
    assert!(Path::new(&root).exists());
}
