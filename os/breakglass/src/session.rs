//! One session channel: collect the pty and env requests, then run the
//! exec or shell request's program, with pipes or on a pty, and pass bytes
//! both ways until it exits; then exit-status (or exit-signal), EOF, close.
//! The client closing the channel hangs up the program's session.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use russh::server::{Handle, Msg};
use russh::{Channel, ChannelId, ChannelMsg, Sig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use crate::command::{self, Program};
use crate::pty;

/// After the program exits, how long a pty's output may still take to
/// drain (a background process holding the terminal keeps it open).
const PTY_DRAIN: Duration = Duration::from_millis(500);
/// Between SIGHUP and SIGKILL when the client goes away.
const HANGUP_GRACE: Duration = Duration::from_secs(3);

/// Environment variables a client may set (as OpenSSH's default
/// `AcceptEnv LANG LC_*`).
pub fn env_allowed(name: &str) -> bool {
    name == "LANG" || name.starts_with("LC_")
}

struct PtyRequest {
    term: String,
    cols: u32,
    rows: u32,
    px_w: u32,
    px_h: u32,
}

enum Request {
    Exec(String),
    Shell,
}

/// Runs the session on `channel` until it closes.
pub async fn run(
    mut channel: Channel<Msg>,
    handle: Handle,
    peer: SocketAddr,
    who: Arc<str>,
    path: Arc<str>,
) {
    let id = channel.id();
    let mut pty_req = None;
    let mut env = BTreeMap::new();
    let mut early_eof = false;
    let request = loop {
        match channel.wait().await {
            None | Some(ChannelMsg::Close) => return,
            Some(ChannelMsg::RequestPty {
                term,
                col_width,
                row_height,
                pix_width,
                pix_height,
                ..
            }) => {
                pty_req = Some(PtyRequest {
                    term,
                    cols: col_width,
                    rows: row_height,
                    px_w: pix_width,
                    px_h: pix_height,
                })
            }
            Some(ChannelMsg::SetEnv {
                variable_name,
                variable_value,
                ..
            }) if env_allowed(&variable_name) => {
                env.insert(variable_name, variable_value);
            }
            Some(ChannelMsg::Exec { command, .. }) => {
                break Request::Exec(String::from_utf8_lossy(&command).into_owned())
            }
            Some(ChannelMsg::RequestShell { .. }) => break Request::Shell,
            Some(ChannelMsg::Eof) => early_eof = true,
            Some(_) => {}
        }
    };
    let program = match &request {
        Request::Exec(line) => command::exec(line, &path),
        Request::Shell => command::shell(&path),
    };
    let what = match &request {
        Request::Exec(line) => line.as_str(),
        Request::Shell => "(shell)",
    };
    tracing::info!(%peer, %who, command = what, pty = pty_req.is_some(), "session");
    let program = match program {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(%peer, %who, command = what, "{e}");
            let nl = if pty_req.is_some() { "\r\n" } else { "\n" };
            let msg = format!("paddock-breakglass: {e}{nl}");
            let _ = handle.extended_data(id, 1, msg.into_bytes()).await;
            finish(&handle, id, Exit::Status(e.exit_status())).await;
            return;
        }
    };
    if let Some(t) = &pty_req {
        env.insert("TERM".into(), t.term.clone());
    }
    env.insert("PATH".into(), path.to_string());
    env.insert("HOME".into(), "/".into());
    env.insert("USER".into(), "root".into());
    env.insert("LOGNAME".into(), "root".into());
    env.insert(
        "SSH_CONNECTION".into(),
        format!("{} {} 0 0", peer.ip(), peer.port()),
    );
    let result = match pty_req {
        Some(p) => run_pty(&mut channel, &program, env, p).await,
        None => run_pipes(&mut channel, &program, env, early_eof).await,
    };
    match result {
        Ok(Some(exit)) => {
            tracing::info!(%peer, %who, command = what, "{}", exit.describe());
            finish(&handle, id, exit).await
        }
        Ok(None) => tracing::info!(%peer, %who, command = what, "client closed the channel"),
        Err(e) => {
            tracing::warn!(%peer, %who, command = what, "cannot run: {e}");
            let msg = format!("paddock-breakglass: {}: {e}\r\n", program.path.display());
            let _ = handle.extended_data(id, 1, msg.into_bytes()).await;
            let status = if e.kind() == std::io::ErrorKind::PermissionDenied {
                126
            } else {
                127
            };
            finish(&handle, id, Exit::Status(status)).await;
        }
    }
}

