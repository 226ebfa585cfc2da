//! Talking to a container's monitor (`paddock-runner monitor`) over its control
//! socket; the protocol is in docs/runner-protocol.md.

use std::path::{Path, PathBuf};

use paddock_wire::runner::{files, Answer, Request, SignalSpec};
use serde::Deserialize;
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

pub use paddock_wire::runner::Status as MonitorStatus;

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
        self.dir.join(files::MONITOR_SOCKET)
    }

    pub fn status_file(&self) -> PathBuf {
        self.dir.join(files::STATUS_FILE)
    }

    /// The last status the monitor wrote, if any (readable after it exited).
    pub fn read_status_file(&self) -> Option<MonitorStatus> {
        let text = std::fs::read_to_string(self.status_file()).ok()?;
        serde_json::from_str(&text).ok()
    }

    async fn request(&self, request: &Request) -> Result<BufReader<UnixStream>, MonitorError> {
        let path = self.socket();
        let mut stream =
            UnixStream::connect(&path)
                .await
                .map_err(|source| MonitorError::Connect {
                    path: path.clone(),
                    source,
                })?;
        let mut line = serde_json::to_string(request).map_err(|source| MonitorError::Decode {
            path: path.clone(),
            answer: String::new(),
            source,
        })?;
        line.push('\n');
        stream
            .write_all(line.as_bytes())
            .await
            .map_err(|source| MonitorError::Io { path, source })?;
        Ok(BufReader::new(stream))
    }

    async fn answer<T: for<'de> Deserialize<'de>>(
        &self,
        request: Request,
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
        self.answer_soon(Request::Status).await
    }

    /// An answer that must come quickly: a monitor that does not answer
    /// within [`REQUEST_TIMEOUT`] is treated as gone.
    async fn answer_soon<T: for<'de> Deserialize<'de>>(
        &self,
        request: Request,
    ) -> Result<T, MonitorError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.answer(request))
            .await
            .map_err(|_| MonitorError::Timeout(self.socket()))?
    }

    /// Returns once the container has exited.
    pub async fn wait(&self) -> Result<MonitorStatus, MonitorError> {
        self.answer(Request::Wait).await
    }

    pub async fn kill(&self, signal: i32) -> Result<(), MonitorError> {
        let answer: Answer = self
            .answer_soon(Request::Kill {
                signal: SignalSpec::Number(signal),
                all: false,
            })
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
        self.request(&Request::Logs {
            tail: Some(tail),
            follow: true,
        })
        .await
    }
}
