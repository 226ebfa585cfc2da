//! Where connections come from: fixed addresses (`--listen`, for tests;
//! port 0 picks a free one and logs it),
//! or every loopback/private/link-local address of the device, re-checked
//! every few seconds because DHCP brings addresses later (and takes them
//! away). Each accepted connection runs as its own russh session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use russh::server::Config;
use tokio::net::TcpListener;

use crate::server::{Conn, Context};

const RESCAN: Duration = Duration::from_secs(3);

/// Serves on exactly these addresses; fails if one cannot be bound.
pub async fn fixed(
    addrs: &[SocketAddr],
    config: Arc<Config>,
    ctx: Arc<Context>,
) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for a in addrs {
        let l = TcpListener::bind(a)
            .await
            .with_context(|| format!("listening on {a}"))?;
        // With port 0 the kernel picks one; the log says which (tests read it).
        let bound = l.local_addr().unwrap_or(*a);
        tracing::info!(addr = %bound, "listening");
        tasks.push(tokio::spawn(accept(l, config.clone(), ctx.clone())));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// Serves on every private address with `port`, following address changes.
pub async fn private(port: u16, config: Arc<Config>, ctx: Arc<Context>) -> anyhow::Result<()> {
    paddock_sys::addresses::follow(port, RESCAN, "breakglass", |l| {
        tokio::spawn(accept(l, config.clone(), ctx.clone()))
    })
    .await;
    Ok(())
}

async fn accept(l: TcpListener, config: Arc<Config>, ctx: Arc<Context>) {
    loop {
        let (stream, peer) = match l.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: wait instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = Conn::new(&ctx, peer);
        let config = config.clone();
        tokio::spawn(async move {
            match russh::server::run_stream(config, stream, handler).await {
                Ok(session) => {
                    if let Err(e) = session.await {
                        tracing::info!(%peer, "connection ended: {e}");
                    }
                }
                Err(e) => tracing::info!(%peer, "handshake failed: {e}"),
            }
        });
    }
}
