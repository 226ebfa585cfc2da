//! Probation of a newly installed slot: when the running slot's loader
//! entry still has a boot counter, watch init's services and paddockd until
//! they have been healthy for a while, then rename the counter away (the
//! entry is good from now on). If they are not healthy by the deadline, log
//! why and reboot: systemd-boot counts the try, and once none are left it
//! boots the old slot.
//!
//! Healthy: every service that is not `dont_start` is `running` (or waiting
//! for the clock, which a device without network may do for a long time),
//! paddockd answers, and each of its containers is running (healthy, if it
//! has a healthcheck), stopped by the user, finished with exit code 0, or
//! waiting for the clock; and nothing restarted during the hold.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::device::Device;
use super::entries::{self, Entry};
use super::error::UpdateError;
use paddock_wire::api::status::{ContainerStatus, Health, State};
use paddock_wire::control::{self, Request, ServiceState, ServiceStatus};
use paddock_wire::system::SystemConfig;

/// Health deadline when system.json does not say.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long everything must stay healthy when system.json does not say.
pub const DEFAULT_HEALTHY_FOR: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ProbationOptions {
    pub device: Device,
    /// init's control socket.
    pub control_socket: PathBuf,
    /// paddockd's API socket (checked when a service named `paddockd` exists).
    pub paddockd_socket: PathBuf,
    /// From boot (the thread's start) to giving up.
    pub timeout: Duration,
    /// How long everything must stay healthy.
    pub hold: Duration,
    pub poll: Duration,
    /// Ask init to reboot on failure (tests: false).
    pub reboot: bool,
}

impl ProbationOptions {
    /// The real device, with system.json's `update.health_timeout_secs`
    /// and `update.healthy_for_secs`.
    pub fn system(config: &SystemConfig) -> Self {
        let update = config.update.clone().unwrap_or_default();
        let timeout = update
            .health_timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_HEALTH_TIMEOUT);
        let hold = update
            .healthy_for_secs
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_HEALTHY_FOR);
        Self {
            device: Device::system(),
            control_socket: "/run/paddock/init.sock".into(),
            paddockd_socket: "/run/paddock/paddockd.sock".into(),
            timeout,
            hold,
            poll: Duration::from_secs(1),
            reboot: true,
        }
    }
}

/// How a probation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The running entry has no counter (or there is no ESP to look at).
    NotOnProbation(String),
    /// Renamed to this good entry.
    MarkedGood(String),
    /// Not healthy by the deadline (and a reboot was requested).
    Failed(String),
}

/// Starts the probation on its own thread (init's supervisor is synchronous).
pub fn spawn_probation(opts: ProbationOptions) -> JoinHandle<Outcome> {
    std::thread::Builder::new()
        .name("update-probation".into())
        .spawn(move || run(&opts))
        .unwrap_or_else(|e| {
            tracing::error!("update: starting the probation thread: {e}");
            std::thread::spawn(|| Outcome::NotOnProbation("no thread".into()))
        })
}

fn run(opts: &ProbationOptions) -> Outcome {
    let started = Instant::now();
    let entry = match running_entry(&opts.device) {
        Ok(Some(e)) if e.tries_left.is_some() => e,
        Ok(Some(e)) => {
            tracing::info!(entry = %e.file, "update: the running slot's entry is good; no probation");
            if let Err(err) = opts.device.record_marked_good() {
                tracing::warn!("update: recording the anti-rollback floor: {err}");
            }
            return Outcome::NotOnProbation(e.file);
        }
        Ok(None) => {
            tracing::info!("update: no loader entry for the running slot; no probation");
            return Outcome::NotOnProbation("no entry".into());
        }
        Err(e) => {
            tracing::warn!("update: cannot check the boot entry: {e}");
            return Outcome::NotOnProbation(e.to_string());
        }
    };
    tracing::info!(
        entry = %entry.file,
        timeout = ?opts.timeout,
        "update: this slot is on probation: waiting for every service and paddockd to be healthy"
    );
    let mut healthy_since: Option<(Instant, Vec<(String, u32)>)> = None;
    let mut last_reason = String::from("not checked yet");
    loop {
        match check(opts) {
            Ok(restarts) => {
                let since = match healthy_since.take() {
                    Some((t, r)) if r == restarts => (t, r),
                    _ => {
                        tracing::info!("update: healthy; holding for {:?}", opts.hold);
                        (Instant::now(), restarts)
                    }
                };
                if since.0.elapsed() >= opts.hold {
                    // Tried again at the next poll (until the deadline)
                    // when the ESP cannot be written just now.
                    match mark_good(opts, &entry) {
                        Ok(good) => return Outcome::MarkedGood(good),
                        Err(e) => last_reason = format!("marking the entry good: {e}"),
                    }
                }
                healthy_since = Some(since);
            }
            Err(reason) => {
                if healthy_since.take().is_some() || reason != last_reason {
                    tracing::info!("update: not healthy yet: {reason}");
                }
                last_reason = reason;
            }
        }
        if started.elapsed() >= opts.timeout {
            let why = format!("not healthy within {:?}: {last_reason}", opts.timeout);
            tracing::error!(entry = %entry.file, "update: the new slot failed its probation: {why}; rebooting (systemd-boot falls back to the previous slot when its tries are used up)");
            if opts.reboot {
                if let Err(e) = control::request(&opts.control_socket, &Request::Reboot) {
                    tracing::error!("update: requesting a reboot: {e}");
                }
            }
            return Outcome::Failed(why);
        }
        std::thread::sleep(opts.poll);
    }
}