enum Exit {
    Status(u32),
    Signal { name: String, core: bool },
}

impl Exit {
    fn from(status: ExitStatus) -> Self {
        if let Some(sig) = status.signal() {
            let name = Signal::try_from(sig)
                .map(|s| s.as_str().trim_start_matches("SIG").to_string())
                .unwrap_or_else(|_| sig.to_string());
            return Exit::Signal {
                name,
                core: status.core_dumped(),
            };
        }
        Exit::Status(status.code().unwrap_or(255) as u32)
    }

    fn describe(&self) -> String {
        match self {
            Exit::Status(s) => format!("exit status {s}"),
            Exit::Signal { name, .. } => format!("killed by SIG{name}"),
        }
    }
}

/// EOF, exit-status or exit-signal, close.
async fn finish(handle: &Handle, id: ChannelId, exit: Exit) {
    let _ = handle.eof(id).await;
    let _ = match exit {
        Exit::Status(s) => handle.exit_status_request(id, s).await,
        Exit::Signal { name, core } => {
            handle
                .exit_signal_request(id, Sig::Custom(name), core, String::new(), String::new())
                .await
        }
    };
    let _ = handle.close(id).await;
}

fn command(program: &Program, env: BTreeMap<String, String>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&program.path);
    if let Some((argv0, rest)) = program.argv.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear().envs(env).current_dir("/");
    cmd
}

/// The name a client's `signal` request gives, as a signal.
fn signal_of(sig: &Sig) -> Option<Signal> {
    let name = match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(c) => c.as_str(),
    };
    format!("SIG{name}").parse().ok()
}

/// Sends `sig` to the program's process group (it is a session leader).
fn signal_group(pid: Option<u32>, sig: Signal) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = killpg(Pid::from_raw(pid), sig);
    }
}

/// The client went away: SIGHUP to the program's group, SIGKILL after a
/// grace period if it is still there; reaped in the background.
fn hang_up(mut child: tokio::process::Child) {
    let pid = child.id();
    signal_group(pid, Signal::SIGHUP);
    tokio::spawn(async move {
        if tokio::time::timeout(HANGUP_GRACE, child.wait())
            .await
            .is_err()
        {
            signal_group(pid, Signal::SIGKILL);
            let _ = child.wait().await;
        }
    });
}

/// In the child before exec: whatever fds this server inherited or holds
/// (listening sockets, other sessions' ptys) must not leak into the
/// program. Marks fds from 3 up close-on-exec (close_range(2) with
/// CLOSE_RANGE_CLOEXEC, Linux 5.11), which keeps std's exec-error pipe
/// working. Only calls a syscall: async-signal-safe.
fn cloexec_inherited() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes fd flags; no memory is touched.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        );
    }
}

/// Copies the program's output to the channel until EOF. `to` is one of the
/// channel's writers, which wait for this channel's window: a client that
/// reads slowly (or not at all) stops this copy, and the program then blocks
/// on its full pipe, while the connection's other sessions go on (russh's
/// `Handle::data` would hold up every channel of the connection instead).
fn pump<R, W>(mut from: R, mut to: W) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            // No shutdown at the end: that would send EOF, which `finish`
            // sends once both stdout and stderr are done.
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    })
}

