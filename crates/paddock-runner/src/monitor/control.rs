//! The control socket (`monitor.sock`): newline-delimited JSON, one request per
//! connection. This module does the socket work without blocking — accepting,
//! reading a request, writing answers as the client takes them, dropping
//! clients that hang up or fall too far behind — and hands parsed requests to
//! the monitor, which decides the answers.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// A request longer than this is refused.
const MAX_REQUEST: usize = 64 * 1024;
/// A `logs --follow` client this far behind is dropped.
const MAX_BACKLOG: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("listen on {}", path.display())]
    Listen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub use paddock_wire::runner::{Request, SignalSpec};

/// The `{"ok":…}` answer line.
pub fn ok_line(result: Result<(), String>) -> Vec<u8> {
    paddock_wire::runner::Answer::from(result).to_line()
}

/// What happens to a client after its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Close once the answer is written.
    Close,
    /// Keep it: it gets the final status when the container exits.
    Wait,
    /// Keep it: it gets every new log line.
    Follow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reading,
    Answered(After),
}

struct Client {
    id: u64,
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    phase: Phase,
    /// The client shut down its sending side (it may still read).
    eof: bool,
    gone: bool,
}

impl Client {
    fn flush(&mut self) {
        while !self.output.is_empty() {
            match self.stream.write(&self.output) {
                Ok(0) => {
                    self.gone = true;
                    return;
                }
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    // EPIPE and friends: the client left.
                    tracing::debug!(client = self.id, %err, "control client gone");
                    self.gone = true;
                    return;
                }
            }
        }
        if self.phase == Phase::Answered(After::Close) {
            self.gone = true;
        }
    }

    /// Reads what the client sent; returns a complete request line if there is one.
    fn read(&mut self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.eof = true;
                    if self.phase == Phase::Reading {
                        // A request without its newline still counts.
                        if self.input.is_empty() {
                            self.gone = true;
                            return None;
                        }
                        return Some(std::mem::take(&mut self.input));
                    }
                    return None;
                }
                Ok(n) => {
                    if self.phase != Phase::Reading {
                        continue; // one request per connection: ignore the rest
                    }
                    self.input.extend_from_slice(&buf[..n]);
                    if let Some(nl) = self.input.iter().position(|&b| b == b'\n') {
                        let line = self.input[..nl].to_vec();
                        self.input.clear();
                        return Some(line);
                    }
                    if self.input.len() > MAX_REQUEST {
                        self.input.clear();
                        return Some(b"\0too long".to_vec());
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return None,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::debug!(client = self.id, %err, "control client read failed");
                    self.gone = true;
                    return None;
                }
            }
        }
    }
}

/// A request from a client, to be answered with [`ControlServer::answer`].
pub struct Incoming {
    pub client: u64,
    pub request: Result<Request, String>,
}

/// The listening socket and its clients.
pub struct ControlServer {
    path: PathBuf,
    listener: UnixListener,
    clients: Vec<Client>,
    next_id: u64,
}

impl ControlServer {
    /// Listens at `path`, replacing a stale socket file.
    pub fn bind(path: &Path) -> Result<Self, ControlError> {
        let err = |source| ControlError::Listen {
            path: path.to_owned(),
            source,
        };
        // Root-only, and connectable as soon as `monitor.sock` exists.
        let listener = paddock_sys::unix_socket::bind_private(path).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        Ok(Self {
            path: path.to_owned(),
            listener,
            clients: Vec::new(),
            next_id: 0,
        })
    }

