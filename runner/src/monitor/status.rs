//! `status.json`: the monitor's account of its container for paddockd, the wire
//! type of the `status` and `wait` answers too. Rewritten atomically (temp file,
//! fsync, rename) on every change, so a reader never sees half a file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::wait::Exit;

/// Where the container is in its life.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Creating,
    Running,
    Exited,
    Failed,
}

/// The status object of docs/runner-protocol.md.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: String,
    pub state: State,
    pub monitor_pid: i32,
    pub pid: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    pub error: Option<String>,
}

impl Status {
    pub fn creating(id: &str, monitor_pid: i32) -> Self {
        Self {
            id: id.to_owned(),
            state: State::Creating,
            monitor_pid,
            pid: None,
            started_at: None,
            finished_at: None,
            exit_code: None,
            exit_signal: None,
            error: None,
        }
    }

    pub fn set_running(&mut self, pid: i32) {
        self.state = State::Running;
        self.pid = Some(pid);
        self.started_at = Some(timestamp(Utc::now()));
    }

    pub fn set_failed(&mut self, error: String) {
        self.state = State::Failed;
        self.finished_at = Some(timestamp(Utc::now()));
        self.error = Some(error);
    }

    /// Records how the container ended; `error` notes a problem cleaning up.
    pub fn set_exited(&mut self, exit: Exit, finished: DateTime<Utc>, error: Option<String>) {
        self.state = State::Exited;
        self.finished_at = Some(timestamp(finished));
        self.exit_code = Some(exit.code());
        self.exit_signal = exit.signal();
        self.error = error;
    }

    /// One line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_else(|err| {
            format!(r#"{{"ok":false,"error":"encode status: {err}"}}"#).into_bytes()
        });
        line.push(b'\n');
        line
    }
}

/// RFC 3339 UTC with milliseconds, as in `2026-11-22T22:40:00.123Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[derive(Debug, thiserror::Error)]
#[error("write {}", path.display())]
pub struct StatusError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Writes `status` to `dir/status.json` atomically.
pub fn write(dir: &Path, status: &Status) -> Result<(), StatusError> {
    let path = dir.join("status.json");
    let tmp = dir.join(".status.json.tmp");
    let err = |source| StatusError {
        path: path.clone(),
        source,
    };
    let mut file = File::create(&tmp).map_err(err)?;
    file.write_all(&status.to_line()).map_err(err)?;
    file.sync_all().map_err(err)?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn killed_by_signal_reports_128_plus_signal() {
        let mut s = Status::creating("web", 10);
        s.set_running(11);
        s.set_exited(Exit::Signal(15), Utc::now(), None);
        assert_eq!(s.exit_code, Some(143));
        assert_eq!(s.exit_signal, Some(15));
        let v: serde_json::Value = serde_json::from_slice(&s.to_line()).unwrap();
        assert_eq!(v["state"], "exited");
        assert_eq!(v["error"], serde_json::Value::Null);
    }

    #[test]
    fn write_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Status::creating("web", 10);
        write(dir.path(), &s).unwrap();
        s.set_failed("boom".into());
        write(dir.path(), &s).unwrap();
        let back: Status =
            serde_json::from_slice(&std::fs::read(dir.path().join("status.json")).unwrap())
                .unwrap();
        assert_eq!(back, s);
        assert!(!dir.path().join(".status.json.tmp").exists());
    }
}
