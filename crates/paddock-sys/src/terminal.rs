//! Terminals, for everything that relays one (`paddock exec -t`, the
//! runner's ptys, paddockd's exec, breakglass's sessions): window sizes
//! through TIOCGWINSZ/TIOCSWINSZ and raw mode that is undone on drop.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::sys::termios::{self, SetArg, Termios};

pub use libc::winsize as WindowSize;

/// A window size of `rows` × `cols` characters (no pixel sizes).
pub fn window(rows: u16, cols: u16) -> WindowSize {
    WindowSize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// The window size of the terminal on `fd`.
pub fn window_size(fd: BorrowedFd<'_>) -> io::Result<WindowSize> {
    let mut size = window(0, 0);
    // SAFETY: TIOCGWINSZ writes one `winsize` into the valid pointer we pass;
    // a stale or non-terminal fd only makes the ioctl fail.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size)
}

/// Sets the window size of the terminal on `fd` (the kernel sends SIGWINCH
/// to its foreground process group).
pub fn set_window_size(fd: BorrowedFd<'_>, size: &WindowSize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads one `winsize` from the valid pointer we pass;
    // a stale or non-terminal fd only makes the ioctl fail.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, size) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `fd` is a terminal.
pub fn is_terminal(fd: BorrowedFd<'_>) -> bool {
    termios::tcgetattr(fd).is_ok()
}

/// A terminal in raw mode; its settings are restored when this is dropped.
pub struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    /// Puts the terminal on `fd` in raw mode.
    pub fn enter(fd: BorrowedFd<'a>) -> io::Result<Self> {
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw)?;
        Ok(Self { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        if let Err(err) = termios::tcsetattr(self.fd, SetArg::TCSANOW, &self.saved) {
            tracing::warn!(%err, "could not restore the terminal");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_pty_keeps_the_size_it_is_given_and_raw_mode_is_undone() {
        let pty = nix::pty::openpty(None, None).unwrap();
        set_window_size(pty.master.as_fd(), &window(33, 111)).unwrap();
        let got = window_size(pty.slave.as_fd()).unwrap();
        assert_eq!((got.ws_row, got.ws_col), (33, 111));
        assert!(is_terminal(pty.slave.as_fd()));
        let before = termios::tcgetattr(pty.slave.as_fd()).unwrap();
        {
            let _raw = RawMode::enter(pty.slave.as_fd()).unwrap();
            let raw = termios::tcgetattr(pty.slave.as_fd()).unwrap();
            assert!(!raw.local_flags.contains(termios::LocalFlags::ECHO));
        }
        let after = termios::tcgetattr(pty.slave.as_fd()).unwrap();
        assert_eq!(before.local_flags, after.local_flags);
    }

    #[test]
    fn a_pipe_is_not_a_terminal() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(!is_terminal(r.as_fd()));
        assert!(window_size(r.as_fd()).is_err());
    }
}