    /// The fds to poll and for what, listener first.
    pub fn poll_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut fds = vec![(self.listener.as_fd(), PollFlags::POLLIN)];
        for c in &self.clients {
            // Only POLLHUP (reported anyway) tells a waiter that closed from
            // one that merely shut down its sending side.
            let mut events = PollFlags::empty();
            if !c.eof {
                events |= PollFlags::POLLIN;
            }
            if !c.output.is_empty() {
                events |= PollFlags::POLLOUT;
            }
            fds.push((c.stream.as_fd(), events));
        }
        fds
    }

    /// Handles what poll reported for the fds of [`Self::poll_fds`] (same order,
    /// so call it before anything else changes the clients); returns the
    /// requests that arrived.
    pub fn handle(&mut self, revents: &[PollFlags]) -> Vec<Incoming> {
        let mut incoming = Vec::new();
        for (client, events) in self.clients.iter_mut().zip(revents.iter().skip(1)) {
            if events.is_empty() {
                continue;
            }
            if events.contains(PollFlags::POLLOUT) {
                client.flush();
            }
            if !client.eof && events.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
                if let Some(line) = client.read() {
                    incoming.push(Incoming {
                        client: client.id,
                        request: parse(&line),
                    });
                }
            }
            let hung_up = events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR);
            if hung_up
                && client.phase != Phase::Reading
                && !incoming.iter().any(|i| i.client == client.id)
            {
                client.gone = true;
            }
        }
        self.clients.retain(|c| !c.gone);
        if revents.first().is_some_and(|e| !e.is_empty()) {
            self.accept_all();
        }
        incoming
    }

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Err(err) = stream.set_nonblocking(true) {
                        tracing::warn!(%err, "control client: set non-blocking");
                        continue;
                    }
                    self.next_id += 1;
                    self.clients.push(Client {
                        id: self.next_id,
                        stream,
                        input: Vec::new(),
                        output: Vec::new(),
                        phase: Phase::Reading,
                        eof: false,
                        gone: false,
                    });
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::warn!(%err, "control socket accept failed");
                    return;
                }
            }
        }
    }

    /// Queues `bytes` as the answer to `client`'s request.
    pub fn answer(&mut self, client: u64, bytes: &[u8], after: After) {
        if let Some(c) = self.clients.iter_mut().find(|c| c.id == client) {
            c.phase = Phase::Answered(after);
            c.output.extend_from_slice(bytes);
            c.flush();
        }
        self.clients.retain(|c| !c.gone);
    }

    /// Sends a new log line to every following client.
    pub fn broadcast(&mut self, line: &[u8]) {
        for c in &mut self.clients {
            if c.phase == Phase::Answered(After::Follow) {
                if c.output.len() > MAX_BACKLOG {
                    tracing::warn!(client = c.id, "log follower too slow, dropping it");
                    c.gone = true;
                    continue;
                }
                c.output.extend_from_slice(line);
                c.flush();
            }
        }
        self.clients.retain(|c| !c.gone);
    }

    /// The container is gone: `status_line` to every waiter, followers are
    /// done; everything is written within `timeout`, then all clients closed.
    pub fn finish(&mut self, status_line: &[u8], timeout: Duration) {
        for c in &mut self.clients {
            match c.phase {
                Phase::Answered(After::Wait) => {
                    c.output.extend_from_slice(status_line);
                    c.phase = Phase::Answered(After::Close);
                }
                Phase::Answered(After::Follow) => c.phase = Phase::Answered(After::Close),
                _ => {}
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            for c in &mut self.clients {
                c.flush();
            }
            self.clients.retain(|c| !c.gone && !c.output.is_empty());
            let left = deadline.saturating_duration_since(Instant::now());
            if self.clients.is_empty() || left.is_zero() {
                break;
            }
            let mut fds: Vec<PollFd> = self
                .clients
                .iter()
                .map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLOUT))
                .collect();
            let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            if poll(&mut fds, PollTimeout::from(millis)).is_err() {
                break;
            }
        }
        self.clients.clear();
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn parse(line: &[u8]) -> Result<Request, String> {
    if line.starts_with(b"\0") {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    serde_json::from_slice(line).map_err(|err| format!("bad request: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_protocol_requests() {
        assert_eq!(parse(br#"{"op":"status"}"#), Ok(Request::Status));
        assert_eq!(parse(br#"{"op":"wait"}"#), Ok(Request::Wait));
        assert_eq!(
            parse(br#"{"op":"kill","signal":9}"#),
            Ok(Request::Kill {
                signal: SignalSpec::Number(9),
                all: false
            })
        );
        assert_eq!(
            parse(br#"{"op":"kill","signal":"HUP","all":true}"#),
            Ok(Request::Kill {
                signal: SignalSpec::Name("HUP".into()),
                all: true
            })
        );
        assert_eq!(
            parse(br#"{"op":"logs","tail":100,"follow":true}"#),
            Ok(Request::Logs {
                tail: Some(100),
                follow: true
            })
        );
        assert!(parse(br#"{"op":"reboot"}"#).is_err());
        assert!(parse(b"not json").is_err());
    }
}
