//! The one-word settings: `restart`, `pull`, `network`, `stop_signal`.

use std::str::FromStr;

use nix::sys::signal::Signal;

use super::error::Issue;
use super::types::{NetworkMode, PullPolicy, RestartPolicy};
use super::value::{at, text, wrong_kind, Node, Value};

pub(crate) const RESTART: &str = "no, always, on-failure[:MAX_RETRIES] or unless-stopped";
pub(crate) const PULL: &str = "always, missing or never";
pub(crate) const NETWORK: &str = "host, none, bridge or container:NAME";
pub(crate) const SIGNAL: &str = "a signal name or number such as SIGTERM, TERM or 15";

pub(crate) fn restart(node: &Node, path: &str) -> Result<RestartPolicy, Issue> {
    // YAML 1.1 reads an unquoted `no` as false.
    let s = match &node.value {
        Value::Bool(false) => return Ok(RestartPolicy::No),
        Value::Str(s) => s.as_str(),
        _ => return Err(wrong_kind(node, path, RESTART)),
    };
    let bad = |problem: &str| Issue::value(at(node), path, s, problem, RESTART);
    Ok(match s {
        "no" => RestartPolicy::No,
        "always" => RestartPolicy::Always,
        "unless-stopped" => RestartPolicy::UnlessStopped,
        "on-failure" => RestartPolicy::OnFailure { max_retries: None },
        _ => match s.strip_prefix("on-failure:") {
            Some(n) => RestartPolicy::OnFailure {
                max_retries: Some(
                    n.parse::<u32>()
                        .map_err(|_| bad("the retry count must be a whole number ≥ 0"))?,
                ),
            },
            None => return Err(bad("unknown restart policy")),
        },
    })
}

pub(crate) fn pull(node: &Node, path: &str) -> Result<PullPolicy, Issue> {
    let s = text(node, path, PULL)?;
    match s.as_str() {
        "always" => Ok(PullPolicy::Always),
        "missing" | "if_not_present" => Ok(PullPolicy::Missing),
        "never" => Ok(PullPolicy::Never),
        _ => Err(Issue::value(
            at(node),
            path,
            &s,
            "unknown pull policy",
            PULL,
        )),
    }
}

pub(crate) fn network(node: &Node, path: &str) -> Result<NetworkMode, Issue> {
    let s = text(node, path, NETWORK)?;
    match s.as_str() {
        "host" => Ok(NetworkMode::Host),
        "none" => Ok(NetworkMode::None),
        "bridge" | "default" => Ok(NetworkMode::Bridge),
        _ => {
            let other = s
                .strip_prefix("container:")
                .or_else(|| s.strip_prefix("service:"));
            match other {
                Some(name) if super::validate::is_valid_name(name) => {
                    Ok(NetworkMode::Container(name.to_string()))
                }
                Some(_) => Err(Issue::value(
                    at(node),
                    path,
                    &s,
                    "not a valid container name",
                    NETWORK,
                )),
                None => Err(Issue::value(
                    at(node),
                    path,
                    &s,
                    "unknown network mode",
                    NETWORK,
                )),
            }
        }
    }
}

pub(crate) fn stop_signal(node: &Node, path: &str) -> Result<i32, Issue> {
    let s = text(node, path, SIGNAL)?;
    signal_number(&s).ok_or_else(|| Issue::value(at(node), path, &s, "unknown signal", SIGNAL))
}

