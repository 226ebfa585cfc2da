//! `paddock pull|images|rmi|prune`.

use paddock_store::{ImageRecord, PruneReport};
use paddock_wire::api::images::ImageRequest;

use crate::client::Client;

fn body(reference: &str) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(ImageRequest {
        reference: reference.to_string(),
    })?)
}

pub async fn pull(client: &Client, reference: &str) -> anyhow::Result<i32> {
    let image: ImageRecord = client
        .json("POST", "/v1/images/pull", Some(body(reference)?))
        .await?;
    println!("{} {}", image.reference, image.manifest_digest);
    Ok(0)
}

pub async fn list(client: &Client, json: bool) -> anyhow::Result<i32> {
    let images: Vec<ImageRecord> = client.json("GET", "/v1/images", None).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&images)?);
        return Ok(0);
    }
    println!("{:<50} {:<14} {:>12}", "REFERENCE", "DIGEST", "SIZE");
    for i in images {
        let digest = i.manifest_digest.to_string();
        let short = digest.strip_prefix("sha256:").unwrap_or(&digest);
        println!(
            "{:<50} {:<14} {:>12}",
            i.reference,
            &short[..short.len().min(12)],
            i.size
        );
    }
    Ok(0)
}

pub async fn remove(client: &Client, reference: &str) -> anyhow::Result<i32> {
    let removed: bool = client
        .json("POST", "/v1/images/remove", Some(body(reference)?))
        .await?;
    println!("{removed}");
    Ok(0)
}

pub async fn prune(client: &Client) -> anyhow::Result<i32> {
    let report: PruneReport = client.json("POST", "/v1/images/prune", None).await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(0)
}
