//! The supervisor: turns the manifests into running containers and keeps them
//! so. One task per container (see [`container`]); this module owns the set of
//! them, reconciles it with the manifests on start and on `apply`, and answers
//! the API.

pub mod container;
pub mod log_buffer;
pub mod memory;
pub mod monitor_client;
pub mod runner;
pub mod start_error;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Mutex as AsyncMutex};

use crate::config::DaemonConfig;
use crate::host::clock::ClockGate;
use crate::host::etc_files::EtcFiles;
use crate::manifest::{self, Manifest, NetworkMode};
use crate::network::Network;
use crate::paths::Paths;
use crate::store::{ImageRecord, PullOptions, Store, StoreError};
use container::ContainerHandle;
use log_buffer::LogBuffer;
use paddock_wire::api::status::{ContainerStatus, State};
use runner::Runner;

/// What every container task shares.
#[derive(Debug)]
pub struct Shared {
    pub paths: Paths,
    pub config: DaemonConfig,
    pub runner: Runner,
    pub store: Arc<Store>,
    pub pull_options: PullOptions,
    /// `true` once the clock is trusted.
    pub clock: watch::Receiver<bool>,
    pub network: Network,
    statuses: Mutex<BTreeMap<String, watch::Receiver<ContainerStatus>>>,
    /// Every declared container's `network:`, for `container:NAME`.
    network_modes: Mutex<BTreeMap<String, NetworkMode>>,
}

impl Shared {
    /// The current status of another container (for `depends_on`).
    pub fn status_of(&self, name: &str) -> Option<ContainerStatus> {
        let statuses = self.statuses.lock().ok()?;
        statuses.get(name).map(|rx| rx.borrow().clone())
    }

    /// The namespace `network: container:NAME` joins: `None` for the host's
    /// (NAME uses the host network), else NAME's pinned namespace, following
    /// NAME's own `container:` if it has one.
    pub fn shared_namespace_of(&self, name: &str) -> Result<Option<std::path::PathBuf>, String> {
        let modes = self
            .network_modes
            .lock()
            .map_err(|_| "internal error: lock poisoned".to_string())?;
        let mut target = name.to_string();
        for _ in 0..8 {
            match modes.get(&target) {
                None => return Err(format!("container {target} is not declared")),
                Some(NetworkMode::Host) => return Ok(None),
                Some(NetworkMode::Container(next)) => target = next.clone(),
                Some(NetworkMode::None | NetworkMode::Bridge) => {
                    let path = self.network.netns_path(&target);
                    return if crate::network::netns::is_pinned(&path) {
                        Ok(Some(path))
                    } else {
                        Err(format!(
                            "container {target} has no network namespace yet (it is not running)"
                        ))
                    };
                }
            }
        }
        Err(format!("network: container:{name} goes round in a loop"))
    }

    /// The `network:` of the container whose namespace `name` ends up in.
    pub fn effective_network_of(&self, name: &str) -> Option<(String, NetworkMode)> {
        let modes = self.network_modes.lock().ok()?;
        let mut target = name.to_string();
        for _ in 0..8 {
            match modes.get(&target)? {
                NetworkMode::Container(next) => target = next.clone(),
                other => return Some((target, other.clone())),
            }
        }
        None
    }

    pub async fn pull(&self, reference: &str) -> Result<ImageRecord, StoreError> {
        self.store.pull(reference, &self.pull_options).await
    }
}

pub use paddock_wire::api::apply::ApplyReport;

/// The set of supervised containers.
pub struct Supervisor {
    shared: Arc<Shared>,
    containers: AsyncMutex<BTreeMap<String, ContainerHandle>>,
    /// Manifests with errors, shown in status as `invalid`.
    invalid: Mutex<Vec<ContainerStatus>>,
    logs: Mutex<BTreeMap<String, Arc<LogBuffer>>>,
}

impl Supervisor {
    pub fn new(
        paths: Paths,
        config: DaemonConfig,
        store: Arc<Store>,
        pull_options: PullOptions,
    ) -> Result<Arc<Self>, crate::host::clock::ClockError> {
        let gate = ClockGate::new(&paths, &config.clock)?;
        let (clock_tx, clock_rx) = watch::channel(!config.clock.wait || gate.trusted().is_some());
        if !*clock_rx.borrow() {
            tokio::spawn(async move {
                let why = gate.wait().await;
                tracing::info!(reason = why, "clock trusted");
                let _ = clock_tx.send(true);
            });
        }
        let runner = Runner::new(runner::find_runner(config.runner.as_deref()), &paths);
        let network = Network::new(&paths, config.network.clone());
        let shared = Arc::new(Shared {
            paths,
            config,
            runner,
            store,
            pull_options,
            clock: clock_rx,
            network,
            statuses: Mutex::new(BTreeMap::new()),
            network_modes: Mutex::new(BTreeMap::new()),
        });
        let supervisor = Arc::new(Self {
            shared,
            containers: AsyncMutex::new(BTreeMap::new()),
            invalid: Mutex::new(Vec::new()),
            logs: Mutex::new(BTreeMap::new()),
        });
        supervisor.spawn_etc_keeper();
        Ok(supervisor)
    }

