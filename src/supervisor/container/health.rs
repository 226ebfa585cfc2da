//! Health checks, as docker's `HEALTHCHECK` — and, unlike docker (moby#28400),
//! an unhealthy container is restarted unless `restart_on_unhealthy: false`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::{Command, ContainerTask};
use crate::manifest::HealthcheckTest;
use crate::supervisor::status::Health;

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
        Some(tokio::spawn(async move {
            let started = Instant::now();
            let mut failures = 0u32;
            let mut ever_healthy = false;
            loop {
                tokio::time::sleep(check.interval).await;
                let mut cmd = runner.exec_command(&name, &argv, false, &[]);
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true);
                let ok = match tokio::time::timeout(check.timeout, cmd.output()).await {
                    Ok(Ok(out)) => out.status.success(),
                    Ok(Err(error)) => {
                        tracing::warn!(container = %name, %error, "running the health check");
                        false
                    }
                    Err(_) => false,
                };
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
                    let _ = commands.send(Command::Unhealthy).await;
                    // The container is being restarted; this task is aborted.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            }
        }))
    }
}
