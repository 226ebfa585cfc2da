//! The listeners: the unix socket, and TCP on fixed addresses or on every
//! private address (re-checked every few seconds: binding new addresses
//! as DHCP or SLAAC adds them, dropping vanished ones). The certificate is
//! the one in /perm/web (the owner's own), else the image's
//! /etc/paddock/tls; with one, the device serves HTTPS on `https_port` and
//! its plain port only redirects there.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::TlsAcceptor;

use super::peer::Peer;
use super::state::AppState;
use super::{redirect, routes, serve, tls, Listen, WebConfig};
use paddock_sys::addresses;

const RECHECK: Duration = Duration::from_secs(3);

pub async fn run(config: WebConfig) {
    let state = AppState::new(&config);
    let router = routes::router(state);
    if config.password_hash.is_none() {
        tracing::warn!("web: no update_password_hash in system.json: every TCP request gets 401");
    }
    let mut tls = None;
    for dir in ["perm/web", "etc/paddock/tls"] {
        match tls::load(&config.root.join(dir)) {
            Ok(Some(t)) => {
                tracing::info!(certificate = %config.root.join(dir).display(), "web: TLS");
                tls = Some(t);
                break;
            }
            Ok(None) => {}
            Err(e) => tracing::error!("web: {e}"),
        }
    }
    if tls.is_none() {
        tracing::warn!("web: no certificate: serving plain HTTP (the password crosses the network in the clear)");
    }
    let unix = config.root.join("run/paddock/web.sock");
    match bind_unix(&unix) {
        Ok(l) => {
            tokio::spawn(accept_unix(l, router.clone()));
        }
        Err(e) => tracing::warn!("web: {}: {e}", unix.display()),
    }
    match config.listen {
        Listen::Fixed(addrs) => {
            let mut tasks = Vec::new();
            for addr in addrs {
                match TcpListener::bind(addr).await {
                    Ok(l) => {
                        tracing::info!(%addr, tls = tls.is_some(), "web: listening");
                        tasks.push(tokio::spawn(accept_tcp(l, router.clone(), tls.clone())));
                    }
                    Err(e) => tracing::error!("web: bind {addr}: {e}"),
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        }
        Listen::Private(port) => match (tls, config.https_port) {
            (Some(tls), Some(https)) => {
                tracing::info!(https, http = port, "web: HTTPS; plain HTTP redirects");
                tokio::spawn(watch(port, redirect::router(https), None));
                watch(https, router, Some(tls)).await
            }
            (tls, _) => watch(port, router, tls).await,
        },
    }
}

fn bind_unix(path: &Path) -> std::io::Result<UnixListener> {
    let listener = paddock_sys::unix_socket::bind_private(path)?;
    listener.set_nonblocking(true)?;
    UnixListener::from_std(listener)
}

async fn watch(port: u16, router: Router, tls: Option<TlsAcceptor>) {
    addresses::follow(port, RECHECK, "web", |l| {
        tokio::spawn(accept_tcp(l, router.clone(), tls.clone()))
    })
    .await;
}

async fn accept_tcp(listener: TcpListener, router: Router, tls: Option<TlsAcceptor>) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("web: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let peer = Peer::Tcp(addr);
        match &tls {
            None => {
                tokio::spawn(serve::connection(stream, peer, router));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor.accept(stream).await {
                        Ok(s) => serve::connection(s, peer, router).await,
                        Err(e) => tracing::debug!(%addr, "web: tls handshake: {e}"),
                    }
                });
            }
        }
    }
}

async fn accept_unix(listener: UnixListener, router: Router) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve::connection(stream, Peer::Unix, router.clone()));
            }
            Err(e) => {
                tracing::warn!("web: accept on the unix socket: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
