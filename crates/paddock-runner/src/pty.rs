//! Terminals: receiving the pty master a container sends over a console socket,
//! putting the caller's terminal in raw mode (restored on drop), and copying
//! window sizes.
//!
//! libcontainer opens the pty inside the container and sends the master over a
//! unix socket whose path it is given (runc's `--console-socket` protocol); when
//! the runner wants the master itself it listens on such a socket of its own.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use paddock_sys::terminal;

#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    #[error("listen on console socket {}", path.display())]
    Listen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no pty master arrived on console socket {} within {timeout:?}", path.display())]
    Timeout { path: PathBuf, timeout: Duration },
    #[error("wait for the pty master on the console socket")]
    Poll(#[source] nix::Error),
    #[error("accept on the console socket")]
    Accept(#[source] std::io::Error),
    #[error("receive the pty master")]
    Receive(#[source] nix::Error),
    #[error("the console socket connection carried no file descriptor")]
    NoFd,
    #[error("terminal attributes")]
    Termios(#[source] std::io::Error),
    #[error("window size")]
    WindowSize(#[source] std::io::Error),
}

/// A listening console socket.
pub struct ConsoleSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// Listens at `path` (an old file there is replaced).
    pub fn bind(path: &Path) -> Result<Self, PtyError> {
        let listen_err = |source| PtyError::Listen {
            path: path.to_owned(),
            source,
        };
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(listen_err(err)),
        }
        let listener = UnixListener::bind(path).map_err(listen_err)?;
        Ok(Self {
            path: path.to_owned(),
            listener,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits up to `timeout` for a connection and returns the fd it sends.
    pub fn receive_master(&self, timeout: Duration) -> Result<OwnedFd, PtyError> {
        let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(millis)).map_err(PtyError::Poll)?;
        if ready == 0 {
            return Err(PtyError::Timeout {
                path: self.path.clone(),
                timeout,
            });
        }
        let (conn, _) = self.listener.accept().map_err(PtyError::Accept)?;
        receive_fd(conn.as_raw_fd())
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn receive_fd(sock: RawFd) -> Result<OwnedFd, PtyError> {
    let mut name = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(PtyError::Receive)?;
    for cmsg in msg.cmsgs().map_err(PtyError::Receive)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            let mut fds = fds.into_iter();
            if let Some(fd) = fds.next() {
                for extra in fds {
                    // SAFETY: the kernel just installed `extra` in our table and
                    // nothing else owns it; wrapping it closes it.
                    drop(unsafe { OwnedFd::from_raw_fd(extra) });
                }
                // SAFETY: as above: a fresh fd that only we own.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(PtyError::NoFd)
}

/// The caller's terminal in raw mode (the old attributes come back on
/// drop), and whether an fd is a terminal: paddock_sys's.
pub use paddock_sys::terminal::{is_terminal as is_tty, RawMode};

/// Reads a terminal's window size.
pub fn window_size(fd: BorrowedFd<'_>) -> Result<libc::winsize, PtyError> {
    terminal::window_size(fd).map_err(PtyError::WindowSize)
}

/// Sets a terminal's window size.
pub fn set_window_size(fd: BorrowedFd<'_>, size: &libc::winsize) -> Result<(), PtyError> {
    terminal::set_window_size(fd, size).map_err(PtyError::WindowSize)
}

/// Copies the window size of `from` to `to`.
pub fn copy_window_size(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), PtyError> {
    set_window_size(to, &window_size(from)?)
}
