//! paddockd: waits for the clock, puts /var on /perm, pulls images and keeps
//! the containers declared in /etc/paddock/containers running.
//!
//! Signals: SIGTERM/SIGINT stop every container and exit; SIGHUP re-reads the
//! manifests (as `paddock apply`). A SIGKILLed paddockd leaves its containers
//! running; the next one re-adopts them.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};

use paddock_store::{Platform, PullOptions, RegistriesConfig, Store};
use paddock_wire::paths::Paths;
use paddockd::config::{self, DaemonConfig};
use paddockd::host::var_mount;
use paddockd::supervisor::Supervisor;

#[derive(Parser, Debug)]
#[command(version, about = "paddock's container supervisor")]
struct Args {
    /// Filesystem prefix for /etc/paddock, /perm, /var and /run (tests and
    /// demos use a temporary directory).
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Log filter (tracing's env-filter syntax), e.g. `info` or `paddockd=debug`.
    #[arg(long, env = "PADDOCKD_LOG", default_value = "info")]
    log: String,
}

/// Two paddockd on one root would both launch every container: the second
/// one refuses to start while the first holds this lock.
fn lock_instance(paths: &Paths) -> anyhow::Result<nix::fcntl::Flock<std::fs::File>> {
    let dir = paths.run_paddock();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("paddockd.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        anyhow::anyhow!(
            "another paddockd is running on {} ({}: {e})",
            paths.root().display(),
            path.display()
        )
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    paddock_sys::logging::Logging::with_filter(&args.log).init();
    // Signal handlers before anything is started.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;

    let root = args
        .root
        .canonicalize()
        .with_context(|| format!("--root {}", args.root.display()))?;
    let paths = Paths::new(root);
    let _only_one = lock_instance(&paths)?;
    let config: DaemonConfig = config::load_yaml(&paths.daemon_config())?;
    config.validate(&paths.daemon_config())?;
    let registries = RegistriesConfig::load(&paths.registries_config())?;

    if config.bind_var {
        var_mount::ensure_var_mount(&paths)?;
    }
    // Container root filesystems are overlays; on the appliance the
    // filesystem is a module.
    if let Err(error) = paddock_kmod::ensure_loaded(&["overlay"]) {
        tracing::error!(%error, "loading the overlay module: containers will not start");
    }
    let store = Arc::new(Store::open(&paths).context("opening the image store")?);
    paddock_store::import_preloaded(&paths.preload(), &store).await;
    let mut pull_options = PullOptions::new(registries);
    if let Some(platform) = &config.platform {
        let platform: Platform = platform
            .parse()
            .map_err(|e| anyhow::anyhow!("paddockd.yaml: platform {platform:?}: {e}"))?;
        pull_options = pull_options.with_platform(platform);
    }
    let supervisor = Supervisor::new(paths.clone(), config, store, pull_options)?;
    let api = paddockd::api::serve(supervisor.clone(), &paths.api_socket())
        .with_context(|| format!("listening on {}", paths.api_socket().display()))?;
    tracing::info!(socket = %paths.api_socket().display(), "API listening");

    let report = supervisor.apply().await;
    tracing::info!(started = ?report.started, errors = report.errors.len(), "manifests applied");

    loop {
        tokio::select! {
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sighup.recv() => {
                tracing::info!("SIGHUP: re-reading manifests");
                let report = supervisor.apply().await;
                tracing::info!(?report, "manifests applied");
            }
        }
    }
    tracing::info!("stopping all containers");
    supervisor.shutdown(false).await;
    api.abort();
    let _ = std::fs::remove_file(paths.api_socket());
    tracing::info!("stopped");
    Ok(())
}
