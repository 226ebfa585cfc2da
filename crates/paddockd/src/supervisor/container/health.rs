//! Health checks, as docker's `HEALTHCHECK` — and, unlike docker (moby#28400),
//! an unhealthy container is restarted unless `restart_on_unhealthy: false`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::{Command, ContainerTask};
use crate::manifest::HealthcheckTest;
use crate::supervisor::runner::Runner;
use paddock_wire::api::status::Health;

impl ContainerTask {
    pub(super) fn spawn_health_checker(&self) -> Option<JoinHandle<()>> {
        let check = self.manifest.healthcheck.clone()?;
        let argv = match check.test.as_ref()? {
            HealthcheckTest::Cmd(argv) => argv.clone(),
            HealthcheckTest::CmdShell(line) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
            HealthcheckTest::Disabled => return None,
        };
        let runner = self.shared.runner.clone();
        let name = self.name().to_string();
        let status = self.status.clone();
        let commands = self.commands_tx.clone();
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        Some(tokio::spawn(async move {
            let started = Instant::now();
            let mut failures = 0u32;
            let mut ever_healthy = false;
            loop {
                tokio::time::sleep(check.interval).await;
                let ok = probe(&runner, &name, &argv, check.timeout).await;
                if ok {
                    failures = 0;
                    ever_healthy = true;
                    status.send_modify(|s| s.health = Some(Health::Healthy));
                    continue;
                }
                let in_start_period = !ever_healthy && started.elapsed() < check.start_period;
                if in_start_period {
                    continue;
                }
                failures += 1;
                tracing::info!(container = %name, failures, "health check failed");
                if failures >= check.retries.max(1) {
                    status.send_modify(|s| s.health = Some(Health::Unhealthy));
                    if check.restart_on_unhealthy {
                        // The lifecycle restarts the container and aborts
                        // this task.
                        let _ = commands.send(Command::Unhealthy(generation)).await;
                        return;
                    }
                }
            }
        }))
    }
}

/// Runs one probe; a probe that outlives `timeout` is sent SIGTERM (which
/// the runner forwards to the probe inside the container), then SIGKILL.
async fn probe(runner: &Runner, name: &str, argv: &[String], timeout: Duration) -> bool {
    let mut cmd = runner.exec_command(name, argv, false, None, &[]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(error) => {
            tracing::warn!(container = %name, %error, "running the health check");
            return false;
        }
    };
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status.success(),
        Ok(Err(_)) => false,
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            if tokio::time::timeout(Duration::from_secs(1), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
            false
        }
    }
}