    pub fn paths(&self) -> &Paths {
        &self.shared.paths
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Reads the manifests and makes the running set match them: new ones
    /// start, removed ones stop and are deleted, changed ones are recreated,
    /// the rest are left alone. Then unused images are pruned.
    pub async fn apply(&self) -> ApplyReport {
        let mut report = ApplyReport::default();
        let loaded = manifest::load_dir(&self.shared.paths.manifests());
        let invalid: Vec<ContainerStatus> = loaded
            .errors
            .iter()
            .map(|e| {
                report.errors.push(e.to_string());
                tracing::error!(error = %e, "manifest skipped");
                let file = e.file.display().to_string();
                let name = e
                    .file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| file.clone());
                let mut s = ContainerStatus::new(&name, "", &file);
                s.state = State::Invalid;
                s.last_error = Some(e.to_string());
                s
            })
            .collect();
        if let Ok(mut slot) = self.invalid.lock() {
            *slot = invalid;
        }

        let mut containers = self.containers.lock().await;
        let wanted: BTreeMap<String, Manifest> = loaded
            .manifests
            .into_iter()
            .map(|m| (m.name.clone(), m))
            .collect();
        if let Ok(mut modes) = self.shared.network_modes.lock() {
            for (name, m) in &wanted {
                modes.insert(name.clone(), m.network.clone());
            }
        }
        // A typo must not destroy a running container, its data or its
        // image: containers whose manifest file now has an error are kept
        // as they are (and so is whatever a previous paddockd left running
        // under that file's name).
        let broken_files: Vec<&std::path::Path> =
            loaded.errors.iter().map(|e| e.file.as_path()).collect();
        let mut protected: std::collections::BTreeSet<String> = containers
            .values()
            .filter(|h| broken_files.contains(&h.manifest.source.as_path()))
            .map(|h| h.manifest.name.clone())
            .collect();
        protected.extend(
            broken_files
                .iter()
                .filter_map(|f| f.file_stem())
                .map(|s| s.to_string_lossy().into_owned()),
        );

        // Removed or changed: stop and delete.
        let names: Vec<String> = containers.keys().cloned().collect();
        for name in names {
            if protected.contains(&name) && !wanted.contains_key(&name) {
                report.kept.push(name);
                continue;
            }
            let changed = match wanted.get(&name) {
                None => true,
                Some(m) => containers.get(&name).is_some_and(|h| &h.manifest != m),
            };
            if !changed {
                report.unchanged.push(name);
                continue;
            }
            if let Some(handle) = containers.remove(&name) {
                handle.request(container::Command::Remove).await;
                let _ = handle.task.await;
                if wanted.contains_key(&name) {
                    report.recreated.push(name.clone());
                } else {
                    report.removed.push(name.clone());
                    if let Ok(mut s) = self.shared.statuses.lock() {
                        s.remove(&name);
                    }
                    if let Ok(mut l) = self.logs.lock() {
                        l.remove(&name);
                    }
                }
            }
        }

        // Monitors left running by a previous paddockd for containers no
        // manifest declares any more.
        self.remove_orphans(&wanted, &protected).await;
        let keep: std::collections::BTreeSet<String> = wanted
            .keys()
            .chain(protected.iter())
            .chain(containers.keys())
            .cloned()
            .collect();
        if let Err(e) = self.shared.network.reconcile(&keep).await {
            tracing::error!(error = %e, "reconciling the network");
            report.errors.push(format!("network: {e}"));
        }

        // New (and recreated) ones, in dependency order.
        let ordered: Vec<Manifest> =
            manifest::start_order(&wanted.values().cloned().collect::<Vec<_>>())
                .into_iter()
                .flatten()
                .filter_map(|name| wanted.get(&name).cloned())
                .collect();
        for m in ordered {
            if containers.contains_key(&m.name) {
                continue;
            }
            if !report.recreated.contains(&m.name) {
                report.started.push(m.name.clone());
            }
            let logs = self.log_buffer(&m.name);
            let handle = ContainerHandle::spawn(self.shared.clone(), m.clone(), logs);
            if let Ok(mut s) = self.shared.statuses.lock() {
                s.insert(m.name.clone(), handle.status.clone());
            }
            containers.insert(m.name.clone(), handle);
        }
        drop(containers);

        if self.shared.config.auto_prune && protected.is_empty() {
            let keep: Vec<String> = wanted.values().map(|m| m.image.clone()).collect();
            match self.shared.store.prune(&keep).await {
                Ok(r) => tracing::debug!(report = ?r, "pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning the image store"),
            }
        }
        report
    }

