//! `paddock logs [-f] NAME`: a container's output; with `--host`, NAME may
//! also be one of the device's services.

use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use crate::client::{error_message, Client};
use crate::remote::{self, services};

pub async fn run(
    client: &Client,
    name: &str,
    follow: bool,
    tail: Option<usize>,
) -> anyhow::Result<i32> {
    if client.is_remote() && !remote::is_container(client, name).await? {
        return service(client, name, follow, tail).await;
    }
    let mut path = format!(
        "/v1/containers/{}/logs?follow={}",
        paddock_wire::api::path::percent_encode(name),
        u8::from(follow)
    );
    if let Some(n) = tail {
        path.push_str(&format!("&tail={n}"));
    }
    let resp = client.send("GET", &path, None, false).await?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.into_body().collect().await?.to_bytes();
        anyhow::bail!("{}", error_message(status, &body));
    }
    let mut body = resp.into_body();
    let mut stdout = tokio::io::stdout();
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            stdout.write_all(data).await?;
            stdout.flush().await?;
        }
    }
    Ok(0)
}

async fn service(
    client: &Client,
    name: &str,
    follow: bool,
    tail: Option<usize>,
) -> anyhow::Result<i32> {
    let Some(lines) = services::logs(client, name).await? else {
        anyhow::bail!(
            "no container or service named {name:?} on {}",
            client.peer()
        );
    };
    if follow {
        // The stream starts with the kept lines itself.
        services::follow(client, name).await?;
        return Ok(0);
    }
    let skip = tail.map(|n| lines.len().saturating_sub(n)).unwrap_or(0);
    let mut stdout = tokio::io::stdout();
    for line in &lines[skip..] {
        stdout.write_all(line.as_bytes()).await?;
        stdout.write_all(b"\n").await?;
    }
    stdout.flush().await?;
    Ok(0)
}
