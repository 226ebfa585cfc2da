//! The OCI runtime spec (`config.json`) for a container: the image config
//! and the manifest combined as docker combines them, with docker's
//! security defaults (capabilities, seccomp, masked paths, device rules).
//!
//! Public API: [`build_spec`], [`SpecInput`], [`EtcFiles`], [`SpecError`].

mod devices;
mod mounts;
mod namespaces;
mod process;
mod resources;
mod seccomp;
mod security;
mod user;

use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{
    LinuxBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use crate::manifest::Manifest;

pub use process::DEFAULT_PATH;

/// Host-side files the supervisor keeps current, bind-mounted read-only
/// onto the container's /etc.
pub use crate::host::etc_files::EtcFiles;

/// Everything [`build_spec`] needs.
#[derive(Debug, Clone)]
pub struct SpecInput<'a> {
    pub manifest: &'a Manifest,
    pub image_config: &'a ImageConfiguration,
    /// The mounted overlay: the spec's root, and where the image's
    /// /etc/passwd and /etc/group are read (never following links out).
    pub rootfs: &'a Path,
    /// Volume host paths are resolved under this prefix (`/` on the device):
    /// `/perm/x` → `<root_prefix>/perm/x`.
    pub root_prefix: &'a Path,
    pub etc_files: EtcFiles,
    /// `linux.cgroupsPath`.
    pub cgroups_path: String,
    /// A prepared network namespace to join (bridge networking, or
    /// `network: container:NAME`); `None` with `network: none` creates an
    /// empty one, and is ignored with `network: host`.
    pub network_namespace: Option<PathBuf>,
}

/// Why a spec could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("no command: the image has neither Entrypoint nor Cmd, and the manifest sets neither entrypoint nor command")]
    NoCommand,
    #[error("user {user:?}: no user named {name:?} in the image's /etc/passwd")]
    UserNotFound { user: String, name: String },
    #[error("user {user:?}: no group named {name:?} in the image's /etc/group")]
    GroupNotFound { user: String, name: String },
    #[error("cannot read {} in the image", path.display())]
    ReadImageFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create volume source {}", path.display())]
    CreateVolumeSource {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("volume source {} does not exist (create_host_path is false)", path.display())]
    VolumeSourceMissing { path: PathBuf },
    #[error("device {}: {source}", path.display())]
    Device {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("device {}: not a character or block device", path.display())]
    NotADevice { path: PathBuf },
    #[error("ulimit {name:?} has no matching rlimit")]
    UnknownRlimit { name: String },
    #[error("network: {network} needs the network namespace the supervisor prepares")]
    NetworkNamespaceRequired { network: String },
    #[error("the rootfs path {} is not absolute", path.display())]
    RelativeRootfs { path: PathBuf },
    #[error("building the runtime spec")]
    Oci(#[from] oci_spec::OciSpecError),
}

/// Builds the runtime spec for `input.manifest` on `input.image_config`.
///
/// Side effects: missing volume sources are created (as docker does).
pub fn build_spec(input: &SpecInput) -> Result<Spec, SpecError> {
    let m = input.manifest;
    if !input.rootfs.is_absolute() {
        return Err(SpecError::RelativeRootfs {
            path: input.rootfs.to_path_buf(),
        });
    }
    let image = input.image_config.config().as_ref();
    let hostname = m.hostname.clone().unwrap_or_else(|| m.name.clone());

    let wanted_user = m.user.clone().or_else(|| {
        image
            .and_then(|c| c.user().as_deref())
            .and_then(user::parse_image_user)
    });
    let exec_user = user::resolve(input.rootfs, wanted_user.as_ref())?;

    let caps = security::capability_list(m);
    let mut process = ProcessBuilder::default()
        .terminal(m.tty)
        .args(process::args(m, image)?)
        .env(process::env(m, image, &hostname, &exec_user.home))
        .cwd(process::cwd(m, image))
        .user({
            let mut u = UserBuilder::default().uid(exec_user.uid).gid(exec_user.gid);
            if !exec_user.additional_gids.is_empty() {
                u = u.additional_gids(exec_user.additional_gids.clone());
            }
            u.build()?
        })
        .capabilities(security::capabilities(&caps)?)
        .rlimits(resources::rlimits(m)?)
        .no_new_privileges(!m.privileged)
        .build()?;
    process.set_oom_score_adj(None);

    let (device_nodes, device_rules) = devices::devices(m)?;
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces::namespaces(
            m,
            input.network_namespace.as_deref(),
        )?)
        .resources(resources::resources(m, device_rules)?)
        .devices(device_nodes)
        .cgroups_path(PathBuf::from(&input.cgroups_path));
    if !m.sysctls.is_empty() {
        linux = linux.sysctl(
            m.sysctls
                .clone()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    // Set both ways: the builder's defaults are runc's lists, not docker's.
    if m.privileged {
        linux = linux.masked_paths(Vec::new()).readonly_paths(Vec::new());
    } else {
        linux = linux
            .masked_paths(
                security::MASKED_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            )
            .readonly_paths(
                security::READONLY_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            )
            .seccomp(seccomp::profile(&caps)?);
    }

    Ok(SpecBuilder::default()
        .version(oci_spec::runtime::VERSION)
        .root(
            RootBuilder::default()
                .path(input.rootfs)
                .readonly(m.read_only)
                .build()?,
        )
        .hostname(hostname)
        .process(process)
        .mounts(mounts::mounts(m, &input.etc_files, input.root_prefix)?)
        .linux(linux.build()?)
        .build()?)
}

#[cfg(test)]
mod tests;
