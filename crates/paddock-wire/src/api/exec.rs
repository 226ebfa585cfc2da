//! `POST /containers/NAME/exec`: the request body; after the upgrade both
//! directions speak [`super::frames`].

use serde::{Deserialize, Serialize};

/// What to run in a running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The command and its arguments; must not be empty.
    pub cmd: Vec<String>,
    /// Give it a pty (resize frames then apply to it).
    #[serde(default)]
    pub tty: bool,
    /// Extra environment, `KEY=VALUE`.
    #[serde(default)]
    pub env: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_defaults_the_optional_fields() {
        let r = ExecRequest {
            cmd: vec!["sh".into(), "-c".into(), "echo hi".into()],
            tty: true,
            env: vec!["TERM=xterm".into()],
        };
        crate::round_trip(&r);
        let short: ExecRequest = serde_json::from_str(r#"{"cmd":["ls"]}"#).unwrap();
        assert_eq!((short.tty, short.env.len()), (false, 0));
    }
}
