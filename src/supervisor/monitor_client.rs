//! Talking to a container's monitor (`paddock-runner monitor`) over its control
//! socket; the protocol is in docs/runner-protocol.md.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("connecting to {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to the monitor at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the monitor at {path} answered {answer:?}: {source}")]
    Decode {
        path: PathBuf,
        answer: String,
        source: serde_json::Error,
    },
    #[error("the monitor at {0} closed the connection without answering")]
    Closed(PathBuf),
    #[error("the monitor refused: {0}")]
    Refused(String),
    #[error("the monitor at {0} did not answer in time")]
    Timeout(PathBuf),
}

/// How long a status or kill request may take.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `status.json`, and the answer to `status` and `wait`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorStatus {
    pub id: String,
    pub state: String,
    pub monitor_pid: i32,
    pub pid: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    pub error: Option<String>,
}

impl MonitorStatus {
    pub fn is_running(&self) -> bool {
        self.state == "running" || self.state == "creating"
    }
}

#[derive(Debug, Deserialize)]
struct KillAnswer {
    ok: bool,
    error: Option<String>,
}

/// A monitor's control socket and status file.
#[derive(Debug, Clone)]
pub struct MonitorClient {
    dir: PathBuf,
}

impl MonitorClient {
    /// The monitor whose state directory is `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("monitor.sock")
    }

    pub fn status_file(&self) -> PathBuf {
        self.dir.join("status.json")
    }

    /// The last status the monitor wrote, if any (readable after it exited).
    pub fn read_status_file(&self) -> Option<MonitorStatus> {
        let text = std::fs::read_to_string(self.status_file()).ok()?;
        serde_json::from_str(&text).ok()
    }

    async fn request(
        &self,
        request: &serde_json::Value,
    ) -> Result<BufReader<UnixStream>, MonitorError> {
        let path = self.socket();
        let mut stream =
            UnixStream::connect(&path)
                .await
                .map_err(|source| MonitorError::Connect {
                    path: path.clone(),
                    source,
                })?;
        let mut line = request.to_string();
        line.push('\n');
        stream
            .write_all(line.as_bytes())
            .await
            .map_err(|source| MonitorError::Io { path, source })?;
        Ok(BufReader::new(stream))
    }

    async fn answer<T: for<'de> Deserialize<'de>>(
        &self,
        request: serde_json::Value,
    ) -> Result<T, MonitorError> {
        let path = self.socket();
        let mut reader = self.request(&request).await?;
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .await
            .map_err(|source| MonitorError::Io {
                path: path.clone(),
                source,
            })?;
        if n == 0 {
            return Err(MonitorError::Closed(path));
        }
        serde_json::from_str(line.trim_end()).map_err(|source| MonitorError::Decode {
            path,
            answer: line,
            source,
        })
    }

    pub async fn status(&self) -> Result<MonitorStatus, MonitorError> {
        self.answer_soon(serde_json::json!({"op": "status"})).await
    }

    /// An answer that must come quickly: a monitor that does not answer
    /// within [`REQUEST_TIMEOUT`] is treated as gone.
    async fn answer_soon<T: for<'de> Deserialize<'de>>(
        &self,
        request: serde_json::Value,
    ) -> Result<T, MonitorError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.answer(request))
            .await
            .map_err(|_| MonitorError::Timeout(self.socket()))?
    }

    /// Returns once the container has exited.
    pub async fn wait(&self) -> Result<MonitorStatus, MonitorError> {
        self.answer(serde_json::json!({"op": "wait"})).await
    }

    pub async fn kill(&self, signal: i32) -> Result<(), MonitorError> {
        let answer: KillAnswer = self
            .answer_soon(serde_json::json!({"op": "kill", "signal": signal}))
            .await?;
        if answer.ok {
            Ok(())
        } else {
            Err(MonitorError::Refused(answer.error.unwrap_or_default()))
        }
    }

    /// Streams log lines: the last `tail` from the monitor's buffer, then new
    /// ones until the container exits.
    pub async fn follow_logs(&self, tail: usize) -> Result<BufReader<UnixStream>, MonitorError> {
        self.request(&serde_json::json!({"op": "logs", "tail": tail, "follow": true}))
            .await
    }
}

/// Whether a process with this pid exists.
pub fn pid_alive(pid: i32) -> bool {
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}
