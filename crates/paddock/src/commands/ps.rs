//! `paddock ps`: the containers and their state; with `--host`, the
//! device's services too.

use paddock_wire::api::status::ContainerStatus;
use paddock_wire::control::ServiceStatus;
use serde_json::Value;

use crate::client::Client;
use crate::remote::services;

pub async fn run(client: &Client, json: bool) -> anyhow::Result<i32> {
    if client.is_remote() {
        return device(client, json).await;
    }
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
        println!(
            "{:<16} {:<19} {:>7} {:>8} {:>5}  {:<40} {:<15} {:<28} {}",
            c.name,
            container_state(&c),
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

fn container_state(c: &ContainerStatus) -> String {
    match c.health {
        Some(h) => format!("{} ({})", c.state.as_str(), h.as_str()),
        None => c.state.as_str().to_string(),
    }
}

/// Services (from the device's overview) and containers (through its
/// paddockd proxy). Without paddockd the services are still listed, with
/// a warning and exit code 1.
async fn device(client: &Client, json: bool) -> anyhow::Result<i32> {
    let services = services::list(client).await?;
    let (containers, code) = match client
        .json::<Vec<ContainerStatus>>("GET", "/v1/containers", None)
        .await
    {
        Ok(list) => (list, 0),
        Err(e) => {
            eprintln!("paddock: containers on {}: {e:#}", client.peer());
            (Vec::new(), 1)
        }
    };
    if json {
        let mut out = Vec::new();
        for s in &services {
            out.push(tagged(serde_json::to_value(s)?, "service"));
        }
        for c in &containers {
            out.push(tagged(serde_json::to_value(c)?, "container"));
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(code);
    }
    println!(
        "{:<16} {:<9} {:<19} {:>7} {:>8} {:>9} {:>9}  DETAILS",
        "NAME", "KIND", "STATE", "PID", "RESTARTS", "MEMORY", "UPTIME"
    );
    let now = chrono::Utc::now().timestamp();
    for s in services {
        let uptime = s.started_at_unix.map(|t| now - t as i64);
        println!(
            "{:<16} {:<9} {:<19} {:>7} {:>8} {:>9} {:>9}  {}",
            s.name,
            "service",
            s.state,
            dash(s.pid),
            s.restarts,
            bytes(s.memory_bytes),
            duration(uptime),
            service_details(&s),
        );
    }
    for c in containers {
        let uptime = c
            .started_at
            .as_deref()
            .filter(|_| c.pid.is_some())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| now - t.timestamp());
        println!(
            "{:<16} {:<9} {:<19} {:>7} {:>8} {:>9} {:>9}  {}",
            c.name,
            "container",
            container_state(&c),
            dash(c.pid),
            c.restarts,
            bytes(c.memory_bytes),
            duration(uptime),
            c.last_error.as_deref().unwrap_or(&c.image),
        );
    }
    Ok(code)
}

fn tagged(mut v: Value, kind: &str) -> Value {
    if let Value::Object(map) = &mut v {
        map.insert("kind".into(), Value::String(kind.into()));
    }
    v
}

fn service_details(s: &ServiceStatus) -> String {
    let mut parts = Vec::new();
    if let Some(last) = &s.last_exit {
        parts.push(format!("last: {last}"));
    }
    if s.dont_start {
        parts.push("dont_start".into());
    }
    if s.wait_for_clock {
        parts.push("wait_for_clock".into());
    }
    parts.join(", ")
}

fn dash(v: Option<i32>) -> String {
    v.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
}

/// 1536 → `1.5K`, in powers of 1024.
fn bytes(v: Option<u64>) -> String {
    let Some(mut v) = v.map(|v| v as f64) else {
        return "-".into();
    };
    for unit in ["B", "K", "M", "G"] {
        if v < 1024.0 {
            return if unit == "B" {
                format!("{v}B")
            } else {
                format!("{v:.1}{unit}")
            };
        }
        v /= 1024.0;
    }
    format!("{v:.1}T")
}

/// Seconds → `42s`, `5m3s`, `2h5m`, `3d4h`.
fn duration(secs: Option<i64>) -> String {
    let Some(s) = secs.map(|s| s.max(0)) else {
        return "-".into();
    };
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(Some(512)), "512B");
        assert_eq!(bytes(Some(1536)), "1.5K");
        assert_eq!(bytes(Some(3 << 20)), "3.0M");
        assert_eq!(bytes(None), "-");
        assert_eq!(duration(Some(42)), "42s");
        assert_eq!(duration(Some(303)), "5m3s");
        assert_eq!(duration(Some(7500)), "2h5m");
        assert_eq!(duration(Some(3 * 86400 + 4 * 3600)), "3d4h");
    }
}
