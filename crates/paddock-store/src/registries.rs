//! Registry settings, `<root>/etc/paddock/registries.yaml`:
//!
//! ```yaml
//! insecure: ["10.0.0.5:5000"]           # plain HTTP allowed only for these
//! auth_file: /perm/paddock/config.json  # docker config.json with credentials
//! mirrors:
//!   docker.io: ["mirror.lan:5000"]      # tried in order before the upstream
//! ```
//!
//! A missing file means no insecure registries, no credentials, no mirrors.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

/// Errors loading registry settings.
#[derive(Debug, thiserror::Error)]
pub enum RegistriesError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<serde_saphyr::Error>,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("auth file {path}: {reason}")]
    AuthFile { path: PathBuf, reason: String },
}

/// The YAML file as written (wire type).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistriesFile {
    #[serde(default)]
    insecure: Vec<String>,
    #[serde(default)]
    auth_file: Option<PathBuf>,
    #[serde(default)]
    mirrors: BTreeMap<String, Vec<String>>,
}

/// Username and password for one registry host.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Validated registry settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesConfig {
    insecure: BTreeSet<String>,
    mirrors: BTreeMap<String, Vec<String>>,
    credentials: HashMap<String, Credentials>,
}

impl RegistriesConfig {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, RegistriesError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(RegistriesError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses the YAML text of `path`; a relative `auth_file` is relative to
    /// the directory of `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, RegistriesError> {
        let file: RegistriesFile = if text.trim().is_empty() {
            RegistriesFile::default()
        } else {
            serde_saphyr::from_str(text).map_err(|source| RegistriesError::Parse {
                path: path.to_path_buf(),
                source: Box::new(source),
            })?
        };
        let invalid = |reason: String| RegistriesError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let mut cfg = Self::default();
        for host in file.insecure {
            check_host(&host).map_err(|r| invalid(format!("insecure: {r}")))?;
            cfg.insecure.insert(host);
        }
        for (registry, mirrors) in file.mirrors {
            check_host(&registry).map_err(|r| invalid(format!("mirrors: {r}")))?;
            for m in &mirrors {
                check_host(m).map_err(|r| invalid(format!("mirrors.{registry}: {r}")))?;
            }
            cfg.mirrors.insert(registry, mirrors);
        }
        if let Some(auth) = file.auth_file {
            let auth = match path.parent() {
                Some(dir) if auth.is_relative() => dir.join(auth),
                _ => auth,
            };
            cfg = cfg.with_auth_file(&auth)?;
        }
        Ok(cfg)
    }

    /// Allows plain HTTP for `host` (`HOST[:PORT]`).
    pub fn with_insecure(mut self, host: impl Into<String>) -> Self {
        self.insecure.insert(host.into());
        self
    }

    /// Adds a mirror tried (after those already added) before `registry`.
    pub fn with_mirror(mut self, registry: impl Into<String>, mirror: impl Into<String>) -> Self {
        self.mirrors
            .entry(registry.into())
            .or_default()
            .push(mirror.into());
        self
    }

    /// Credentials for `host`.
    pub fn with_credentials(
        mut self,
        host: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.credentials.insert(
            host.into(),
            Credentials {
                username: username.into(),
                password: password.into(),
            },
        );
        self
    }

