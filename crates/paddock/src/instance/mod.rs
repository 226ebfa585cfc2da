//! An instance: a directory holding `config.yaml` and the container
//! manifests, from which `paddock build` makes a disk image (what gokrazy
//! calls an instance, `gok new`).
//!
//! API: [`Instance::load`], [`Instance::create`]; the config types in [`config`].

pub mod config;
pub mod keys;
pub mod size;
mod template;
mod validate;

use std::path::{Path, PathBuf};

pub use config::InstanceConfig;

/// Errors reading or creating an instance.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0)]
    Parse(paddock_manifest::settings::ConfigError),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path} already exists: pick another name or --dir")]
    Exists { path: PathBuf },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> InstanceError + '_ {
    move |source| InstanceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A loaded, checked instance.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The instance directory (absolute).
    pub dir: PathBuf,
    /// `<dir>/config.yaml`.
    pub config_path: PathBuf,
    pub config: InstanceConfig,
}

/// The config file's name inside an instance directory.
pub const CONFIG_FILE: &str = "config.yaml";

impl Instance {
    /// Reads and checks `<dir>/config.yaml`.
    pub fn load(dir: &Path) -> Result<Instance, InstanceError> {
        Self::load_from(dir, &dir.join(CONFIG_FILE))
    }

    /// Reads and checks `config_path` as the config of the instance in `dir`.
    pub fn load_from(dir: &Path, config_path: &Path) -> Result<Instance, InstanceError> {
        let dir = std::path::absolute(dir).map_err(io_err(dir))?;
        let config_path = std::path::absolute(config_path).map_err(io_err(config_path))?;
        let text = std::fs::read_to_string(&config_path).map_err(io_err(&config_path))?;
        let config: InstanceConfig = serde_saphyr::from_str(&text).map_err(|e| {
            InstanceError::Parse(paddock_manifest::settings::yaml_error(&config_path, &e))
        })?;
        validate::check(&config, &dir).map_err(|message| InstanceError::Invalid {
            path: config_path.clone(),
            message,
        })?;
        Ok(Instance {
            dir,
            config_path,
            config,
        })
    }

    /// Creates `dir` with a fresh `config.yaml` and an empty `containers/`.
    pub fn create(dir: &Path, name: &str) -> Result<Instance, InstanceError> {
        validate::hostname(name).map_err(|message| InstanceError::Invalid {
            path: dir.to_path_buf(),
            message: format!("instance name: {message}"),
        })?;
        if dir.join(CONFIG_FILE).exists() {
            return Err(InstanceError::Exists {
                path: dir.join(CONFIG_FILE),
            });
        }
        std::fs::create_dir_all(dir.join("containers")).map_err(io_err(dir))?;
        let path = dir.join(CONFIG_FILE);
        let text = template::config_yaml(name, &template::generate_password());
        write_private(&path, text.as_bytes())?;
        keys::Keys::of(dir).init(name)?;
        Self::load(dir)
    }

    /// Writes `config` back (comments in the file are lost; used by `paddock add`).
    pub fn save(&self) -> Result<(), InstanceError> {
        let body = serde_saphyr::to_string(&self.config).map_err(|e| InstanceError::Invalid {
            path: self.config_path.clone(),
            message: format!("serialising: {e}"),
        })?;
        let text = format!("{}{body}", template::HEADER);
        write_private(&self.config_path, text.as_bytes())
    }
}

/// Writes `path` (private: config.yaml holds the update password).
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), InstanceError> {
    paddock_sys::fs::write_atomic(path, data, paddock_sys::fs::PRIVATE).map_err(io_err(path))
}

#[cfg(test)]
mod tests;
