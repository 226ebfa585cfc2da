//! Diagnostics set up from runc's global options: `--log FILE` (default stderr),
//! `--log-format text|json`, `--debug`; `RUST_LOG` overrides the level.

use std::fs::OpenOptions;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber.
pub fn init(opts: &liboci_cli::GlobalOpts) -> Result<()> {
    let default = if opts.debug {
        "debug"
    } else {
        // libcontainer warns about things that are normal here (absent cgroup
        // controllers, ambient capabilities it may not raise).
        "error,paddock_runner=warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let json = match opts.log_format.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => bail!("unknown --log-format {other:?} (expected text or json)"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    match &opts.log {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("open log file {}", path.display()))?;
            let writer = Mutex::new(file);
            if json {
                builder.json().with_writer(writer).init();
            } else {
                builder.with_writer(writer).init();
            }
        }
        None => {
            if json {
                builder.json().with_writer(std::io::stderr).init();
            } else {
                builder.with_writer(std::io::stderr).init();
            }
        }
    }
    Ok(())
}
