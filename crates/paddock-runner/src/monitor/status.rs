//! `status.json`: the monitor's account of its container for paddockd (the
//! wire type, [`Status`], is paddock-wire's; also the `status` and `wait`
//! answers). Rewritten atomically (temp file,
//! fsync, rename) on every change, so a reader never sees half a file.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::wait::Exit;

pub use paddock_wire::runner::{State, Status};

/// The monitor's changes to its [`Status`], each stamped with the time.
pub trait Transitions {
    fn set_running(&mut self, pid: i32);
    fn set_failed(&mut self, error: String);
    /// Records how the container ended; `error` notes a problem cleaning up.
    fn set_exited(&mut self, exit: Exit, finished: DateTime<Utc>, error: Option<String>);
}

impl Transitions for Status {
    fn set_running(&mut self, pid: i32) {
        self.state = State::Running;
        self.pid = Some(pid);
        self.started_at = Some(timestamp(Utc::now()));
    }

    fn set_failed(&mut self, error: String) {
        self.state = State::Failed;
        self.finished_at = Some(timestamp(Utc::now()));
        self.error = Some(error);
    }

    fn set_exited(&mut self, exit: Exit, finished: DateTime<Utc>, error: Option<String>) {
        self.state = State::Exited;
        self.finished_at = Some(timestamp(finished));
        self.exit_code = Some(exit.code());
        self.exit_signal = exit.signal();
        self.error = error;
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

/// Writes `status` to `dir/status.json` atomically (paddock_sys's rule).
pub fn write(dir: &Path, status: &Status) -> Result<(), StatusError> {
    let path = dir.join(paddock_wire::runner::files::STATUS_FILE);
    paddock_sys::fs::write_atomic(&path, &status.to_line(), paddock_sys::fs::PUBLIC)
        .map_err(|source| StatusError { path, source })
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
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }
}
