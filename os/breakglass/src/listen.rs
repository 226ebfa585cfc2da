//! Where connections come from: fixed addresses (`--listen`, for tests),
//! or every loopback/private/link-local address of the device, re-checked
//! every few seconds because DHCP brings addresses later (and takes them
//! away). Each accepted connection runs as its own russh session.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use russh::server::Config;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

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
        tracing::info!(addr = %a, "listening");
        tasks.push(tokio::spawn(accept(l, config.clone(), ctx.clone())));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// Serves on every private address with `port`, following address changes.
pub async fn private(port: u16, config: Arc<Config>, ctx: Arc<Context>) -> anyhow::Result<()> {
    let mut bound: HashMap<SocketAddr, JoinHandle<()>> = HashMap::new();
    // Addresses that failed to bind, so each failure is logged once.
    let mut failed: HashMap<SocketAddr, String> = HashMap::new();
    loop {
        match paddock_init::addresses::private(port) {
            Ok(now) => {
                let wanted: Vec<SocketAddr> = now.iter().map(|a| a.addr).collect();
                bound.retain(|addr, task| {
                    let keep = wanted.contains(addr) && !task.is_finished();
                    if !keep {
                        tracing::info!(addr = %addr, "address gone; not listening there any more");
                        task.abort();
                    }
                    keep
                });
                failed.retain(|addr, _| wanted.contains(addr));
                for a in now {
                    if bound.contains_key(&a.addr) {
                        continue;
                    }
                    match TcpListener::bind(a.addr).await {
                        Ok(l) => {
                            tracing::info!(addr = %a.addr, interface = %a.interface, "listening");
                            failed.remove(&a.addr);
                            bound.insert(
                                a.addr,
                                tokio::spawn(accept(l, config.clone(), ctx.clone())),
                            );
                        }
                        Err(e) => {
                            let msg = e.to_string();
                            if failed.get(&a.addr) != Some(&msg) {
                                tracing::warn!(addr = %a.addr, interface = %a.interface, "cannot listen: {msg}");
                                failed.insert(a.addr, msg);
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("listing addresses: {e}"),
        }
        tokio::time::sleep(RESCAN).await;
    }
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
