//! The process an `exec` runs, as runc builds it: the container's own
//! `process` from its config.json (user, capabilities, rlimits, env …) with the
//! command line's changes on top, written to a process.json for libcontainer.
//! A `--process` file given on the command line is used as it is.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use libcontainer::container::Container;
use oci_spec::runtime::{LinuxSeccomp, Spec};
use serde_json::{json, Map, Value};
use tempfile::NamedTempFile;

/// A process.json ready for libcontainer; removed on drop.
pub struct ProcessFile {
    pub file: NamedTempFile,
    pub terminal: bool,
}

/// Writes the process for `args` into a temporary file in `dir`.
pub fn write(container: &Container, args: &liboci_cli::Exec, dir: &Path) -> Result<ProcessFile> {
    let process = match &args.process {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read process file {}", path.display()))?;
            serde_json::from_str::<Value>(&text)
                .with_context(|| format!("parse process file {}", path.display()))?
        }
        None => from_config(container, args)?,
    };
    let terminal = process
        .get("terminal")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut file = tempfile::Builder::new()
        .prefix("exec-process-")
        .suffix(".json")
        .tempfile_in(dir)
        .with_context(|| format!("create process file in {}", dir.display()))?;
    serde_json::to_writer(&mut file, &process).context("write process file")?;
    file.flush().context("write process file")?;
    Ok(ProcessFile { file, terminal })
}

/// The container's seccomp profile, which libcontainer's exec leaves out (see
/// [`crate::executor`]). Profiles that hand a notify fd to a listener cannot be
/// honoured that way and are refused.
pub fn seccomp_profile(container: &Container) -> Result<Option<LinuxSeccomp>> {
    let config = container.bundle().join("config.json");
    let spec = Spec::load(&config).with_context(|| format!("read {}", config.display()))?;
    let profile = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    if let Some(profile) = &profile {
        if libcontainer::seccomp::is_notify(profile) {
            bail!("exec into a container whose seccomp profile uses notify is not supported");
        }
    }
    Ok(profile)
}

fn from_config(container: &Container, args: &liboci_cli::Exec) -> Result<Value> {
    if args.command.is_empty() {
        bail!("exec needs a command");
    }
    let config = container.bundle().join("config.json");
    let text =
        std::fs::read_to_string(&config).with_context(|| format!("read {}", config.display()))?;
    let spec: Value =
        serde_json::from_str(&text).with_context(|| format!("parse {}", config.display()))?;
    let mut process = match spec.get("process") {
        Some(Value::Object(p)) => p.clone(),
        _ => Map::new(),
    };
    process.insert("args".into(), json!(args.command));
    process.insert("terminal".into(), json!(args.tty));
    process.remove("consoleSize");
    if args.tty && args.console_socket.is_none() {
        // We relay the pty: it starts out as big as the caller's terminal.
        let stdin = std::io::stdin();
        if let Ok(size) = crate::pty::window_size(std::os::fd::AsFd::as_fd(&stdin)) {
            process.insert(
                "consoleSize".into(),
                json!({"height": size.ws_row, "width": size.ws_col}),
            );
        }
    }
    process.insert("env".into(), json!(merge_env(&process, &args.env)));
    if let Some(cwd) = &args.cwd {
        if !cwd.is_absolute() {
            bail!("--cwd {} is not an absolute path", cwd.display());
        }
        process.insert("cwd".into(), json!(cwd));
    }
    if !process.contains_key("cwd") {
        process.insert("cwd".into(), json!("/"));
    }
    let user = process
        .entry("user")
        .or_insert_with(|| json!({"uid": 0, "gid": 0}));
    if let Value::Object(user) = user {
        if let Some((uid, gid)) = args.user {
            user.insert("uid".into(), json!(uid));
            if let Some(gid) = gid {
                user.insert("gid".into(), json!(gid));
            }
        }
        if !args.additional_gids.is_empty() {
            user.insert("additionalGids".into(), json!(args.additional_gids));
        }
    }
    if !args.cap.is_empty() {
        add_capabilities(&mut process, &args.cap);
    }
    if args.no_new_privs {
        process.insert("noNewPrivileges".into(), json!(true));
    }
    if let Some(profile) = &args.apparmor {
        process.insert("apparmorProfile".into(), json!(profile));
    }
    if let Some(label) = &args.process_label {
        process.insert("selinuxLabel".into(), json!(label));
    }
    Ok(Value::Object(process))
}

/// The config's environment with `overrides` replacing or adding variables.
fn merge_env(process: &Map<String, Value>, overrides: &[(String, String)]) -> Vec<String> {
    let mut env: Vec<String> = process
        .get("env")
        .and_then(Value::as_array)
        .map(|vars| {
            vars.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for (key, value) in overrides {
        env.retain(|entry| entry.split('=').next() != Some(key.as_str()));
        env.push(format!("{key}={value}"));
    }
    env
}

/// Adds capabilities (`NET_ADMIN` or `CAP_NET_ADMIN`) to the bounding,
/// effective and permitted sets.
fn add_capabilities(process: &mut Map<String, Value>, caps: &[String]) {
    let caps: Vec<String> = caps
        .iter()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            if c.starts_with("CAP_") {
                c
            } else {
                format!("CAP_{c}")
            }
        })
        .collect();
    let sets = process.entry("capabilities").or_insert_with(|| json!({}));
    if let Value::Object(sets) = sets {
        for set in ["bounding", "effective", "permitted"] {
            let list = sets.entry(set).or_insert_with(|| json!([]));
            if let Value::Array(list) = list {
                for cap in &caps {
                    if !list.iter().any(|v| v.as_str() == Some(cap)) {
                        list.push(json!(cap));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_replace_and_add() {
        let process = json!({"env": ["PATH=/bin", "A=1"]});
        let env = merge_env(
            process.as_object().unwrap(),
            &[("A".into(), "2".into()), ("B".into(), "3".into())],
        );
        assert_eq!(env, vec!["PATH=/bin", "A=2", "B=3"]);
    }

    #[test]
    fn capabilities_are_added_once_with_prefix() {
        let mut process = json!({"capabilities": {"bounding": ["CAP_KILL"]}})
            .as_object()
            .unwrap()
            .clone();
        add_capabilities(&mut process, &["kill".into(), "NET_ADMIN".into()]);
        assert_eq!(
            process["capabilities"]["bounding"],
            json!(["CAP_KILL", "CAP_NET_ADMIN"])
        );
        assert_eq!(
            process["capabilities"]["permitted"],
            json!(["CAP_KILL", "CAP_NET_ADMIN"])
        );
    }
}
