//! Starting one service process: its own session and process group (so it
//! is stopped as a group), stdin from /dev/null, stdout and stderr into one
//! pipe read by a thread that feeds the ring buffer and the console; when
//! given its cgroup's `cgroup.procs`, the child moves itself there before
//! exec (so nothing it forks escapes the cgroup).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use nix::fcntl::OFlag;
use nix::sys::signal::SigSet;
use nix::unistd::Pid;

use crate::logbuf::{LogBuffer, MAX_LINE};
use paddock_wire::system::Service;

/// PATH for services unless their env sets one.
pub const DEFAULT_PATH: &str = "/user:/usr/bin:/usr/sbin:/bin:/sbin";

pub fn spawn(
    service: &Service,
    logs: Arc<Mutex<LogBuffer>>,
    cgroup_procs: Option<&File>,
) -> std::io::Result<Pid> {
    use std::os::fd::AsRawFd;
    let procs_fd = cgroup_procs.map(|f| f.as_raw_fd());
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let write2 = write.try_clone()?;
    let mut cmd = Command::new(&service.path);
    cmd.args(&service.args)
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .envs(&service.env)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::from(write2));
    // SAFETY: runs in the forked child before exec; setsid(2),
    // pthread_sigmask(3) and write(2) are async-signal-safe and the closure
    // allocates nothing (an empty SigSet is a plain value, the fd a number).
    unsafe {
        cmd.pre_exec(move || {
            // init blocks the signals it reads from its signalfd; the mask
            // is inherited across exec, so give the service a clean one.
            SigSet::empty().thread_set_mask()?;
            nix::unistd::setsid()?;
            if let Some(fd) = procs_fd {
                // "0" moves the writer; a failure is noticed by the parent.
                // fd is the parent's open cgroup.procs (close-on-exec), the
                // buffer a static one-byte string.
                let _ = libc::write(fd, b"0".as_ptr().cast(), 1);
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // Dropping `cmd` closes our copies of the pipe's write end, so the
    // reader sees EOF once the service (and whatever inherited it) is gone.
    drop(cmd);
    let pid = Pid::from_raw(child.id() as i32);
    // The child is reaped by the supervisor's waitpid(-1), not by `Child`.
    drop(child);
    let name = service.name.clone();
    let reader = File::from(read);
    std::thread::Builder::new()
        .name(format!("log-{name}"))
        .spawn(move || pump(&name, reader, &logs))?;
    Ok(pid)
}

fn pump(name: &str, pipe: File, logs: &Mutex<LogBuffer>) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        record(name, logs, line.to_string());
    }
}

/// Appends a line to the service's buffer and prints it on the console.
pub fn record(name: &str, logs: &Mutex<LogBuffer>, line: String) {
    let _ = writeln!(std::io::stdout().lock(), "{name}: {line}");
    if let Ok(mut logs) = logs.lock() {
        logs.push(line);
    }
}
