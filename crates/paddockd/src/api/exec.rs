//! `POST /v1/containers/NAME/exec`: run a command inside a running container.
//!
//! The request body is JSON (`cmd`, `tty`, `env`); the connection is then
//! upgraded (`Upgrade: paddock-exec`) and carries [`Frame`]s both ways. With a
//! tty, `paddock-runner exec --console-socket` hands paddockd the pty master,
//! which paddockd relays and resizes; without, stdin/stdout/stderr are pipes.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use paddock_wire::api::exec::ExecRequest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::respond::{full, read_json, ApiError, ApiResult};
use crate::supervisor::Supervisor;
use paddock_wire::api::frames::{read_frame, write_frame, Frame};
use paddock_wire::api::status::State;

pub async fn exec(sup: &Arc<Supervisor>, mut req: Request<Incoming>, name: &str) -> ApiResult {
    let status = sup
        .status(name)
        .ok_or_else(|| ApiError::NotFound(format!("no container named {name:?}")))?;
    if status.state != State::Running {
        return Err(ApiError::BadRequest(format!(
            "container {name} is not running (it is {:?})",
            status.state
        )));
    }
    let upgrade = hyper::upgrade::on(&mut req);
    let body: ExecRequest = read_json(req).await?;
    if body.cmd.is_empty() {
        return Err(ApiError::BadRequest("cmd must not be empty".into()));
    }
    let env: Vec<(String, String)> = body
        .env
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let runner = sup.shared().runner.clone();
    let console_dir = sup.paths().run_paddock().join("exec");
    let name = name.to_string();
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(u) => TokioIo::new(u),
            Err(e) => {
                tracing::warn!(error = %e, "exec upgrade failed");
                return;
            }
        };
        let result = if body.tty {
            run_tty(upgraded, &console_dir, |socket| {
                runner.exec_command(&name, &body.cmd, true, Some(socket), &env)
            })
            .await
        } else {
            let mut cmd = runner.exec_command(&name, &body.cmd, false, None, &env);
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            run_pipes(upgraded, cmd).await
        };
        if let Err(e) = result {
            tracing::debug!(container = %name, error = %e, "exec session ended");
        }
    });
    let mut r = Response::new(full(Vec::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    r.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("upgrade"),
    );
    r.headers_mut().insert(
        hyper::header::UPGRADE,
        hyper::header::HeaderValue::from_static("paddock-exec"),
    );
    Ok(r)
}

/// Exit code of a finished runner process.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

async fn run_pipes<S>(conn: S, mut cmd: tokio::process::Command) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, writer) = tokio::io::split(conn);
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let Some(mut child) = spawn_runner(&mut cmd, &writer).await? else {
        return Ok(());
    };
    let mut stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let runner_pid = child.id();
    let exited = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let exited_seen = exited.clone();
    let input = tokio::spawn(async move {
        while let Ok(Some(frame)) = read_frame(&mut reader).await {
            match frame {
                Frame::Stdin(data) => {
                    if let Some(s) = stdin.as_mut() {
                        if s.write_all(&data).await.is_err() {
                            stdin = None;
                        }
                    }
                }
                Frame::StdinEof => stdin = None,
                _ => {}
            }
        }
        if !exited_seen.load(std::sync::atomic::Ordering::SeqCst) {
            hang_up(runner_pid);
        }
    });
    let out = pump(stdout, writer.clone(), Frame::Stdout);
    let err = pump(stderr, writer.clone(), Frame::Stderr);
    let (_, _, status) = tokio::join!(out, err, child.wait());
    finish(&exited, input, status, &writer).await
}

/// Spawns the runner; if that fails, tells the client (error, then exit).
async fn spawn_runner<W: AsyncWrite + Unpin>(
    cmd: &mut tokio::process::Command,
    writer: &tokio::sync::Mutex<W>,
) -> std::io::Result<Option<tokio::process::Child>> {
    match cmd.spawn() {
        Ok(child) => Ok(Some(child)),
        Err(e) => {
            let mut w = writer.lock().await;
            write_frame(
                &mut *w,
                &Frame::Error(format!("spawning paddock-runner: {e}")),
            )
            .await?;
            write_frame(&mut *w, &Frame::Exit(-1)).await?;
            Ok(None)
        }
    }
}

