//! The monitor's control socket: one JSON request per connection, answered
//! with JSON lines (docs/runner-protocol.md).

use serde::{Deserialize, Serialize};

/// A signal by number (`15`) or name (`"TERM"`, `"SIGTERM"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SignalSpec {
    Number(i32),
    Name(String),
}

fn default_signal() -> SignalSpec {
    SignalSpec::Number(15)
}

/// What a client asks the monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// The current [`Status`].
    Status,
    /// The final [`Status`], once the container has exited.
    Wait,
    /// Signal the container's init (or, with `all`, every process in it);
    /// answered with an [`Answer`].
    Kill {
        #[serde(default = "default_signal")]
        signal: SignalSpec,
        #[serde(default)]
        all: bool,
    },
    /// The last `tail` lines of output (all kept, if `None`), then with
    /// `follow` every new line until the container exits.
    Logs {
        #[serde(default)]
        tail: Option<usize>,
        #[serde(default)]
        follow: bool,
    },
}

/// The `{"ok":…}` answer to `kill` and to requests the monitor refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<Result<(), String>> for Answer {
    fn from(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Self {
                ok: true,
                error: None,
            },
            Err(error) => Self {
                ok: false,
                error: Some(error),
            },
        }
    }
}

impl Answer {
    /// One line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        json_line(self)
    }
}

/// Where the container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Creating,
    Running,
    Exited,
    Failed,
}

/// `status.json`, and the answer to `status` and `wait`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: String,
    pub state: State,
    pub monitor_pid: i32,
    pub pid: Option<i32>,
    /// RFC 3339 UTC with milliseconds, as in `2026-11-22T22:40:00.123Z`.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// 128+N when killed by signal N.
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    pub error: Option<String>,
}

impl Status {
    /// The status a monitor writes first, before the container exists.
    pub fn creating(id: &str, monitor_pid: i32) -> Self {
        Self {
            id: id.to_owned(),
            monitor_pid,
            ..Self::default()
        }
    }

    /// Still creating or running: not yet exited or failed.
    pub fn is_running(&self) -> bool {
        matches!(self.state, State::Creating | State::Running)
    }

    /// One line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        json_line(self)
    }
}

fn json_line<T: Serialize>(value: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(value)
        .unwrap_or_else(|err| format!(r#"{{"ok":false,"error":"encode: {err}"}}"#).into_bytes());
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::round_trip;

    #[test]
    fn requests_round_trip_and_read_as_documented() {
        for r in [
            Request::Status,
            Request::Wait,
            Request::Kill {
                signal: SignalSpec::Number(9),
                all: true,
            },
            Request::Kill {
                signal: SignalSpec::Name("HUP".into()),
                all: false,
            },
            Request::Logs {
                tail: Some(100),
                follow: true,
            },
            Request::Logs {
                tail: None,
                follow: false,
            },
        ] {
            round_trip(&r);
        }
        let parse = |s: &str| serde_json::from_str::<Request>(s);
        assert_eq!(parse(r#"{"op":"status"}"#).unwrap(), Request::Status);
        assert_eq!(
            parse(r#"{"op":"kill"}"#).unwrap(),
            Request::Kill {
                signal: SignalSpec::Number(15),
                all: false
            }
        );
        assert_eq!(
            serde_json::to_string(&Request::Logs {
                tail: Some(5),
                follow: true
            })
            .unwrap(),
            r#"{"op":"logs","tail":5,"follow":true}"#
        );
        assert!(parse(r#"{"op":"reboot"}"#).is_err());
    }

    #[test]
    fn answers_and_statuses_round_trip() {
        round_trip(&Answer::from(Ok(())));
        round_trip(&Answer::from(Err("no such signal".to_string())));
        assert_eq!(Answer::from(Ok(())).to_line(), b"{\"ok\":true}\n");
        let mut s = Status::creating("web", 10);
        assert!(s.is_running());
        round_trip(&s);
        s.state = State::Exited;
        s.exit_code = Some(143);
        s.exit_signal = Some(15);
        assert!(!s.is_running());
        let line = s.to_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["state"], "exited");
        round_trip(&s);
    }
}
