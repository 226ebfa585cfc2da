//! Which instance a command works on: `--instance DIR`, `$PADDOCK_INSTANCE`,
//! or the current directory when it holds a `config.yaml`.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::instance::CONFIG_FILE;

pub fn resolve(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("PADDOCK_INSTANCE") {
        return Ok(PathBuf::from(dir));
    }
    if Path::new(CONFIG_FILE).is_file() {
        return Ok(PathBuf::from("."));
    }
    bail!("no instance: pass --instance DIR (a directory made by `paddock new`) or run in one")
}

/// `~/paddock/NAME`.
pub fn default_for(name: &str) -> anyhow::Result<PathBuf> {
    let Some(home) = std::env::var_os("HOME") else {
        bail!("$HOME is not set: pass --dir")
    };
    Ok(PathBuf::from(home).join("paddock").join(name))
}
