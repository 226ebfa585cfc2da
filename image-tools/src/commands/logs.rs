//! `paddock logs [-f] NAME`.

use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use crate::client::Client;

pub async fn run(
    client: &Client,
    name: &str,
    follow: bool,
    tail: Option<usize>,
) -> anyhow::Result<i32> {
    let mut path = format!(
        "/v1/containers/{}/logs?follow={}",
        paddockd::api::percent_encode(name),
        u8::from(follow)
    );
    if let Some(n) = tail {
        path.push_str(&format!("&tail={n}"));
    }
    let resp = client.send("GET", &path, None, false).await?;
    if !resp.status().is_success() {
        let body = resp.into_body().collect().await?.to_bytes();
        anyhow::bail!("{}", String::from_utf8_lossy(&body).trim());
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
