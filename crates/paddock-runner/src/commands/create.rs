//! `create`: set up a container from a bundle; its process waits for `start`.
//! [`create_container`] is shared with `run` and the monitor.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libcontainer::container::Container;

use super::Global;
use crate::container;

/// What `create_container` needs.
pub struct InitOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub no_pivot: bool,
    pub preserve_fds: i32,
    /// The container's stdin, stdout, stderr; `None` passes ours through.
    pub stdio: Option<[OwnedFd; 3]>,
}

pub fn run(global: &Global, args: &liboci_cli::Create) -> Result<()> {
    create_container(
        global,
        InitOptions {
            id: &args.container_id,
            bundle: &args.bundle,
            pid_file: args.pid_file.as_deref(),
            console_socket: args.console_socket.as_deref(),
            no_pivot: args.no_pivot,
            preserve_fds: args.preserve_fds,
            stdio: None,
        },
    )
    .map(drop)
}

/// Whether the bundle's config.json asks for a terminal.
pub fn wants_terminal(bundle: &Path) -> Result<bool> {
    let path = bundle.join("config.json");
    let spec =
        oci_spec::runtime::Spec::load(&path).with_context(|| format!("read {}", path.display()))?;
    Ok(spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false))
}

/// Creates the container (state `created`); on failure removes what was left.
pub fn create_container(global: &Global, opts: InitOptions<'_>) -> Result<Container> {
    let id = opts.id;
    if container::exists(&global.root, id) {
        bail!("container {id} already exists");
    }
    let bundle: PathBuf = opts
        .bundle
        .canonicalize()
        .with_context(|| format!("bundle {}", opts.bundle.display()))?;
    std::fs::create_dir_all(&global.root)
        .with_context(|| format!("create state root {}", global.root.display()))?;
    let result = build(global, &bundle, opts);
    if result.is_err() {
        if let Err(err) = container::discard(&global.root, id) {
            tracing::warn!(id, error = %err, "could not clean up after the failed create");
        }
    }
    result
}

fn build(global: &Global, bundle: &Path, opts: InitOptions<'_>) -> Result<Container> {
    let mut builder = container::builder(&global.root, opts.id)?
        .with_pid_file(opts.pid_file)
        .with_context(|| format!("pid file for container {}", opts.id))?
        .with_console_socket(opts.console_socket)
        .with_preserved_fds(opts.preserve_fds);
    if let Some([stdin, stdout, stderr]) = opts.stdio {
        builder = builder
            .with_stdin(stdin)
            .with_stdout(stdout)
            .with_stderr(stderr);
    }
    builder
        .as_init(bundle)
        .with_systemd(global.systemd)
        // libcontainer only uses `detach` to check the console socket: with it
        // set, a terminal needs a console socket and a console socket needs a
        // terminal. Foreground `run` brings its own socket, so that holds always.
        .with_detach(true)
        .with_no_pivot(opts.no_pivot)
        .build()
        .with_context(|| format!("create container {}", opts.id))
}