fn mark_good(opts: &ProbationOptions, entry: &Entry) -> Result<String, UpdateError> {
    let result = opts.device.mount_esp().and_then(|esp| {
        // systemd-boot renamed it when booting it: look it up again.
        let current = entries::list(esp.path())?
            .into_iter()
            .find(|e| e.generation == entry.generation && e.slot == entry.slot)
            .ok_or_else(|| UpdateError::Conflict(format!("entry {} is gone", entry.id())))?;
        entries::mark_good(esp.path(), &current)
    });
    match result {
        Ok(good) => {
            tracing::info!(entry = %good.file, "update: healthy; marked this slot's entry good");
            if let Err(err) = opts.device.record_marked_good() {
                tracing::warn!("update: recording the anti-rollback floor: {err}");
            }
            Ok(good.file)
        }
        Err(e) => {
            tracing::error!("update: marking the entry good (trying again): {e}");
            Err(e)
        }
    }
}

/// The loader entry of the running slot.
fn running_entry(device: &Device) -> Result<Option<Entry>, UpdateError> {
    let slot = device.running_slot()?;
    let esp = device.mount_esp()?;
    Ok(entries::list(esp.path())?
        .into_iter()
        .find(|e| e.slot == slot))
}

/// `Ok(restart counts)` when healthy, else why not.
fn check(opts: &ProbationOptions) -> Result<Vec<(String, u32)>, String> {
    let reply =
        control::request(&opts.control_socket, &Request::List).map_err(|e| format!("init: {e}"))?;
    let services: Vec<ServiceStatus> = reply.services.unwrap_or_default();
    let mut bad = Vec::new();
    for s in services.iter().filter(|s| !s.dont_start) {
        if !matches!(
            s.state,
            ServiceState::Running | ServiceState::WaitingForClock
        ) {
            bad.push(match &s.last_exit {
                Some(exit) => format!("{} is {} (last exit: {exit})", s.name, s.state),
                None => format!("{} is {}", s.name, s.state),
            });
        }
    }
    if !bad.is_empty() {
        return Err(bad.join(", "));
    }
    let mut restarts: Vec<(String, u32)> =
        services.into_iter().map(|s| (s.name, s.restarts)).collect();
    if restarts.iter().any(|(name, _)| name == "paddockd") {
        let containers =
            paddockd_containers(&opts.paddockd_socket).map_err(|e| format!("paddockd: {e}"))?;
        let bad: Vec<String> = containers.iter().filter_map(problem).collect();
        if !bad.is_empty() {
            return Err(bad.join(", "));
        }
        restarts.extend(
            containers
                .into_iter()
                .map(|c| (format!("container {}", c.name), c.restarts)),
        );
    }
    Ok(restarts)
}

