//! `paddock start|stop|restart NAME` and `paddock apply`; with `--host`,
//! NAME is a container of the device, else one of its services.

use paddock_wire::api::apply::ApplyReport;
use paddock_wire::api::status::ContainerStatus;

use crate::client::Client;
use crate::remote::{self, services};

pub async fn container(client: &Client, name: &str, action: &str) -> anyhow::Result<i32> {
    if client.is_remote() && !remote::is_container(client, name).await? {
        let Some(status) = services::action(client, name, action).await? else {
            anyhow::bail!(
                "no container or service named {name:?} on {}",
                client.peer()
            );
        };
        println!("{}: {}", status.name, status.state);
        return Ok(0);
    }
    let path = format!(
        "/v1/containers/{}/{action}",
        paddock_wire::api::path::percent_encode(name)
    );
    let status: ContainerStatus = client.json("POST", &path, None).await?;
    println!("{}: {}", status.name, status.state.as_str());
    Ok(0)
}

pub async fn apply(client: &Client) -> anyhow::Result<i32> {
    let report: ApplyReport = client.json("POST", "/v1/apply", None).await?;
    for (names, label) in [
        (&report.started, "started"),
        (&report.recreated, "recreated"),
        (&report.removed, "removed"),
        (&report.unchanged, "unchanged"),
        (&report.kept, "kept running (its manifest has errors)"),
    ] {
        for n in names {
            println!("{label}: {n}");
        }
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    Ok(i32::from(!report.errors.is_empty()))
}
