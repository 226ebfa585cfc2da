//! paddock's YAML settings files other than manifests (`paddockd.yaml`, an
//! instance's `config.yaml`): errors that name file, line and column, a
//! missing or empty file meaning the defaults, and durations written as
//! `"10s"` like the manifests' own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
}

/// Turns a YAML error into one that names the file, line and column.
pub fn yaml_error(path: &Path, err: &serde_saphyr::Error) -> ConfigError {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let message = err.without_snippet().to_string();
    let message = message.lines().next().unwrap_or_default().to_string();
    ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Reads and parses a YAML settings file; a missing file gives the defaults.
pub fn load_yaml<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(T::default()),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_saphyr::from_str(&text).map_err(|e| yaml_error(path, &e))
}

/// A duration written as "100ms", "10s", "1m30s" or "2h".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::parse_duration(&s)
            .map(HumanDuration)
            .map_err(|problem| {
                serde::de::Error::custom(format!(
                    "duration {s:?} {problem} (expected e.g. \"100ms\", \"10s\", \"1m30s\")"
                ))
            })
    }
}