    fn log_buffer(&self, name: &str) -> Arc<LogBuffer> {
        let capacity = self.shared.config.logs.buffer_lines;
        match self.logs.lock() {
            Ok(mut logs) => logs
                .entry(name.to_string())
                .or_insert_with(|| Arc::new(LogBuffer::new(capacity)))
                .clone(),
            Err(_) => Arc::new(LogBuffer::new(capacity)),
        }
    }

    /// Stops monitors found in /run/paddock/monitors whose container is not
    /// declared, and deletes what those containers left.
    async fn remove_orphans(
        &self,
        wanted: &BTreeMap<String, Manifest>,
        protected: &std::collections::BTreeSet<String>,
    ) {
        let mut names = std::collections::BTreeSet::new();
        for dir in [
            self.shared.paths.run_paddock().join("monitors"),
            self.shared.paths.store().join("containers"),
        ] {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    names.insert(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        for name in names {
            if wanted.contains_key(&name) || protected.contains(&name) {
                continue;
            }
            tracing::info!(container = %name, "not declared any more: removing");
            container::remove_orphan(&self.shared, &name).await;
        }
    }

    /// Every container's status, the invalid manifests included.
    pub fn list(&self) -> Vec<ContainerStatus> {
        let mut out: Vec<ContainerStatus> = match self.shared.statuses.lock() {
            Ok(s) => s.values().map(|rx| rx.borrow().clone()).collect(),
            Err(_) => Vec::new(),
        };
        if let Ok(invalid) = self.invalid.lock() {
            out.extend(invalid.iter().cloned());
        }
        for s in &mut out {
            s.memory_bytes = match (s.state, s.pid) {
                (State::Running | State::Stopping, Some(pid)) => memory::of_process(pid),
                _ => None,
            };
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub fn status(&self, name: &str) -> Option<ContainerStatus> {
        self.list().into_iter().find(|s| s.name == name)
    }

    pub fn logs(&self, name: &str) -> Option<Arc<LogBuffer>> {
        self.logs.lock().ok()?.get(name).cloned()
    }

    /// Sends a start/stop/restart to a container; `false` if there is none.
    pub async fn command(
        &self,
        name: &str,
        make: fn(tokio::sync::oneshot::Sender<()>) -> container::Command,
    ) -> bool {
        // Not holding the lock while the container obeys: a stop can take
        // its whole grace period.
        let commands = {
            let containers = self.containers.lock().await;
            match containers.get(name) {
                Some(handle) => handle.commands.clone(),
                None => return false,
            }
        };
        container::request(&commands, make).await
    }

    /// Stops every container — not as the user's stop: the next paddockd
    /// starts them again — or, with `keep_running`, lets go of them so a new
    /// paddockd re-adopts them; waits for the tasks to finish.
    pub async fn shutdown(&self, keep_running: bool) {
        let mut containers = self.containers.lock().await;
        let mut handles = std::mem::take(&mut *containers);
        // Dependants first, as compose stops them.
        let manifests: Vec<Manifest> = handles.values().map(|h| h.manifest.clone()).collect();
        let mut layers = manifest::start_order(&manifests);
        layers.reverse();
        layers.push(handles.keys().cloned().collect());
        for layer in layers {
            let stops = layer
                .iter()
                .filter_map(|name| handles.remove(name))
                .map(|h| async move {
                    if keep_running {
                        h.request(container::Command::Detach).await;
                    } else {
                        h.request(container::Command::Shutdown).await;
                    }
                    let _ = h.task.await;
                });
            futures_util::future::join_all(stops).await;
        }
    }

    /// Keeps every container's /etc/resolv.conf, /etc/hosts and /etc/hostname
    /// copy current with the host's.
    fn spawn_etc_keeper(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(sup) = weak.upgrade() else { return };
                let containers = sup.containers.lock().await;
                for (name, handle) in containers.iter() {
                    let files = EtcFiles::for_container(&sup.shared.paths, name);
                    if !files.hosts.exists() {
                        continue;
                    }
                    let content = container::etc_content(&sup.shared, &handle.manifest).await;
                    match files.write(&content) {
                        Ok(true) => tracing::info!(container = %name, "updated /etc files"),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(container = %name, error = %e, "updating /etc files")
                        }
                    }
                }
            }
        });
    }
}