/// Copies a pipe into frames until it ends.
async fn pump<R, W>(
    source: Option<R>,
    writer: Arc<tokio::sync::Mutex<W>>,
    make: fn(Vec<u8>) -> Frame,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some(mut source) = source else { return };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match source.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut w = writer.lock().await;
                if write_frame(&mut *w, &make(buf[..n].to_vec()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

async fn run_tty<S>(
    conn: S,
    console_dir: &std::path::Path,
    make_command: impl FnOnce(&std::path::Path) -> tokio::process::Command,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    std::fs::create_dir_all(console_dir)?;
    let socket_dir = tempfile::Builder::new()
        .prefix("tty-")
        .tempdir_in(console_dir)?;
    let socket_path = socket_dir.path().join("console.sock");
    let listener = tokio::net::UnixListener::bind(&socket_path)?;
    let mut cmd = make_command(&socket_path);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut reader, writer) = tokio::io::split(conn);
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let Some(mut child) = spawn_runner(&mut cmd, &writer).await? else {
        return Ok(());
    };
    let runner_pid = child.id();
    let exited = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let exited_seen = exited.clone();
    let master = tokio::select! {
        accepted = listener.accept() => {
            let (stream, _) = accepted?;
            let std_stream = stream.into_std()?;
            tokio::task::spawn_blocking(move || receive_fd(&std_stream)).await.map_err(std::io::Error::other)??
        }
        out = early_exit(&mut child) => {
            let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
            let mut w = writer.lock().await;
            write_frame(&mut *w, &Frame::Error(format!("exec failed: {message}"))).await?;
            write_frame(&mut *w, &Frame::Exit(out.code)).await?;
            return Ok(());
        }
    };
    drop(socket_dir);
    let master_file = std::fs::File::from(master);
    let mut master_write = tokio::fs::File::from_std(master_file.try_clone()?);
    let master_read = tokio::fs::File::from_std(master_file);
    let input = tokio::spawn(async move {
        while let Ok(Some(frame)) = read_frame(&mut reader).await {
            match frame {
                Frame::Stdin(data) => {
                    if master_write.write_all(&data).await.is_err() {
                        break;
                    }
                    let _ = master_write.flush().await;
                }
                Frame::Resize { rows, cols } => {
                    let size = paddock_sys::terminal::window(rows, cols);
                    // A pty that is gone only makes the ioctl fail.
                    let _ = paddock_sys::terminal::set_window_size(master_write.as_fd(), &size);
                }
                _ => {}
            }
        }
        // The client is gone: hang up, as a closed terminal would.
        if !exited_seen.load(std::sync::atomic::Ordering::SeqCst) {
            hang_up(runner_pid);
        }
    });
    // Output is relayed while the process runs (a full pty would otherwise
    // block it); once it has exited the rest is drained briefly.
    let out = pump(Some(master_read), writer.clone(), Frame::Stdout);
    tokio::pin!(out);
    let status = tokio::select! {
        status = child.wait() => {
            let _ = tokio::time::timeout(std::time::Duration::from_millis(200), &mut out).await;
            status
        }
        _ = &mut out => child.wait().await,
    };
    finish(&exited, input, status, &writer).await
}

/// The process is done: stop reading the client, send its exit code last
/// and close.
async fn finish<W: AsyncWrite + Unpin>(
    exited: &std::sync::atomic::AtomicBool,
    input: tokio::task::JoinHandle<()>,
    status: std::io::Result<std::process::ExitStatus>,
    writer: &tokio::sync::Mutex<W>,
) -> std::io::Result<()> {
    exited.store(true, std::sync::atomic::Ordering::SeqCst);
    input.abort();
    let code = status.map(exit_code).unwrap_or(-1);
    let mut w = writer.lock().await;
    write_frame(&mut *w, &Frame::Exit(code)).await?;
    w.shutdown().await
}

/// SIGHUP to the runner, which forwards it to the exec'd process.
fn hang_up(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGHUP,
        );
    }
}

/// Receives one file descriptor sent with SCM_RIGHTS.
fn receive_fd(stream: &std::os::unix::net::UnixStream) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    stream.set_nonblocking(false)?;
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .map_err(std::io::Error::from)?;
    for cmsg in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor in our
                // table for us (SCM_RIGHTS); nothing else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(std::io::Error::other(
        "the runtime sent no pty on the console socket",
    ))
}

/// What a runner that failed before sending a pty said.
struct EarlyExit {
    code: i32,
    stderr: Vec<u8>,
}

async fn early_exit(child: &mut tokio::process::Child) -> EarlyExit {
    let mut stderr = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr).await;
    }
    let code = child.wait().await.map(exit_code).unwrap_or(-1);
    EarlyExit { code, stderr }
}
