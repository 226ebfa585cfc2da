//! A terminal a test can read and type into, the way a user sees one: a
//! tmux server on its own socket (in a temp dir) running one command in a
//! pane of a fixed size. `screen` is `tmux capture-pane -p`; `type_line`
//! and `keys` are `tmux send-keys`. The server is this test's own: killed
//! through its socket on drop. And `Ssh`: OpenSSH's client with a test key,
//! for a device's breakglass server on a forwarded port.
//!
//! Self-contained, so that other crates' tests (paddock-breakglass's)
//! include it with `#[path]` too.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    /// Runs `command` (a shell command line) in a `width`×`height` pane.
    /// When it ends, the pane shows `[exited CODE]` and stays open.
    pub fn start(command: &str, width: u16, height: u16) -> Tmux {
        require_tool("tmux", "tmux");
        let dir = tempfile::Builder::new()
            .prefix("paddock-tmux-")
            .tempdir()
            .unwrap();
        let t = Tmux { dir };
        let wrapped = format!("{command}; echo \"[exited $?]\"; sleep 3600");
        let out = t
            .tmux()
            .args(["new-session", "-d", "-s", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg(wrapped)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S")
            .arg(self.dir.path().join("sock"))
            .args(["-f", "/dev/null"])
            .stdin(Stdio::null());
        c
    }

    /// The pane's text as shown now.
    pub fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// tmux key names (`Enter`, `C-a`, `d`, …).
    pub fn keys(&self, keys: &[&str]) {
        let out = self
            .tmux()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux send-keys {keys:?}");
    }

    /// Types `text` literally, then Enter.
    pub fn type_line(&self, text: &str) {
        let out = self
            .tmux()
            .args(["send-keys", "-t", "t", "-l", text])
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux send-keys -l {text:?}");
        self.keys(&["Enter"]);
    }

    /// Resizes the window (the program in it gets SIGWINCH).
    pub fn resize(&self, width: u16, height: u16) {
        let out = self
            .tmux()
            .args(["resize-window", "-t", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux resize-window");
    }

    /// Waits until the pane shows `needle`; returns the screen, or panics
    /// with it (and `context`, e.g. a serial console) after `timeout`.
    pub fn wait_for(
        &self,
        needle: &str,
        timeout: Duration,
        context: &dyn Fn() -> String,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the terminal did not show {needle:?} within {timeout:?}; it shows:\n{screen}\n{}",
                context()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

/// `ssh` with a fresh ed25519 key to 127.0.0.1:`port` (a VM's forwarded
/// breakglass port); host keys are not remembered.
pub struct Ssh {
    pub key: PathBuf,
    pub public_key: String,
    pub port: u16,
}

impl Ssh {
    /// Generates a key pair in `dir`.
    pub fn new(dir: &Path, port: u16) -> Ssh {
        require_tool("ssh", "openssh-client");
        require_tool("ssh-keygen", "openssh-client");
        let key = dir.join("id_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "paddock-test", "-f"])
            .arg(&key)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let public_key = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        Ssh {
            key,
            public_key,
            port,
        }
    }

    /// The options, without the command: `-i KEY -p PORT … root@127.0.0.1`.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["-i".into(), self.key.display().to_string()];
        a.extend(["-p".into(), self.port.to_string()]);
        for o in [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
            "BatchMode=yes",
            "ConnectTimeout=10",
            "IdentitiesOnly=yes",
        ] {
            a.extend(["-o".into(), o.into()]);
        }
        a.push("root@127.0.0.1".into());
        a
    }

    /// `ssh [-t] … COMMAND` as a shell command line (for a tmux pane).
    pub fn command_line(&self, tty: bool, command: &str) -> String {
        let mut line = String::from("ssh");
        if tty {
            line.push_str(" -t");
        }
        for a in self.args() {
            line.push(' ');
            line.push_str(&shell_quote(&a));
        }
        line.push(' ');
        line.push_str(command);
        line
    }

    /// Runs `command` on the device (no tty), with a time limit.
    pub fn run(&self, command: &str) -> Output {
        Command::new("timeout")
            .arg("60")
            .arg("ssh")
            .args(self.args())
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=@:".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Fails (never skips) when a tool the test drives is missing.
fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    assert!(found, "{tool} is missing: apt-get install {package}");
}

/// Waits for a `paddock-breakglass --listen 127.0.0.1:0` (stderr to `log`)
/// to say which port the kernel gave it. The server picks the port itself:
/// a port chosen by the test and bound later can be taken in between (by a
/// parallel test's server), and a probe `connect` can reach the wrong one.
pub fn breakglass_port(child: &mut Child, log: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let port = text
            .lines()
            .filter(|l| l.contains("listening"))
            .find_map(|l| l.split("addr=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .map(|a| a.port());
        if let Some(port) = port {
            return port;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("paddock-breakglass exited ({status}) before listening:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "paddock-breakglass is not listening after 20 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
