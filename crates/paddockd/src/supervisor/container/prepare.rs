//! Preparing a container's bundle: its image (per the pull policy), its
//! overlay rootfs, its /etc files and its `config.json`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ContainerTask;
use crate::host::etc_files::{self, EtcContent, EtcFiles};
use crate::host::mountinfo;
use crate::manifest::{Manifest, NetworkMode, PullPolicy};
use crate::network::names;
use crate::spec::{self, SpecInput};
use crate::store::ImageRecord;
use crate::supervisor::Shared;
use paddock_sys::fs::{write_atomic, PRIVATE};

use crate::supervisor::start_error::StartError;
use paddock_wire::api::status::State;

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

/// The /etc files a container sees. On the bridge: its peers by name in
/// /etc/hosts, and the host's resolvers with a loopback one translated (see
/// [`crate::network::names`]); otherwise the host's files.
pub async fn etc_content(shared: &Shared, manifest: &Manifest) -> EtcContent {
    let hostname = hostname_for(manifest);
    let mut content = etc_files::host_content(&shared.paths, &hostname);
    let Some((owner, NetworkMode::Bridge)) = shared.effective_network_of(&manifest.name) else {
        return content;
    };
    let network = &shared.network;
    let gateway = network.config().gateway();
    let (resolv_conf, upstream) = names::translate_resolv_conf(&content.resolv_conf, gateway);
    if let Err(error) = network.set_dns_upstream(upstream).await {
        tracing::warn!(%error, "forwarding DNS to the host's resolver");
    }
    content.resolv_conf = resolv_conf;
    let address = network.address_of(&owner).await;
    content.hosts = names::hosts_file((&hostname, address), &network.peers().await);
    content
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
    pub(super) async fn prepare(&self) -> Result<String, StartError> {
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
            let path = self.identity_file();
            std::fs::create_dir_all(&bundle).map_err(StartError::bundle("creating", &bundle))?;
            let json = serde_json::to_vec_pretty(&identity)
                .map_err(|e| StartError::bundle("encoding", &path)(e.into()))?;
            write_atomic(&path, &json, PRIVATE).map_err(StartError::bundle("writing", &path))?;
        }
        let rootfs = bundle.join("rootfs");
        for dir in ["upper", "work", "rootfs"] {
            let d = bundle.join(dir);
            std::fs::create_dir_all(&d).map_err(StartError::bundle("creating", &d))?;
        }
        if !mountinfo::is_mount_point(&rootfs).unwrap_or(false) {
            let lowers = self.shared.store.lower_dirs(&image);
            crate::store::overlay::mount_rootfs(
                &lowers,
                &bundle.join("upper"),
                &bundle.join("work"),
                &rootfs,
            )
            .map_err(StartError::Rootfs)?;
        }

        let network_namespace = self.network_namespace().await?;
        let hostname = hostname_for(&self.manifest);
        let etc = EtcFiles::for_container(&self.shared.paths, self.name());
        etc.write(&etc_content(&self.shared, &self.manifest).await)
            .map_err(StartError::EtcFiles)?;

        let image_config = self
            .shared
            .store
            .image_config(&image)
            .map_err(StartError::ImageConfig)?;
        let mut manifest = self.manifest.clone();
        manifest.hostname = Some(hostname);
        if matches!(manifest.network, NetworkMode::Container(_)) && network_namespace.is_none() {
            // Joining a container that is on the host's network.
            manifest.network = NetworkMode::Host;
        }
        let spec = spec::build_spec(&SpecInput {
            manifest: &manifest,
            image_config: &image_config,
            rootfs: &rootfs,
            root_prefix: self.shared.paths.root(),
            etc_files: etc.clone(),
            cgroups_path: format!("/paddock/{}", self.name()),
            network_namespace,
        })
        .map_err(StartError::Spec)?;
        let config = bundle.join("config.json");
        let json = serde_json::to_vec_pretty(&spec)
            .map_err(|e| StartError::bundle("encoding", &config)(e.into()))?;
        // Derived from the manifest and image, rewritten before every start.
        write_atomic(&config, &json, PRIVATE).map_err(StartError::bundle("writing", &config))?;
        Ok(image.manifest_digest.to_string())
    }

    /// The network namespace to run in (`None`: the host's), set up first.
    pub(super) async fn network_namespace(&self) -> Result<Option<PathBuf>, StartError> {
        match &self.manifest.network {
            NetworkMode::Host => Ok(None),
            NetworkMode::Container(other) => self
                .shared
                .shared_namespace_of(other)
                .map_err(StartError::SharedNamespace),
            mode @ (NetworkMode::None | NetworkMode::Bridge) => {
                let attachment = self
                    .shared
                    .network
                    .attach(self.name(), mode, &self.manifest.ports)
                    .await
                    .map_err(StartError::Network)?;
                self.update(|s| {
                    s.address = attachment.address.map(|a| a.to_string());
                    s.ports = attachment.ports.iter().map(ToString::to_string).collect();
                });
                Ok(Some(attachment.netns))
            }
        }
    }

    /// Takes the container off the network once it no longer runs.
    pub(super) async fn detach_network(&self) {
        if !matches!(
            self.manifest.network,
            NetworkMode::None | NetworkMode::Bridge
        ) {
            return;
        }
        if let Err(error) = self.shared.network.detach(self.name()).await {
            tracing::warn!(container = %self.name(), %error, "taking the container off the network");
        }
        self.update(|s| s.ports.clear());
    }

    /// The image, pulled or not as the pull policy says.
    async fn ensure_image(&self) -> Result<ImageRecord, StartError> {
        let store = &self.shared.store;
        let reference = &self.manifest.image;
        let local = store.image(reference).map_err(StartError::Store)?;
        let pull = match (&self.manifest.pull, &local) {
            (PullPolicy::Never, None) => {
                return Err(StartError::NotPulled {
                    reference: reference.clone(),
                })
            }
            (PullPolicy::Never, Some(_)) | (PullPolicy::Missing, Some(_)) => false,
            // Restarts of a crash loop keep the image they ran, as docker's
            // do; a first start or one the user asked for pulls.
            (PullPolicy::Always, Some(_)) => self.attempt == 0,
            (PullPolicy::Missing, None) | (PullPolicy::Always, None) => true,
        };
        if !pull {
            return local.ok_or_else(|| StartError::NotPulled {
                reference: reference.clone(),
            });
        }
        self.update(|s| s.state = State::Pulling);
        match self.shared.pull(reference).await {
            Ok(image) => Ok(image),
            Err(error) => match local {
                Some(image) => {
                    tracing::warn!(container = %self.name(), %error, "pull failed: using the image in the store");
                    Ok(image)
                }
                None => Err(StartError::Pull {
                    reference: reference.clone(),
                    source: error,
                }),
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
