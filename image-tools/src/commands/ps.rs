//! `paddock ps`: the containers and their state.

use paddockd::supervisor::status::ContainerStatus;

use crate::client::Client;

pub async fn run(client: &Client, json: bool) -> anyhow::Result<i32> {
    let list: Vec<ContainerStatus> = client.json("GET", "/v1/containers", None).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    println!(
        "{:<16} {:<19} {:>7} {:>8} {:>5}  {:<40} {:<15} {:<28} ERROR",
        "NAME", "STATE", "PID", "RESTARTS", "EXIT", "IMAGE", "ADDRESS", "PORTS"
    );
    for c in list {
        let state = match c.health {
            Some(h) => format!("{:?} ({:?})", c.state, h).to_lowercase(),
            None => format!("{:?}", c.state).to_lowercase(),
        };
        println!(
            "{:<16} {:<19} {:>7} {:>8} {:>5}  {:<40} {:<15} {:<28} {}",
            c.name,
            state,
            c.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            c.restarts,
            c.last_exit_code
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            c.image,
            c.address.as_deref().unwrap_or("-"),
            if c.ports.is_empty() {
                "-".to_string()
            } else {
                c.ports.join(", ")
            },
            c.last_error.unwrap_or_default()
        );
    }
    Ok(0)
}
