//! Starting `paddock-runner`: the per-container monitor, and `exec`.
//!
//! paddockd never calls libcontainer itself (it forks, and forking a
//! multi-threaded process deadlocks); the single-threaded runner does.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use paddock_wire::runner::{argv, files, ExecArgs, MonitorArgs};

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
        let args = MonitorArgs {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            log_dir: log_dir.to_path_buf(),
            tty,
            log_max_bytes: logs.max_file_bytes,
            log_max_files: logs.max_files,
            // validated to 1..=1000000 (config::DaemonConfig::validate)
            log_buffer_lines: u32::try_from(logs.buffer_lines).unwrap_or(u32::MAX),
        };
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.args(argv::root(&self.root)).args(args.to_argv());
        // The monitor's own complaints (bad arguments, a runtime error before
        // it could write status.json) go to a file paddockd can quote.
        let stderr = std::fs::File::create(state_dir.join(files::MONITOR_LOG))?;
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
        cmd.args(argv::root(&self.root))
            .args(argv::delete_force(id))
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
        let args = ExecArgs {
            id: id.to_string(),
            command: command.to_vec(),
            tty,
            console_socket: console_socket.map(Path::to_path_buf),
            env: env.to_vec(),
        };
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.args(argv::root(&self.root)).args(args.to_argv());
        cmd
    }
}
