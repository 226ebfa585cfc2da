//! The command line: runc's global options and subcommands (youki's `liboci-cli`
//! definitions, so flags match what container engines pass), plus `kill` with an
//! optional signal as runc has it, and paddock's own `monitor`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Where container state lives when `--root` is not given.
pub const DEFAULT_ROOT: &str = "/run/paddock-runner";

/// paddock's single-threaded OCI runtime and per-container monitor.
#[derive(Parser, Debug)]
#[command(name = "paddock-runner", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: liboci_cli::GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The state directory: `--root`, or [`DEFAULT_ROOT`].
    pub fn root(&self) -> PathBuf {
        self.global
            .root
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container (it waits for `start`)
    Create(liboci_cli::Create),
    /// Start a created container
    Start(liboci_cli::Start),
    /// Print a container's state as OCI runtime state JSON
    State(liboci_cli::State),
    /// Send a signal (default SIGTERM) to a container's init or, with --all, to all its processes
    Kill(Kill),
    /// Delete a stopped (or, with --force, any) container
    Delete(liboci_cli::Delete),
    /// Create and start a container; without --detach wait and exit with its status
    Run(liboci_cli::Run),
    /// Run a process in a running container and exit with its status
    Exec(liboci_cli::Exec),
    /// Create, start and supervise one container (see docs/runner-protocol.md)
    Monitor(Monitor),
}

/// `kill ID [SIGNAL]`, as runc has it (signal optional, default SIGTERM).
#[derive(Args, Debug)]
pub struct Kill {
    /// Container identifier
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub container_id: String,
    /// Signal name (TERM, SIGTERM) or number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// Send the signal to all processes of the container
    #[arg(short, long)]
    pub all: bool,
}

/// `monitor`: the per-container supervisor paddockd spawns.
#[derive(Args, Debug, Clone)]
pub struct Monitor {
    /// Container identifier
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub id: String,
    /// Bundle directory (config.json + rootfs)
    #[arg(long)]
    pub bundle: PathBuf,
    /// Directory for status.json and monitor.sock
    #[arg(long)]
    pub state_dir: PathBuf,
    /// Directory for current.log and its rotations
    #[arg(long)]
    pub log_dir: PathBuf,
    /// Give the container a pty (process.terminal in config.json must be true)
    #[arg(long)]
    pub tty: bool,
    /// Rotate current.log before it would grow beyond this many bytes (at least
    /// 32 KiB, so that a file always holds a whole 16 KiB line)
    #[arg(long, default_value_t = 10 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(32 * 1024..))]
    pub log_max_bytes: u64,
    /// Number of log files kept, current.log included
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub log_max_files: u32,
    /// Lines of output kept in memory for the `logs` request
    #[arg(long, default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub log_buffer_lines: u32,
}
