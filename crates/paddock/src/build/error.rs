//! What can go wrong while building an image.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{tool} not found: install the Debian package {package} (scripts/install-deps)")]
    MissingTool { tool: String, package: String },
    #[error("{what} failed ({status}): {detail}")]
    Command {
        what: String,
        status: String,
        detail: String,
    },
    #[error(transparent)]
    Instance(#[from] crate::instance::InstanceError),
    #[error("kernel: {0}")]
    Kernel(String),
    #[error("{0}")]
    Binary(String),
    #[error("program {name}: {message}")]
    Program { name: String, message: String },
    #[error("containers: {0}")]
    Containers(String),
    #[error("preload {reference}: {message}")]
    Preload { reference: String, message: String },
    #[error("{what} needs {need} but {setting} is {have} (raise it in config.yaml)")]
    TooBig {
        what: &'static str,
        need: String,
        setting: &'static str,
        have: String,
    },
    #[error("{0}")]
    Layout(String),
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;

pub fn io_err<'a>(
    context: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> BuildError + 'a {
    move |source| BuildError::Io {
        context,
        path: path.to_path_buf(),
        source,
    }
}
