//! `state ID`: print the container's state as the OCI runtime spec defines it
//! (plus `created`, as runc prints it).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use libcontainer::container::ContainerStatus;
use serde::Serialize;

use super::Global;
use crate::container;

/// The OCI runtime state of a container.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct State {
    oci_version: String,
    id: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i32>,
    bundle: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
}

fn status_name(status: ContainerStatus) -> &'static str {
    match status {
        ContainerStatus::Creating => "creating",
        ContainerStatus::Created => "created",
        ContainerStatus::Running => "running",
        ContainerStatus::Stopped => "stopped",
        ContainerStatus::Paused => "paused",
    }
}

pub fn run(global: &Global, args: &liboci_cli::State) -> Result<()> {
    let c = container::load(&global.root, &args.container_id)?;
    let status = c.status();
    let state = State {
        oci_version: oci_spec::runtime::VERSION.to_owned(),
        id: c.id().to_owned(),
        status: status_name(status),
        // A stopped container has no process; its old pid may be someone else's now.
        pid: (status != ContainerStatus::Stopped)
            .then(|| c.pid().map(|p| p.as_raw()))
            .flatten(),
        bundle: c.bundle().clone(),
        annotations: c.state.annotations.clone(),
        created: c
            .created()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
    };
    let json = serde_json::to_string_pretty(&state).context("encode state")?;
    println!("{json}");
    Ok(())
}