/// `SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`, `RTMAX-1` → the signal number.
pub fn signal_number(s: &str) -> Option<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    // glibc reserves 32 and 33; SIGRTMIN is 34 for programs, as docker has it.
    const RTMIN: i32 = 34;
    const RTMAX: i32 = 64;
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let n = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')?.parse::<i32>().ok()?
        };
        return (RTMIN + n <= RTMAX).then_some(RTMIN + n);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let n = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')?.parse::<i32>().ok()?
        };
        return (RTMAX - n >= RTMIN).then_some(RTMAX - n);
    }
    Signal::from_str(&format!("SIG{name}"))
        .ok()
        .map(|sig| sig as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse;

    fn node(key: &str, yaml: &str) -> Node {
        let text = format!("{key}: {yaml}\n");
        let w = parse(&text).unwrap();
        match key {
            "restart" => w.restart,
            "pull" => w.pull,
            "network" => w.network,
            "stop_signal" => w.stop_signal,
            _ => unreachable!(),
        }
        .unwrap()
    }

    #[test]
    fn restart_forms() {
        let r = |y: &str| restart(&node("restart", y), "restart");
        assert_eq!(r("no").unwrap(), RestartPolicy::No);
        assert_eq!(r("\"no\"").unwrap(), RestartPolicy::No);
        assert_eq!(r("always").unwrap(), RestartPolicy::Always);
        assert_eq!(r("unless-stopped").unwrap(), RestartPolicy::UnlessStopped);
        assert_eq!(
            r("on-failure").unwrap(),
            RestartPolicy::OnFailure { max_retries: None }
        );
        assert_eq!(
            r("on-failure:5").unwrap(),
            RestartPolicy::OnFailure {
                max_retries: Some(5)
            }
        );
        let e = r("on-failure:-1").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 10));
        assert_eq!(e.message, format!("restart: \"on-failure:-1\": the retry count must be a whole number ≥ 0 (expected {RESTART})"));
        let e = r("sometimes").unwrap_err();
        assert!(e.message.contains("unknown restart policy"));
        let e = r("true").unwrap_err();
        assert_eq!(
            e.message,
            format!("restart: found a boolean (expected {RESTART})")
        );
    }

    #[test]
    fn pull_forms() {
        let p = |y: &str| pull(&node("pull", y), "pull");
        assert_eq!(p("always").unwrap(), PullPolicy::Always);
        assert_eq!(p("missing").unwrap(), PullPolicy::Missing);
        assert_eq!(p("never").unwrap(), PullPolicy::Never);
        let e = p("daily").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 7));
        assert_eq!(
            e.message,
            format!("pull: \"daily\": unknown pull policy (expected {PULL})")
        );
    }

    #[test]
    fn network_forms() {
        let n = |y: &str| network(&node("network", y), "network");
        assert_eq!(n("host").unwrap(), NetworkMode::Host);
        assert_eq!(n("none").unwrap(), NetworkMode::None);
        assert_eq!(n("bridge").unwrap(), NetworkMode::Bridge);
        assert_eq!(
            n("container:db").unwrap(),
            NetworkMode::Container("db".into())
        );
        assert_eq!(
            n("service:db").unwrap(),
            NetworkMode::Container("db".into())
        );
        let e = n("'container:'").unwrap_err();
        assert!(e.message.contains("not a valid container name"));
        let e = n("macvlan").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 10));
        assert!(e.message.contains("unknown network mode"));
    }

    #[test]
    fn signals() {
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("TERM"), Some(15));
        assert_eq!(signal_number("sigquit"), Some(3));
        assert_eq!(signal_number("15"), Some(15));
        assert_eq!(signal_number("SIGKILL"), Some(9));
        assert_eq!(signal_number("SIGRTMIN"), Some(34));
        assert_eq!(signal_number("SIGRTMIN+3"), Some(37));
        assert_eq!(signal_number("RTMAX-1"), Some(63));
        assert_eq!(signal_number("SIGRTMIN+31"), None);
        assert_eq!(signal_number("0"), None);
        assert_eq!(signal_number("65"), None);
        assert_eq!(signal_number("SIGFOO"), None);
        let s = |y: &str| stop_signal(&node("stop_signal", y), "stop_signal");
        assert_eq!(s("9").unwrap(), 9);
        assert_eq!(s("SIGINT").unwrap(), 2);
        let e = s("SIGNOPE").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 14));
        assert_eq!(
            e.message,
            format!("stop_signal: \"SIGNOPE\": unknown signal (expected {SIGNAL})")
        );
    }
}
