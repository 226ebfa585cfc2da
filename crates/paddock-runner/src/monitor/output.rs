//! The container's output streams as the monitor reads them: the read ends of
//! its stdout/stderr pipes, or the pty master (all `stdout`), non-blocking.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};

use super::logs::{LineSplitter, Stream};

/// Bytes read per stream per wakeup, so one chatty stream cannot starve the rest.
const READ_CHUNK: usize = 64 * 1024;

pub struct Output {
    file: File,
    pub stream: Stream,
    splitter: LineSplitter,
    pub open: bool,
}

impl Output {
    /// Wraps a readable fd, making it non-blocking.
    pub fn new(fd: OwnedFd, stream: Stream) -> nix::Result<Self> {
        let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        Ok(Self {
            file: File::from(fd),
            stream,
            splitter: LineSplitter::default(),
            open: true,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Reads what is there and returns the complete lines; at the end of the
    /// stream (EOF, or EIO from a pty whose other side is closed) also the
    /// unfinished last line, and `open` turns false.
    pub fn read_lines(&mut self) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; READ_CHUNK];
        match self.file.read(&mut buf) {
            Ok(0) => self.close(),
            Ok(n) => self.splitter.feed(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::WouldBlock => Vec::new(),
            Err(err) if err.kind() == ErrorKind::Interrupted => Vec::new(),
            Err(err) => {
                if err.raw_os_error() != Some(libc::EIO) {
                    tracing::warn!(stream = ?self.stream, %err, "reading container output failed");
                }
                self.close()
            }
        }
    }

    /// Stops reading; returns the unfinished last line, if any.
    pub fn close(&mut self) -> Vec<Vec<u8>> {
        self.open = false;
        self.splitter.finish().into_iter().collect()
    }
}
