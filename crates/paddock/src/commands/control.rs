//! `paddock start|stop|restart NAME` and `paddock apply`; with `--host`,
//! NAME is a container of the device, else one of its services.

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
    println!(
        "{}: {}",
        status.name,
        format!("{:?}", status.state).to_lowercase()
    );
    Ok(0)
}

pub async fn apply(client: &Client) -> anyhow::Result<i32> {
    let report: serde_json::Value = client.json("POST", "/v1/apply", None).await?;
    for (key, label) in [
        ("started", "started"),
        ("recreated", "recreated"),
        ("removed", "removed"),
        ("unchanged", "unchanged"),
        ("kept", "kept running (its manifest has errors)"),
    ] {
        if let Some(names) = report.get(key).and_then(|v| v.as_array()) {
            for n in names {
                println!("{label}: {}", n.as_str().unwrap_or_default());
            }
        }
    }
    let mut code = 0;
    if let Some(errors) = report.get("errors").and_then(|v| v.as_array()) {
        for e in errors {
            eprintln!("error: {}", e.as_str().unwrap_or_default());
            code = 1;
        }
    }
    Ok(code)
}
