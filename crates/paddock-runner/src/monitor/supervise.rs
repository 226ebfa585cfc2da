//! The monitor's poll loop, from a running container to a deleted one.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use libcontainer::signal::Signal as LcSignal;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::SignalFd;
use nix::unistd::Pid;
use std::os::fd::AsFd;

use super::control::{ok_line, After, ControlServer, Incoming, Request, SignalSpec};
use super::logs::LogSink;
use super::output::Output;
use super::status::{self, Status, Transitions};
use crate::cli::Monitor;
use crate::commands::Global;
use crate::wait::{self, Exit};
use crate::{container, signals};

/// After init exits, read its remaining output for at most this long.
const DRAIN_MAX: Duration = Duration::from_secs(2);
/// How long waiters and followers get to take their last bytes.
const FINISH_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Supervisor<'a> {
    pub global: &'a Global,
    pub args: &'a Monitor,
    pub signals: SignalFd,
    pub pid: Pid,
    pub outputs: Vec<Output>,
    pub sink: LogSink,
    pub control: ControlServer,
    pub status: Status,
}

impl Supervisor<'_> {
    pub fn run(mut self) {
        let mut ended: Option<(Exit, DateTime<Utc>, Instant)> = None;
        match wait::reap_all(self.pid) {
            Ok(Some(exit)) => ended = Some(self.on_exit(exit)),
            Ok(None) => {}
            Err(err) => tracing::error!(%err, "reaping children"),
        }
        loop {
            if let Some((_, _, at)) = ended {
                if self.outputs.iter().all(|o| !o.open) || at.elapsed() > DRAIN_MAX {
                    break;
                }
            }
            let revents = match self.poll_once(ended.is_some()) {
                Ok(r) => r,
                Err(err) => {
                    tracing::error!(%err, "poll failed");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let (sig_ev, rest) = revents.split_at(1);
            let (out_ev, control_ev) = rest.split_at(self.open_outputs());
            if !sig_ev[0].is_empty() {
                if let Some(exit) = self.handle_signals() {
                    if ended.is_none() {
                        ended = Some(self.on_exit(exit));
                    }
                }
            }
            // The control server first: its revents index its client list as
            // it was at poll time, and broadcasting output may drop clients.
            for incoming in self.control.handle(control_ev) {
                self.respond(incoming, ended.is_some());
            }
            self.handle_outputs(out_ev);
        }
        let Some((exit, finished, _)) = ended else {
            return;
        };
        self.finish(exit, finished);
    }

    fn open_outputs(&self) -> usize {
        self.outputs.iter().filter(|o| o.open).count()
    }

    /// Polls signalfd, open outputs, control fds (in that order); returns revents.
    fn poll_once(&self, draining: bool) -> Result<Vec<PollFlags>, Errno> {
        let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
        for o in self.outputs.iter().filter(|o| o.open) {
            fds.push(PollFd::new(o.fd(), PollFlags::POLLIN));
        }
        for (fd, events) in self.control.poll_fds() {
            fds.push(PollFd::new(fd, events));
        }
        let timeout = if draining {
            PollTimeout::from(100u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => {
                return Ok(vec![PollFlags::empty(); fds.len()]);
            }
            Err(err) => return Err(err),
        }
        Ok(fds
            .iter()
            .map(|fd| fd.revents().unwrap_or(PollFlags::empty()))
            .collect())
    }

    /// Reaps on SIGCHLD, forwards the rest; returns init's exit once reaped.
    fn handle_signals(&mut self) -> Option<Exit> {
        let received = match signals::drain(&self.signals) {
            Ok(s) => s,
            Err(err) => {
                tracing::error!(error = %err, "reading signals");
                return None;
            }
        };
        let mut exit = None;
        for sig in received {
            if sig == Signal::SIGCHLD {
                match wait::reap_all(self.pid) {
                    Ok(Some(e)) => exit = Some(e),
                    Ok(None) => {}
                    Err(err) => tracing::error!(%err, "reaping children"),
                }
            } else {
                tracing::info!(?sig, pid = %self.pid, "forwarding signal to the container");
                if let Err(err) = kill(self.pid, sig) {
                    tracing::debug!(%err, "forwarding signal failed");
                }
            }
        }
        exit
    }

    /// Init is gone: note when, and kill what is left of the container so its
    /// output pipes close (with a pid namespace the kernel did that already).
    fn on_exit(&mut self, exit: Exit) -> (Exit, DateTime<Utc>, Instant) {
        tracing::info!(id = self.args.id, ?exit, "container exited");
        let finished = Utc::now();
        match container::load(&self.global.root, &self.args.id) {
            Ok(mut c) => {
                if let Err(err) = c.kill(LcSignal::from(Signal::SIGKILL), true) {
                    tracing::debug!(error = %err, "killing the container's remaining processes");
                }
            }
            Err(err) => tracing::warn!(error = %err, "loading the exited container"),
        }
        (exit, finished, Instant::now())
    }

    fn handle_outputs(&mut self, revents: &[PollFlags]) {
        let open = self.outputs.iter_mut().filter(|o| o.open);
        let mut lines = Vec::new();
        for (output, events) in open.zip(revents) {
            if !events.is_empty() {
                let stream = output.stream;
                lines.extend(output.read_lines().into_iter().map(|l| (stream, l)));
            }
        }
        for (stream, text) in lines {
            let line = self.sink.push(stream, &text);
            self.control.broadcast(&line);
        }
    }

    fn respond(&mut self, incoming: Incoming, exited: bool) {
        let client = incoming.client;
        match incoming.request {
            Err(error) => self
                .control
                .answer(client, &ok_line(Err(error)), After::Close),
            Ok(Request::Status) => {
                let line = self.status.to_line();
                self.control.answer(client, &line, After::Close);
            }
            Ok(Request::Wait) => self.control.answer(client, b"", After::Wait),
            Ok(Request::Kill { signal, all }) => {
                let result = if exited {
                    Err("the container has exited".to_owned())
                } else {
                    self.kill(&signal, all)
                };
                self.control.answer(client, &ok_line(result), After::Close);
            }
            Ok(Request::Logs { tail, follow }) => {
                let lines: Vec<u8> = self.sink.ring.tail(tail).flatten().copied().collect();
                let after = if follow && !exited {
                    After::Follow
                } else {
                    After::Close
                };
                self.control.answer(client, &lines, after);
            }
        }
    }

    fn kill(&self, signal: &SignalSpec, all: bool) -> Result<(), String> {
        let signal = match signal {
            SignalSpec::Number(n) => LcSignal::try_from(*n).map_err(|e| e.to_string())?,
            SignalSpec::Name(name) => {
                LcSignal::try_from(name.as_str()).map_err(|e| e.to_string())?
            }
        };
        tracing::info!(id = self.args.id, ?signal, all, "kill requested");
        container::load(&self.global.root, &self.args.id)
            .map_err(|e| format!("{e:#}"))?
            .kill(signal, all)
            .map_err(|e| format!("kill: {e}"))
    }

    /// Flush output, delete the container, record the exit, answer waiters.
    fn finish(mut self, exit: Exit, finished: DateTime<Utc>) {
        let mut rest = Vec::new();
        for o in self.outputs.iter_mut().filter(|o| o.open) {
            let stream = o.stream;
            rest.extend(o.close().into_iter().map(|l| (stream, l)));
        }
        for (stream, text) in rest {
            let line = self.sink.push(stream, &text);
            self.control.broadcast(&line);
        }
        let cleanup_error = match container::discard(&self.global.root, &self.args.id) {
            Ok(_) => None,
            Err(err) => {
                tracing::error!(error = %err, "deleting the exited container");
                Some(format!("delete container: {err:#}"))
            }
        };
        self.status.set_exited(exit, finished, cleanup_error);
        if let Err(err) = status::write(&self.args.state_dir, &self.status) {
            tracing::error!(error = %err, "recording the exit");
        }
        self.control.finish(&self.status.to_line(), FINISH_TIMEOUT);
    }
}
