//! paddock-breakglass: an SSH server for getting into a paddock device when
//! something is wrong. Public-key authentication only (keys from
//! `/perm/breakglass.authorized_keys`), commands run directly (no shell
//! needed on the device), with a pty when the client asks for one.

mod command;
mod keys;
mod listen;
mod pty;
mod server;
mod session;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "paddock-breakglass", version, about)]
struct Args {
    /// OpenSSH authorized_keys file; read again for every connection.
    #[arg(long, default_value = "/perm/breakglass.authorized_keys")]
    authorized_keys: PathBuf,
    /// The host key (OpenSSH format); an ed25519 key is generated there
    /// (with PATH.pub next to it) when the file does not exist.
    #[arg(long, default_value = "/perm/breakglass.host_key")]
    host_key: PathBuf,
    /// Port to listen on, on every loopback, private and link-local
    /// address (re-checked every few seconds).
    #[arg(long, default_value_t = 22)]
    port: u16,
    /// Listen on exactly these addresses instead (repeatable).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// Where commands (and `sh`/`busybox` for shell requests) are looked
    /// up; also the programs' PATH.
    #[arg(long, default_value = command::PATH)]
    path: String,
}

fn main() -> anyhow::Result<()> {
    paddock_sys::logging::Logging::from_env("RUST_LOG", "info,russh=warn")
        .with_target(true)
        .init();
    let args = Args::parse();
    let host_key = keys::host_key(&args.host_key)
        .with_context(|| format!("host key {}", args.host_key.display()))?;
    tracing::info!(
        path = %args.host_key.display(),
        fingerprint = %keys::fingerprint(host_key.public_key()),
        "host key"
    );
    let config = Arc::new(server::config(host_key));
    let ctx = Arc::new(server::Context {
        authorized_keys: args.authorized_keys,
        path: args.path.into(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    rt.block_on(async move {
        if args.listen.is_empty() {
            listen::private(args.port, config, ctx).await
        } else {
            listen::fixed(&args.listen, config, ctx).await
        }
    })
}
