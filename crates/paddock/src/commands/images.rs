//! `paddock pull|images|rmi|prune`.

use crate::client::Client;

pub async fn pull(client: &Client, reference: &str) -> anyhow::Result<i32> {
    let image: serde_json::Value = client
        .json(
            "POST",
            "/v1/images/pull",
            Some(serde_json::json!({ "reference": reference })),
        )
        .await?;
    println!(
        "{} {}",
        image
            .get("reference")
            .and_then(|v| v.as_str())
            .unwrap_or(reference),
        image
            .get("manifest_digest")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    );
    Ok(0)
}

pub async fn list(client: &Client, json: bool) -> anyhow::Result<i32> {
    let images: Vec<serde_json::Value> = client.json("GET", "/v1/images", None).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&images)?);
        return Ok(0);
    }
    println!("{:<50} {:<14} {:>12}", "REFERENCE", "DIGEST", "SIZE");
    for i in images {
        let digest = i
            .get("manifest_digest")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let short = digest.strip_prefix("sha256:").unwrap_or(digest);
        println!(
            "{:<50} {:<14} {:>12}",
            i.get("reference")
                .and_then(|v| v.as_str())
                .unwrap_or_default(),
            &short[..short.len().min(12)],
            i.get("size").and_then(|v| v.as_u64()).unwrap_or_default()
        );
    }
    Ok(0)
}

pub async fn remove(client: &Client, reference: &str) -> anyhow::Result<i32> {
    let report: serde_json::Value = client
        .json(
            "POST",
            "/v1/images/remove",
            Some(serde_json::json!({ "reference": reference })),
        )
        .await?;
    println!("{report}");
    Ok(0)
}

pub async fn prune(client: &Client) -> anyhow::Result<i32> {
    let report: serde_json::Value = client.json("POST", "/v1/images/prune", None).await?;
    println!("{report}");
    Ok(0)
}
