//! A TCP proxy in front of a test registry that can slow responses down
//! (to interrupt a pull mid-download) and counts connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Proxy {
    port: u16,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Forwards 127.0.0.1:<new port> to `upstream`, sending at most
    /// `bytes_per_tick` bytes of each response every 10ms (None: no limit).
    pub async fn start(upstream: String, bytes_per_tick: Option<usize>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let _ = relay(client, server, bytes_per_tick).await;
                    }
                });
            }
        });
        Proxy {
            port,
            connections,
            task,
        }
    }

    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    per_tick: Option<usize>,
) -> std::io::Result<()> {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
    });
    let mut buf = vec![0u8; per_tick.unwrap_or(64 * 1024).max(1)];
    loop {
        let n = sr.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        cw.write_all(&buf[..n]).await?;
        if per_tick.is_some() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let _ = cw.shutdown().await;
    up.abort();
    Ok(())
}
