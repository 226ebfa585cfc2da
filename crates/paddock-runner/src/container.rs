//! The libcontainer calls every command shares: a builder preset the way paddock
//! needs it (state root, our executor), loading a container by id, and throwing
//! away what a failed or stale container left behind.

use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::error::LibcontainerError;
use libcontainer::syscall::syscall::SyscallType;

use crate::executor::CleanSignalsExecutor;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("container {id} does not exist")]
    NotFound { id: String },
    #[error("load container {id}")]
    Load {
        id: String,
        #[source]
        source: LibcontainerError,
    },
    #[error("set up container {id}")]
    Builder {
        id: String,
        #[source]
        source: LibcontainerError,
    },
    #[error("remove state of container {id} at {}", dir.display())]
    RemoveDir {
        id: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The directory libcontainer keeps a container's state in.
pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Whether a container of this id has state under `root`.
pub fn exists(root: &Path, id: &str) -> bool {
    dir(root, id).exists()
}

/// A builder with the id validated, the state root set and our executor.
pub fn builder(root: &Path, id: &str) -> Result<ContainerBuilder, ContainerError> {
    let err = |source| ContainerError::Builder {
        id: id.to_owned(),
        source,
    };
    ContainerBuilder::new(id.to_owned(), SyscallType::default())
        .with_executor(CleanSignalsExecutor::default())
        .with_root_path(root)
        .map_err(err)?
        .validate_id()
        .map_err(err)
}

/// Starts a created container; returns its init's pid.
pub fn start(created: &mut Container, id: &str) -> anyhow::Result<nix::unistd::Pid> {
    use anyhow::Context;
    created
        .start()
        .with_context(|| format!("start container {id}"))?;
    created
        .pid()
        .with_context(|| format!("container {id} has no pid"))
}

/// Loads an existing container (its status refreshed from /proc).
pub fn load(root: &Path, id: &str) -> Result<Container, ContainerError> {
    let dir = dir(root, id);
    if !dir.exists() {
        return Err(ContainerError::NotFound { id: id.to_owned() });
    }
    Container::load(dir).map_err(|source| ContainerError::Load {
        id: id.to_owned(),
        source,
    })
}

/// Removes whatever state a container of this id left under `root`: deletes it
/// (killing its processes and removing its cgroup) or, when its state cannot be
/// read, removes the directory. Returns whether there was anything.
pub fn discard(root: &Path, id: &str) -> Result<bool, ContainerError> {
    let dir = dir(root, id);
    if !dir.exists() {
        return Ok(false);
    }
    match load(root, id).and_then(|mut c| {
        c.delete(true).map_err(|source| ContainerError::Load {
            id: id.to_owned(),
            source,
        })
    }) {
        Ok(()) => {}
        Err(err) => {
            tracing::warn!(id, error = %err, "could not delete container, removing its state directory");
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|source| ContainerError::RemoveDir {
                    id: id.to_owned(),
                    dir: dir.clone(),
                    source,
                })?;
            }
        }
    }
    Ok(true)
}
