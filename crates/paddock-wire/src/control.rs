//! The control socket protocol (`/run/paddock/init.sock`): one JSON object
//! per line in each direction, any number of requests per connection.
//! Documented in os/README.md; the web UI (issue #5) speaks it too.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A request; also `paddock-init ctl`'s subcommands (one definition for the
/// socket and the command line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clap::Subcommand)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// All services with their state.
    List,
    Start {
        name: String,
    },
    /// SIGTERM to the service's process group, SIGKILL after the grace period.
    Stop {
        name: String,
    },
    Restart {
        name: String,
    },
    /// The newest `lines` lines (default: all kept) of the service's
    /// output; with `after` (a `next` from an earlier reply), the kept lines
    /// that came after it instead, and how many were `skipped`.
    Logs {
        name: String,
        #[serde(default)]
        #[arg(short = 'n')]
        lines: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[arg(long)]
        after: Option<u64>,
    },
    Reboot,
    Poweroff,
}

/// Where a service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Running,
    Stopped,
    /// SIGTERM sent, the grace period running.
    Stopping,
    /// Exited; restarted when the backoff is over.
    Backoff,
    /// `wait_for_clock`: started once the clock is trustworthy.
    WaitingForClock,
}

impl ServiceState {
    /// The name on the wire: `running`, `waiting_for_clock`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Running => "running",
            ServiceState::Stopped => "stopped",
            ServiceState::Stopping => "stopping",
            ServiceState::Backoff => "backoff",
            ServiceState::WaitingForClock => "waiting_for_clock",
        }
    }
}

impl std::fmt::Display for ServiceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub state: ServiceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Starts after the first one.
    pub restarts: u32,
    /// How the last run ended, e.g. `exit status 1`, `signal SIGKILL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<String>,
    pub wait_for_clock: bool,
    pub dont_start: bool,
    /// Memory in use while running: the service cgroup's `memory.current`,
    /// else the summed VmRSS of its process group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// When the current run started (seconds since 1970), while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_unix: Option<u64>,
}

/// Every reply: `ok`, and on failure `error`; the other fields belong to
/// the request that asked for them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceStatus>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<String>>,
    /// With `lines` from `logs`: the `after` to send for what comes next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
    /// With `logs … after`: lines dropped from the buffer before they
    /// could be returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u64>,
}

impl Response {
    pub fn ok() -> Self {
        Self {
            ok: true,
            ..Default::default()
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self {
            ok: false,
            error: Some(message.into()),
            ..Default::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("connect {path}: {source}")]
    Connect {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("control socket: bad reply: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("control socket closed without a reply")]
    Closed,
}

/// Sends one request and reads its reply.
pub fn request(socket: &Path, req: &Request) -> Result<Response, ControlError> {
    let stream = UnixStream::connect(socket).map_err(|source| ControlError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    (&stream).write_all(line.as_bytes())?;
    let mut reply = String::new();
    if BufReader::new(&stream).read_line(&mut reply)? == 0 {
        return Err(ControlError::Closed);
    }
    Ok(serde_json::from_str(&reply)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        assert_eq!(
            serde_json::to_string(&Request::List).unwrap(),
            r#"{"op":"list"}"#
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"op":"logs","name":"dhcp","lines":10}"#).unwrap(),
            Request::Logs {
                name: "dhcp".into(),
                lines: Some(10),
                after: None,
            }
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"op":"logs","name":"dhcp","after":7}"#).unwrap(),
            Request::Logs {
                name: "dhcp".into(),
                lines: None,
                after: Some(7),
            }
        );
        assert_eq!(
            serde_json::to_string(&Response::error("x")).unwrap(),
            r#"{"ok":false,"error":"x"}"#
        );
    }
}