/// Why this container is not healthy, if it is not.
fn problem(c: &ContainerStatus) -> Option<String> {
    let ok = match c.state {
        State::Running => !matches!(c.health, Some(Health::Unhealthy | Health::Starting)),
        // Deliberate, or a one-shot that did its job.
        State::Stopped => true,
        State::Exited => c.last_exit_code == Some(0),
        // A device without network may wait for its clock for long.
        State::Waiting => true,
        _ => false,
    };
    if ok {
        return None;
    }
    let mut why = format!("container {} is {}", c.name, c.state.as_str());
    if let Some(h) = &c.health {
        why.push_str(&format!(" ({})", h.as_str()));
    }
    if let Some(e) = &c.last_error {
        why.push_str(&format!(": {e}"));
    } else if let Some(code) = c.last_exit_code {
        why.push_str(&format!(" (last exit code {code})"));
    }
    Some(why)
}

/// paddockd's `GET /v1/containers` over its socket (HTTP/1.0: the body
/// ends with the connection).
fn paddockd_containers(socket: &std::path::Path) -> Result<Vec<ContainerStatus>, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    s.write_all(b"GET /v1/containers HTTP/1.0\r\nHost: paddockd\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    s.take(16 << 20)
        .read_to_end(&mut reply)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&reply);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "GET /v1/containers: no complete reply".to_string())?;
    let status = head.lines().next().unwrap_or_default();
    if !(status.starts_with("HTTP/1.") && status.get(9..12) == Some("200")) {
        return Err(format!("GET /v1/containers answered {status:?}"));
    }
    serde_json::from_str(body).map_err(|e| format!("GET /v1/containers: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_without_entry_dir() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("cmdline"), "paddock.slot=a\n").unwrap();
        let mut opts = ProbationOptions::system(&SystemConfig::new("x"));
        opts.device.cmdline = tmp.path().join("cmdline");
        opts.device.esp = super::super::esp::Esp::Dir(tmp.path().join("esp"));
        opts.reboot = false;
        assert!(matches!(run(&opts), Outcome::NotOnProbation(_)));
    }

    #[test]
    fn timeouts_from_system_json() {
        let mut config = SystemConfig::new("x");
        let opts = ProbationOptions::system(&config);
        assert_eq!(
            (opts.timeout, opts.hold),
            (DEFAULT_HEALTH_TIMEOUT, DEFAULT_HEALTHY_FOR)
        );
        config.update = Some(paddock_wire::system::UpdateSettings {
            health_timeout_secs: Some(300),
            healthy_for_secs: Some(120),
            tries: None,
        });
        let opts = ProbationOptions::system(&config);
        assert_eq!(opts.timeout, Duration::from_secs(300));
        assert_eq!(opts.hold, Duration::from_secs(120));
    }

    /// A status with the fields of `json` over those of a fresh one.
    fn container(json: &str) -> ContainerStatus {
        let mut v = serde_json::to_value(ContainerStatus::new("a", "img", "a.yaml")).unwrap();
        let over: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        for (k, x) in over {
            v[k] = x;
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn which_containers_count_as_healthy() {
        let healthy = [
            r#"{"name":"a","state":"running","restarts":0}"#,
            r#"{"name":"a","state":"running","health":"healthy","restarts":0}"#,
            r#"{"name":"a","state":"stopped","restarts":0}"#,
            r#"{"name":"a","state":"exited","last_exit_code":0,"restarts":0}"#,
            r#"{"name":"a","state":"waiting","restarts":0}"#,
        ];
        for j in healthy {
            assert_eq!(problem(&container(j)), None, "{j}");
        }
        let not = [
            (
                r#"{"name":"a","state":"running","health":"unhealthy"}"#,
                "container a is running (unhealthy)",
            ),
            (
                r#"{"name":"a","state":"running","health":"starting"}"#,
                "container a is running (starting)",
            ),
            (
                r#"{"name":"a","state":"restarting","last_exit_code":1}"#,
                "container a is restarting (last exit code 1)",
            ),
            (
                r#"{"name":"a","state":"exited","last_exit_code":3}"#,
                "container a is exited (last exit code 3)",
            ),
            (
                r#"{"name":"a","state":"failed","last_error":"pulling x: 404"}"#,
                "container a is failed: pulling x: 404",
            ),
            (
                r#"{"name":"a","state":"invalid","last_error":"a.yaml:3:1: unknown field"}"#,
                "container a is invalid: a.yaml:3:1: unknown field",
            ),
            (
                r#"{"name":"a","state":"pulling"}"#,
                "container a is pulling",
            ),
            (
                r#"{"name":"a","state":"starting"}"#,
                "container a is starting",
            ),
        ];
        for (j, why) in not {
            assert_eq!(problem(&container(j)).as_deref(), Some(why), "{j}");
        }
    }
}
