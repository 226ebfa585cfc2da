//! Pseudo-terminals for sessions that asked for one: openpty(3) with the
//! client's window size, the slave as the child's stdio and controlling
//! terminal, the master read and written asynchronously, window changes
//! as TIOCSWINSZ on the master (the kernel sends SIGWINCH to the child).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::pty::Winsize;
use tokio::io::unix::AsyncFd;

/// The two ends of a new pty.
pub struct Pty {
    pub master: Master,
    pub slave: OwnedFd,
}

/// The master end, non-blocking, shared by the reader and writer tasks.
pub struct Master {
    fd: AsyncFd<OwnedFd>,
}

fn winsize(cols: u32, rows: u32, px_w: u32, px_h: u32) -> Winsize {
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    Winsize {
        ws_row: clamp(rows),
        ws_col: clamp(cols),
        ws_xpixel: clamp(px_w),
        ws_ypixel: clamp(px_h),
    }
}

fn cloexec(fd: &OwnedFd) -> io::Result<()> {
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    Ok(())
}

/// Opens a pty of the given size. Both ends are close-on-exec (the child
/// gets the slave as dup'ed stdio only).
pub fn open(cols: u32, rows: u32, px_w: u32, px_h: u32) -> io::Result<Pty> {
    let r = nix::pty::openpty(&winsize(cols, rows, px_w, px_h), None)?;
    cloexec(&r.master)?;
    cloexec(&r.slave)?;
    let flags = OFlag::from_bits_truncate(fcntl(r.master.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(
        r.master.as_raw_fd(),
        FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
    )?;
    // SAFETY: the master is an owned, valid fd that stays open while the
    // AsyncFd owns it; nothing else closes or replaces it.
    let fd = unsafe { AsyncFd::register(r.master) }.map_err(io::Error::from)?;
    Ok(Pty {
        master: Master { fd },
        slave: r.slave,
    })
}

impl Master {
    /// Reads what the child wrote; 0 once every slave fd is closed (the
    /// kernel reports that as EIO).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref().as_raw_fd(), buf).map_err(io::Error::from)
            }) {
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(0),
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `data` (the client's keystrokes).
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(io::Error::from))
            {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Sets the window size; the child's foreground process group gets
    /// SIGWINCH.
    pub fn resize(&self, cols: u32, rows: u32, px_w: u32, px_h: u32) -> io::Result<()> {
        paddock_sys::terminal::set_window_size(
            self.fd.get_ref().as_fd(),
            &winsize(cols, rows, px_w, px_h),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size_of(fd: &OwnedFd) -> (u16, u16) {
        let ws = paddock_sys::terminal::window_size(fd.as_fd()).unwrap();
        (ws.ws_row, ws.ws_col)
    }

    #[tokio::test]
    async fn size_resize_and_io() {
        let pty = open(80, 24, 0, 0).unwrap();
        assert_eq!(size_of(&pty.slave), (24, 80));
        pty.master.resize(132, 50, 0, 0).unwrap();
        assert_eq!(size_of(&pty.slave), (50, 132));
        // Written to the master, echoed back by the line discipline.
        pty.master.write_all(b"hi\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = pty.master.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"hi"), "{:?}", &buf[..n]);
        // Once the slave is gone, reads end.
        drop(pty.slave);
        loop {
            if pty.master.read(&mut buf).await.unwrap() == 0 {
                break;
            }
        }
    }
}
