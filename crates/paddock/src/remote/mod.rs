//! Talking to a device over the network (`--host HOST[:PORT]`): which
//! device and password ([`Device::resolve`]), and the device's own routes
//! for init's services ([`services`]). Containers go through the device's
//! `/api/v1` proxy of paddockd's API with the ordinary [`crate::client::Client`].

pub mod services;

use std::path::Path;

use anyhow::Context;

use crate::instance::Instance;

/// A device's web server and the password for it.
#[derive(Debug, Clone)]
pub struct Device {
    /// `HOST:PORT`.
    pub host: String,
    /// None: no credentials are sent (the device answers 401).
    pub password: Option<String>,
}

impl Device {
    /// `host` is `HOST[:PORT]` (IPv6: `[ADDR]:PORT`); the port defaults to
    /// the instance's `http_port`, else 80. The password is `password`
    /// (`--password`), else `$PADDOCK_PASSWORD`, else the instance's
    /// `update_password`: the most explicit wins.
    pub fn resolve(
        host: &str,
        instance: Option<&Path>,
        env_password: Option<String>,
        password: Option<String>,
    ) -> anyhow::Result<Device> {
        let instance = instance
            .map(|dir| {
                Instance::load(dir)
                    .with_context(|| format!("reading the instance {}", dir.display()))
            })
            .transpose()?;
        let port = instance.as_ref().map(|i| i.config.http_port).unwrap_or(80);
        let host = with_port(host, port)?;
        let password = password
            .or(env_password.filter(|p| !p.is_empty()))
            .or(instance.map(|i| i.config.update_password));
        Ok(Device { host, password })
    }
}

/// Whether `name` is one of the device's containers (else the commands
/// that take a NAME treat it as a service). Unreachable paddockd counts as
/// "no": services still work without it.
pub async fn is_container(client: &crate::client::Client, name: &str) -> anyhow::Result<bool> {
    let path = format!(
        "/v1/containers/{}",
        paddock_wire::api::path::percent_encode(name)
    );
    let resp = client.send("GET", &path, None, false).await?;
    let status = resp.status();
    if !status.is_success() && status != hyper::StatusCode::NOT_FOUND {
        use http_body_util::BodyExt;
        let body = resp.into_body().collect().await?.to_bytes();
        tracing::warn!(
            "containers on {}: {}",
            client.peer(),
            crate::client::error_message(status, &body)
        );
    }
    Ok(status.is_success())
}

/// `HOST` → `HOST:PORT`; `HOST:P`, `[V6]:P` stay; a bare IPv6 gets brackets.
fn with_port(host: &str, port: u16) -> anyhow::Result<String> {
    let host = host.trim();
    if host.is_empty() {
        anyhow::bail!("--host is empty (expected HOST[:PORT])");
    }
    if let Some(rest) = host.strip_prefix('[') {
        return Ok(match rest.split_once(']') {
            Some((_, "")) => format!("{host}:{port}"),
            Some((_, p)) if p.starts_with(':') => host.to_string(),
            _ => anyhow::bail!("--host {host:?}: expected [ADDRESS]:PORT"),
        });
    }
    match host.matches(':').count() {
        0 => Ok(format!("{host}:{port}")),
        1 => {
            let (_, p) = host.split_once(':').unwrap_or_default();
            p.parse::<u16>()
                .with_context(|| format!("--host {host:?}: bad port {p:?}"))?;
            Ok(host.to_string())
        }
        _ => Ok(format!("[{host}]:{port}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(with_port("gate", 80).unwrap(), "gate:80");
        assert_eq!(with_port("10.0.0.2:8080", 80).unwrap(), "10.0.0.2:8080");
        assert_eq!(with_port("fe80::1", 80).unwrap(), "[fe80::1]:80");
        assert_eq!(with_port("[fe80::1]", 81).unwrap(), "[fe80::1]:81");
        assert_eq!(with_port("[fe80::1]:82", 81).unwrap(), "[fe80::1]:82");
        assert!(with_port("gate:http", 80).is_err());
        assert!(with_port("", 80).is_err());
    }

    #[test]
    fn password_sources() {
        let dir = tempfile::tempdir().unwrap();
        let inst = dir.path().join("gate");
        Instance::create(&inst, "gate").unwrap();
        let d = Device::resolve("gate", Some(&inst), None, None).unwrap();
        let config = Instance::load(&inst).unwrap().config;
        assert_eq!(d.password.as_deref(), Some(config.update_password.as_str()));
        let d = Device::resolve("gate", Some(&inst), Some("env".into()), None).unwrap();
        assert_eq!(d.password.as_deref(), Some("env"));
        assert_eq!(d.host, format!("gate:{}", config.http_port));
        let d = Device::resolve("gate:1", None, Some("env".into()), Some("flag".into())).unwrap();
        assert_eq!(
            (d.host.as_str(), d.password.as_deref()),
            ("gate:1", Some("flag"))
        );
        let d = Device::resolve("gate", None, None, Some("flag".into())).unwrap();
        assert_eq!(d.password.as_deref(), Some("flag"));
        let e = Device::resolve("gate", Some(&dir.path().join("none")), None, None).unwrap_err();
        assert!(format!("{e:#}").contains("reading the instance"), "{e:#}");
    }
}
