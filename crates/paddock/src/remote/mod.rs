//! Talking to a device over the network (`--host HOST[:PORT]`): which
//! device and password ([`Device::resolve`]), and the device's own routes
//! for init's services ([`services`]). Containers go through the device's
//! `/api/v1` proxy of paddockd's API with the ordinary [`crate::client::Client`].

pub mod services;
pub mod tls;

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
    /// HTTPS, checked against the instance's CA; `None`: plain HTTP (no
    /// instance, or one without keys).
    pub tls: Option<tls::TlsTarget>,
}

impl Device {
    /// `host` is `HOST[:PORT]` (IPv6: `[ADDR]:PORT`). With an instance
    /// that has its CA (`keys/tls/ca.crt`) the device is spoken to over
    /// HTTPS, the port defaulting to its `https_port`; otherwise plain
    /// HTTP on port 80, which carries a password only with `insecure_http`
    /// (`--insecure-http`): a device built with keys only redirects there,
    /// and the password would already have crossed the network.
    /// The password is `password`
    /// (`--password`), else `$PADDOCK_PASSWORD`, else the instance's
    /// `update_password`: the most explicit wins.
    pub fn resolve(
        host: &str,
        instance: Option<&Path>,
        env_password: Option<String>,
        password: Option<String>,
        insecure_http: bool,
    ) -> anyhow::Result<Device> {
        let instance = instance
            .map(|dir| {
                Instance::load(dir)
                    .with_context(|| format!("reading the instance {}", dir.display()))
            })
            .transpose()?;
        let tls = match &instance {
            Some(i) => {
                let ca_path = crate::instance::keys::Keys::of(&i.dir)
                    .dir
                    .join("tls/ca.crt");
                match std::fs::read_to_string(&ca_path) {
                    Ok(ca_pem) => Some(tls::TlsTarget {
                        ca_pem,
                        ca_path,
                        server_name: i.config.hostname.clone(),
                    }),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => {
                        return Err(e).with_context(|| format!("reading {}", ca_path.display()))
                    }
                }
            }
            None => None,
        };
        let port = match (&instance, &tls) {
            (Some(i), Some(_)) => i.config.https_port,
            (Some(i), None) => i.config.http_port,
            (None, _) => 80,
        };
        let host = with_port(host, port)?;
        let password = password
            .or(env_password.filter(|p| !p.is_empty()))
            .or(instance.map(|i| i.config.update_password));
        if tls.is_none() && password.is_some() {
            if !insecure_http {
                anyhow::bail!(
                    "{host}: no CA to check the device's HTTPS certificate against, so the password \
                     would cross the network in the clear: pass --instance DIR (or $PADDOCK_INSTANCE; \
                     an older instance needs `paddock keys init`), or --insecure-http for a device \
                     that speaks only plain HTTP"
                );
            }
            tracing::warn!("{host}: plain HTTP (--insecure-http): the password is not protected");
        }
        Ok(Device {
            host,
            password,
            tls,
        })
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
        let d = Device::resolve("gate", Some(&inst), None, None, false).unwrap();
        let config = Instance::load(&inst).unwrap().config;
        assert_eq!(d.password.as_deref(), Some(config.update_password.as_str()));
        let d = Device::resolve("gate", Some(&inst), Some("env".into()), None, false).unwrap();
        assert_eq!(d.password.as_deref(), Some("env"));
        assert_eq!(d.host, format!("gate:{}", config.https_port));
        assert_eq!(d.tls.as_ref().map(|t| t.server_name.as_str()), Some("gate"));
        let d = Device::resolve(
            "gate:1",
            None,
            Some("env".into()),
            Some("flag".into()),
            true,
        )
        .unwrap();
        assert_eq!(
            (d.host.as_str(), d.password.as_deref()),
            ("gate:1", Some("flag"))
        );
        let e = Device::resolve("gate", None, None, Some("flag".into()), false).unwrap_err();
        assert!(format!("{e:#}").contains("in the clear"), "{e:#}");
        let d = Device::resolve("gate", None, None, Some("flag".into()), true).unwrap();
        assert_eq!(d.password.as_deref(), Some("flag"));
        assert!(d.tls.is_none());
        assert_eq!(d.host, "gate:80");
        let e =
            Device::resolve("gate", Some(&dir.path().join("none")), None, None, false).unwrap_err();
        assert!(format!("{e:#}").contains("reading the instance"), "{e:#}");
    }
}