/// Without a pty: stdin, stdout and stderr are pipes; the client's EOF
/// closes stdin. Ok(None): the client closed the channel first.
async fn run_pipes(
    channel: &mut Channel<Msg>,
    program: &Program,
    env: BTreeMap<String, String>,
    early_eof: bool,
) -> std::io::Result<Option<Exit>> {
    let mut cmd = command(program, env);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid and close_range are async-signal-safe and touch no
    // memory of the parent: the child becomes a session (and group) leader.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            cloexec_inherited();
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop(cmd);
    let out = child.stdout.take().map(|o| pump(o, channel.make_writer()));
    let err = child
        .stderr
        .take()
        .map(|e| pump(e, channel.make_writer_ext(Some(1))));
    let pumps = [out, err].into_iter().flatten().collect::<Vec<_>>();
    let mut stdin_tx = None;
    if let Some(mut stdin) = child.stdin.take() {
        if !early_eof {
            let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
            stdin_tx = Some(tx);
            tokio::spawn(async move {
                while let Some(buf) = rx.recv().await {
                    if stdin.write_all(&buf).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
    let pid = child.id();
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            msg = channel.wait() => match msg {
                None | Some(ChannelMsg::Close) => {
                    pumps.iter().for_each(JoinHandle::abort);
                    hang_up(child);
                    return Ok(None);
                }
                Some(ChannelMsg::Data { data }) => {
                    if let Some(tx) = &stdin_tx {
                        if tx.send(data.to_vec()).await.is_err() {
                            stdin_tx = None;
                        }
                    }
                }
                Some(ChannelMsg::Eof) => stdin_tx = None,
                Some(ChannelMsg::Signal { signal }) => {
                    if let Some(s) = signal_of(&signal) {
                        signal_group(pid, s);
                    }
                }
                Some(_) => {}
            }
        }
    };
    // Everything the program (and what it left running) wrote comes
    // before the exit status, as with OpenSSH; unless the client goes away
    // first (its window would then never open again).
    let aborts: Vec<_> = pumps.iter().map(JoinHandle::abort_handle).collect();
    let drained = async {
        for p in pumps {
            let _ = p.await;
        }
    };
    tokio::select! {
        _ = drained => Ok(Some(Exit::from(status))),
        _ = closed(channel) => {
            aborts.iter().for_each(AbortHandle::abort);
            Ok(None)
        }
    }
}

/// Returns once the client has closed the channel, ignoring what else it
/// sends.
async fn closed(channel: &mut Channel<Msg>) {
    while !matches!(channel.wait().await, None | Some(ChannelMsg::Close)) {}
}

/// On a pty: the slave is the program's stdio and controlling terminal;
/// window changes resize it. Ok(None): the client closed the channel.
async fn run_pty(
    channel: &mut Channel<Msg>,
    program: &Program,
    env: BTreeMap<String, String>,
    req: PtyRequest,
) -> std::io::Result<Option<Exit>> {
    let pty = pty::open(req.cols, req.rows, req.px_w, req.px_h)?;
    let mut cmd = command(program, env);
    let stdio = |fd: &OwnedFd| fd.try_clone().map(Stdio::from);
    cmd.stdin(stdio(&pty.slave)?)
        .stdout(stdio(&pty.slave)?)
        .stderr(stdio(&pty.slave)?);
    // SAFETY: setsid, ioctl and close_range are async-signal-safe and touch
    // no memory of the parent: the child becomes a session leader and takes its
    // stdin (the pty slave) as controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            cloexec_inherited();
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    // Our copies of the slave must go, or the master never sees the end.
    drop(cmd);
    drop(pty.slave);
    let mut child = spawned?;
    let master = Arc::new(pty.master);
    let reader = {
        let master = master.clone();
        let mut to = channel.make_writer();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                let n = match master.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                // Waits for the client's window, as `pump` does.
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        })
    };
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    let writer = {
        let master = master.clone();
        tokio::spawn(async move {
            while let Some(buf) = rx.recv().await {
                if master.write_all(&buf).await.is_err() {
                    return;
                }
            }
        })
    };
    let pid = child.id();
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            msg = channel.wait() => match msg {
                None | Some(ChannelMsg::Close) => {
                    writer.abort();
                    reader.abort();
                    hang_up(child);
                    return Ok(None);
                }
                Some(ChannelMsg::Data { data }) => {
                    let _ = tx.send(data.to_vec()).await;
                }
                Some(ChannelMsg::WindowChange { col_width, row_height, pix_width, pix_height }) => {
                    if let Err(e) = master.resize(col_width, row_height, pix_width, pix_height) {
                        tracing::warn!("resizing the pty: {e}");
                    }
                }
                Some(ChannelMsg::Signal { signal }) => {
                    if let Some(s) = signal_of(&signal) {
                        signal_group(pid, s);
                    }
                }
                // EOF on a terminal means nothing (the user types ^D).
                Some(_) => {}
            }
        }
    };
    writer.abort();
    let mut reader = reader;
    if tokio::time::timeout(PTY_DRAIN, &mut reader).await.is_err() {
        reader.abort();
    }
    Ok(Some(Exit::from(status?)))
}
