//! Starting `paddock-runner`: the per-container monitor, and `exec`.
//!
//! paddockd never calls libcontainer itself (it forks, and forking a
//! multi-threaded process deadlocks); the single-threaded runner does.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::config::LogConfig;
use crate::paths::Paths;

/// How to invoke `paddock-runner` for this instance.
#[derive(Debug, Clone)]
pub struct Runner {
    binary: PathBuf,
    root: PathBuf,
}

/// Finds `paddock-runner`: the configured path, next to the running
/// executable, or on $PATH.
pub fn find_runner(configured: Option<&Path>) -> PathBuf {
    if let Some(p) = configured {
        return p.to_path_buf();
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            for candidate in [dir.join("paddock-runner"), dir.join("../paddock-runner")] {
                if candidate.is_file() {
                    return candidate;
                }
            }
        }
    }
    PathBuf::from("paddock-runner")
}

impl Runner {
    pub fn new(binary: PathBuf, paths: &Paths) -> Self {
        Self {
            binary,
            root: paths.runner_root(),
        }
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Spawns the monitor for one container in its own session, so that it
    /// outlives paddockd. Its exit is reaped by a background task.
    pub fn spawn_monitor(
        &self,
        id: &str,
        bundle: &Path,
        state_dir: &Path,
        log_dir: &Path,
        tty: bool,
        logs: &LogConfig,
    ) -> std::io::Result<u32> {
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("monitor")
            .arg("--id")
            .arg(id)
            .arg("--bundle")
            .arg(bundle)
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--log-dir")
            .arg(log_dir)
            .arg("--log-max-bytes")
            .arg(logs.max_file_bytes.to_string())
            .arg("--log-max-files")
            .arg(logs.max_files.to_string())
            .arg("--log-buffer-lines")
            .arg(logs.buffer_lines.to_string());
        if tty {
            cmd.arg("--tty");
        }
        // The monitor's own complaints (bad arguments, a runtime error before
        // it could write status.json) go to a file paddockd can quote.
        let stderr = std::fs::File::create(state_dir.join("monitor.log"))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(false);
        // SAFETY: setsid is async-signal-safe and touches no memory of the
        // parent; it only detaches the child from paddockd's session.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0);
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(pid)
    }

    /// Deletes the container `id` whatever its state (kills what is left of
    /// it and removes its cgroup); for when its monitor is gone.
    pub async fn delete_force(&self, id: &str) {
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        match tokio::time::timeout(std::time::Duration::from_secs(10), cmd.output()).await {
            Ok(Ok(out)) if out.status.success() => {}
            Ok(Ok(out)) => tracing::warn!(
                container = %id,
                error = %String::from_utf8_lossy(&out.stderr).trim(),
                "paddock-runner delete --force failed"
            ),
            Ok(Err(error)) => {
                tracing::warn!(container = %id, %error, "running paddock-runner delete")
            }
            Err(_) => tracing::warn!(container = %id, "paddock-runner delete --force timed out"),
        }
    }

    /// A command running `CMD` inside the running container `id`.
    /// With `console_socket`, the pty's master is sent there (runc's
    /// protocol) instead of being relayed by the runner.
    pub fn exec_command(
        &self,
        id: &str,
        command: &[String],
        tty: bool,
        console_socket: Option<&Path>,
        env: &[(String, String)],
    ) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.arg("--root").arg(&self.root).arg("exec");
        if tty {
            cmd.arg("--tty");
        }
        if let Some(socket) = console_socket {
            cmd.arg("--console-socket").arg(socket);
        }
        for (k, v) in env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        cmd.arg(id).arg("--").args(command);
        cmd
    }
}
