//! paddock-breakglass with the real OpenSSH client against a real paddockd:
//! `ssh HOST paddock ps`, and `ssh -t HOST paddock exec -it NAME -- …` into
//! a busybox container under tmux, window size changes passing through
//! both ptys (breakglass's and the container's). Needs openssh-client and
//! tmux; a missing one fails the test.

use paddock_testkit as support;
use paddock_testkit::terminal;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::instance::{bin, build_busybox_image, busybox_rootfs, require_tool, Instance};
use terminal::{Ssh, Tmux};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// paddock-breakglass on 127.0.0.1 whose PATH starts with the workspace's
/// binaries (so `paddock` is the one under test), with a client key of its
/// own in its authorized keys.
struct Breakglass {
    child: Child,
    ssh: Ssh,
    dir: tempfile::TempDir,
}

impl Breakglass {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ssh = Ssh::new(dir.path(), 0);
        std::fs::write(dir.path().join("authorized_keys"), &ssh.public_key).unwrap();
        let bins = bin("paddock");
        let path = format!(
            "{}:/usr/bin:/bin:/usr/sbin:/sbin",
            bins.parent().unwrap().display()
        );
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let mut child = Command::new(bin("paddock-breakglass"))
            .arg("--listen")
            .arg("127.0.0.1:0")
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
        ssh.port = terminal::breakglass_port(&mut child, &dir.path().join("log"));
        Breakglass { child, ssh, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Breakglass {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let out = bg.ssh.run(&format!("paddock --root {root} ps"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("box"), "{}", text(&out.stdout));
    // Exit statuses come back through both.
    let out = bg
        .ssh
        .run(&format!("paddock --root {root} exec box -- sh -c 'exit 6'"));
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));

    // `ssh -t HOST paddock exec -it box -- sh …` in a 100x30 tmux window,
    // then the window grows to 120x40: the container's shell sees it.
    let remote = format!(
        "paddock --root {root} exec -it box -- sh -c 'tty; echo size $(stty size); trap \"echo winch $(stty size) \\$(stty size); exit 0\" WINCH; while :; do sleep 0.1; done'"
    );
    let line = bg
        .ssh
        .command_line(true, &shlex::try_quote(&remote).unwrap());
    let tmux = Tmux::start(&format!("{line}; echo ssh-exit=$?"), 100, 30);
    let wait = Duration::from_secs(30);
    let pane = tmux.wait_for("size 30 100", wait, &|| bg.log());
    assert!(pane.contains("/dev/pts/"), "{pane}");
    tmux.resize(120, 40);
    let pane = tmux.wait_for("ssh-exit=0", wait, &|| bg.log());
    assert!(pane.contains("40 120"), "{pane}");
    assert!(bg.log().contains("exec -it box"), "{}", bg.log());
    drop(tmux);
    assert!(Path::new(&root).exists());
}
