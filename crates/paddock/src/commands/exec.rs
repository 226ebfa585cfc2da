//! `paddock exec [-i] [-t] NAME -- CMD…`: a command inside a running
//! container, over paddockd's upgraded exec connection (docs/api.md) —
//! its socket, or a device's `/api/v1` proxy with `--host`: the frames are
//! the same either way. With `-t` the window size goes first and again on
//! every SIGWINCH.

use std::os::fd::AsFd;

use hyper_util::rt::TokioIo;
use paddock_wire::api::frames::{read_frame, write_frame, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};

use crate::client::Client;
use crate::terminal::{self, RawMode};

pub async fn run(
    client: &Client,
    name: &str,
    command: Vec<String>,
    interactive: bool,
    tty: bool,
    env: Vec<String>,
) -> anyhow::Result<i32> {
    let path = format!(
        "/v1/containers/{}/exec",
        paddock_wire::api::path::percent_encode(name)
    );
    let body = serde_json::to_value(paddock_wire::api::exec::ExecRequest {
        cmd: command,
        tty,
        env,
    })?;
    let resp = client.send("POST", &path, Some(body), true).await?;
    let status = resp.status();
    if status != hyper::StatusCode::SWITCHING_PROTOCOLS {
        use http_body_util::BodyExt;
        let bytes = resp.into_body().collect().await?.to_bytes();
        anyhow::bail!("{}", crate::client::error_message(status, &bytes));
    }
    let upgraded = TokioIo::new(hyper::upgrade::on(resp).await?);
    let (mut reader, mut writer) = tokio::io::split(upgraded);

    let _raw = if tty && terminal::is_terminal() {
        RawMode::enable()
    } else {
        None
    };
    let (frames_tx, mut frames_rx) = tokio::sync::mpsc::channel::<Frame>(16);
    if tty {
        if let Some((rows, cols)) = terminal::window_size(std::io::stdout().as_fd()) {
            let _ = frames_tx.send(Frame::Resize { rows, cols }).await;
        }
        let tx = frames_tx.clone();
        let mut winch = signal(SignalKind::window_change())?;
        tokio::spawn(async move {
            while winch.recv().await.is_some() {
                if let Some((rows, cols)) = terminal::window_size(std::io::stdout().as_fd()) {
                    if tx.send(Frame::Resize { rows, cols }).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
    if interactive {
        let tx = frames_tx.clone();
        tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 8192];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(Frame::StdinEof).await;
                        return;
                    }
                    Ok(n) => {
                        if tx.send(Frame::Stdin(buf[..n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    } else {
        let _ = frames_tx.send(Frame::StdinEof).await;
    }
    drop(frames_tx);
    tokio::spawn(async move {
        while let Some(frame) = frames_rx.recv().await {
            if write_frame(&mut writer, &frame).await.is_err() {
                return;
            }
        }
    });

    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    loop {
        match read_frame(&mut reader).await? {
            Some(Frame::Stdout(d)) => {
                stdout.write_all(&d).await?;
                stdout.flush().await?;
            }
            Some(Frame::Stderr(d)) => {
                stderr.write_all(&d).await?;
                stderr.flush().await?;
            }
            Some(Frame::Exit(code)) => return Ok(code),
            Some(Frame::Error(message)) => anyhow::bail!("{message}"),
            Some(_) => {}
            None => anyhow::bail!(
                "{} closed the exec session without an exit code",
                client.peer()
            ),
        }
    }
}
