//! Preparing a container's bundle: its image (per the pull policy), its
//! overlay rootfs, its /etc files and its `config.json`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ContainerTask;
use crate::host::etc_files::{self, EtcFiles};
use crate::host::mountinfo;
use crate::manifest::{Manifest, NetworkMode, PullPolicy};
use crate::spec::{self, SpecInput};
use crate::store::ImageRecord;
use crate::supervisor::status::State;
use crate::util::{replace_file, write_atomic};

/// What a container's writable layer was made from. When either changes, the
/// container is recreated from scratch, as `docker compose up` does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Identity {
    manifest: serde_json::Value,
    image_digest: String,
}

/// A container on the host's network shares its hostname, as docker's
/// `--network host` does; others are named after themselves.
pub fn hostname_for(manifest: &Manifest) -> String {
    match (&manifest.hostname, &manifest.network) {
        (Some(h), _) => h.clone(),
        (None, NetworkMode::Host) => etc_files::host_hostname(),
        (None, _) => manifest.name.clone(),
    }
}

impl ContainerTask {
    fn bundle(&self) -> PathBuf {
        self.shared.paths.container_dir(self.name())
    }

    fn identity_file(&self) -> PathBuf {
        self.bundle().join("identity.json")
    }

    fn read_identity(&self) -> Option<Identity> {
        let text = std::fs::read_to_string(self.identity_file()).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn manifest_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.manifest).unwrap_or(serde_json::Value::Null)
    }

    /// Whether the running container was made from the current manifest.
    pub(super) fn identity_matches(&self) -> bool {
        self.read_identity()
            .is_some_and(|id| id.manifest == self.manifest_json())
    }

    pub(super) fn stored_image_digest(&self) -> Option<String> {
        self.read_identity().map(|id| id.image_digest)
    }

    /// Everything up to spawning the monitor; returns the image digest.
    pub(super) async fn prepare(&self) -> Result<String, String> {
        match &self.manifest.network {
            NetworkMode::Host | NetworkMode::None => {}
            other => {
                return Err(format!(
                    "network {other:?} is not supported yet (host and none are)"
                ))
            }
        }
        let image = self.ensure_image().await?;
        let bundle = self.bundle();
        let identity = Identity {
            manifest: self.manifest_json(),
            image_digest: image.manifest_digest.to_string(),
        };
        if self.read_identity().as_ref() != Some(&identity) {
            self.unmount_rootfs();
            for dir in ["upper", "work"] {
                let _ = std::fs::remove_dir_all(bundle.join(dir));
            }
            let json = serde_json::to_vec_pretty(&identity).map_err(|e| e.to_string())?;
            write_atomic(&self.identity_file(), &json)
                .map_err(|e| format!("writing {}: {e}", self.identity_file().display()))?;
        }
        let rootfs = bundle.join("rootfs");
        for dir in ["upper", "work", "rootfs"] {
            let d = bundle.join(dir);
            std::fs::create_dir_all(&d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        }
        if !mountinfo::is_mount_point(&rootfs).unwrap_or(false) {
            let lowers = self.shared.store.lower_dirs(&image);
            crate::store::overlay::mount_rootfs(
                &lowers,
                &bundle.join("upper"),
                &bundle.join("work"),
                &rootfs,
            )
            .map_err(|e| format!("mounting the rootfs: {e}"))?;
        }

        let hostname = hostname_for(&self.manifest);
        let etc = EtcFiles::for_container(&self.shared.paths, self.name());
        etc.write(&etc_files::host_content(&self.shared.paths, &hostname))
            .map_err(|e| e.to_string())?;

        let image_config = self
            .shared
            .store
            .image_config(&image)
            .map_err(|e| format!("reading the image config: {e}"))?;
        let mut manifest = self.manifest.clone();
        manifest.hostname = Some(hostname);
        let spec = spec::build_spec(&SpecInput {
            manifest: &manifest,
            image_config: &image_config,
            rootfs: &rootfs,
            root_prefix: self.shared.paths.root(),
            etc_files: etc.clone(),
            cgroups_path: format!("/paddock/{}", self.name()),
            network_namespace: None,
        })
        .map_err(|e| format!("building the runtime spec: {e}"))?;
        let json = serde_json::to_vec_pretty(&spec).map_err(|e| e.to_string())?;
        let config = bundle.join("config.json");
        // Derived from the manifest and image, rewritten before every start.
        replace_file(&config, &json).map_err(|e| format!("writing {}: {e}", config.display()))?;
        Ok(image.manifest_digest.to_string())
    }

    /// The image, pulled or not as the pull policy says.
    async fn ensure_image(&self) -> Result<ImageRecord, String> {
        let store = &self.shared.store;
        let reference = &self.manifest.image;
        let local = store
            .image(reference)
            .map_err(|e| format!("reading the image store: {e}"))?;
        let pull = match (&self.manifest.pull, &local) {
            (PullPolicy::Never, None) => {
                return Err(format!(
                    "image {reference} is not in the store and pull is never"
                ))
            }
            (PullPolicy::Never, Some(_)) | (PullPolicy::Missing, Some(_)) => false,
            // Restarts of a crash loop keep the image they ran, as docker's
            // do; a first start or one the user asked for pulls.
            (PullPolicy::Always, Some(_)) => self.attempt == 0,
            (PullPolicy::Missing, None) | (PullPolicy::Always, None) => true,
        };
        if !pull {
            return local.ok_or_else(|| format!("image {reference} vanished"));
        }
        self.update(|s| s.state = State::Pulling);
        match self.shared.pull(reference).await {
            Ok(image) => Ok(image),
            Err(error) => match local {
                Some(image) => {
                    tracing::warn!(container = %self.name(), %error, "pull failed: using the image in the store");
                    Ok(image)
                }
                None => Err(format!("pulling {reference}: {error}")),
            },
        }
    }

    /// Unmounts the container's rootfs if mounted.
    pub(super) fn unmount_rootfs(&self) {
        let rootfs = self.bundle().join("rootfs");
        if mountinfo::is_mount_point(&rootfs).unwrap_or(false) {
            if let Err(e) = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH) {
                tracing::warn!(container = %self.name(), error = %e, "unmounting the rootfs");
            }
        }
    }
}