    /// Reads credentials from a docker `config.json`
    /// (`{"auths":{"HOST":{"auth":"base64(user:pass)"}}}`, or
    /// `username`/`password` fields).
    pub fn with_auth_file(mut self, path: &Path) -> Result<Self, RegistriesError> {
        let err = |reason: String| RegistriesError::AuthFile {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let file: DockerConfig = serde_json::from_slice(&text).map_err(|e| err(e.to_string()))?;
        for (key, entry) in file.auths {
            let host = normalise_auth_key(&key);
            let creds = match (entry.auth, entry.username, entry.password) {
                (Some(auth), _, _) if !auth.is_empty() => {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(auth.trim())
                        .map_err(|e| err(format!("auths.{key}.auth: {e}")))?;
                    let raw = String::from_utf8(raw)
                        .map_err(|_| err(format!("auths.{key}.auth: not utf-8")))?;
                    let (u, p) = raw
                        .split_once(':')
                        .ok_or_else(|| err(format!("auths.{key}.auth: expected user:password")))?;
                    Credentials {
                        username: u.to_string(),
                        password: p.to_string(),
                    }
                }
                (_, Some(username), Some(password)) => Credentials { username, password },
                _ => continue,
            };
            self.credentials.insert(host, creds);
        }
        Ok(self)
    }

    /// Whether plain HTTP is allowed for `host`.
    pub fn is_insecure(&self, host: &str) -> bool {
        self.insecure.contains(host)
    }

    /// The hosts allowed plain HTTP.
    pub fn insecure_hosts(&self) -> impl Iterator<Item = &str> {
        self.insecure.iter().map(String::as_str)
    }

    /// Mirrors of `registry`, in the order to try them.
    pub fn mirrors(&self, registry: &str) -> &[String] {
        self.mirrors.get(registry).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The credentials for `host`, if any.
    pub fn credentials(&self, host: &str) -> Option<&Credentials> {
        self.credentials.get(host).or_else(|| {
            if is_docker_hub(host) {
                DOCKER_HUB_NAMES
                    .iter()
                    .find_map(|h| self.credentials.get(*h))
            } else {
                None
            }
        })
    }

    /// What oci-client should send to `host`.
    pub fn auth_for(&self, host: &str) -> RegistryAuth {
        match self.credentials(host) {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }
}

const DOCKER_HUB_NAMES: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

fn is_docker_hub(host: &str) -> bool {
    DOCKER_HUB_NAMES.contains(&host)
}

/// `https://index.docker.io/v1/` → `index.docker.io`.
fn normalise_auth_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k).to_string()
}

fn check_host(host: &str) -> Result<(), String> {
    let bad = host.is_empty()
        || host.contains("://")
        || host.contains('/')
        || host.chars().any(|c| c.is_whitespace());
    if bad {
        Err(format!("{host:?} is not a HOST[:PORT]"))
    } else {
        Ok(())
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_default() {
        let cfg = RegistriesConfig::load(Path::new("/nonexistent/registries.yaml")).unwrap();
        assert_eq!(cfg, RegistriesConfig::default());
    }

    #[test]
    fn parses_all_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("auth.json"),
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},
                "r.lan:5000":{"username":"a","password":"b:c"}}}"#,
        )
        .unwrap();
        let yaml = "insecure: [\"127.0.0.1:5000\"]\nauth_file: auth.json\nmirrors:\n  docker.io: [\"m1:5000\", \"m2:5000\"]\n";
        let cfg = RegistriesConfig::parse(yaml, &dir.path().join("registries.yaml")).unwrap();
        assert!(cfg.is_insecure("127.0.0.1:5000"));
        assert!(!cfg.is_insecure("127.0.0.1:5001"));
        assert_eq!(cfg.mirrors("docker.io"), ["m1:5000", "m2:5000"]);
        assert_eq!(cfg.credentials("docker.io").unwrap().username, "u");
        assert_eq!(cfg.credentials("docker.io").unwrap().password, "p");
        assert_eq!(cfg.credentials("r.lan:5000").unwrap().password, "b:c");
        assert!(cfg.credentials("other").is_none());
        assert!(
            !format!("{cfg:?}").contains("b:c"),
            "passwords never printed"
        );
    }

    #[test]
    fn unknown_key_reports_line_and_column() {
        let err = RegistriesConfig::parse("insecure: []\nmirror: {}\n", Path::new("/r.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/r.yaml"), "{err}");
        assert!(err.contains("line 2 column 1"), "{err}");
        assert!(err.contains("mirror"), "{err}");
    }

    #[test]
    fn rejects_urls_as_hosts() {
        let err = RegistriesConfig::parse("insecure: [\"http://x:5000\"]\n", Path::new("/r.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("HOST[:PORT]"), "{err}");
    }
}
