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

/// `monitor`: the per-container supervisor paddockd spawns; its flags are
/// defined once, in paddock-wire, for both ends.
pub use paddock_wire::runner::MonitorArgs as Monitor;

#[cfg(test)]
mod tests {
    use super::*;
    use paddock_wire::runner::{argv, ExecArgs, MonitorArgs};
    use std::ffi::OsString;

    fn parse(tail: Vec<OsString>) -> Cli {
        let mut full: Vec<OsString> = vec!["paddock-runner".into()];
        full.extend(argv::root(std::path::Path::new("/run/paddock/runner")));
        full.extend(tail);
        Cli::try_parse_from(full).unwrap()
    }

    #[test]
    fn reads_the_command_lines_paddockd_writes() {
        let monitor = MonitorArgs {
            id: "web".into(),
            bundle: "/b".into(),
            state_dir: "/s".into(),
            log_dir: "/l".into(),
            tty: false,
            log_max_bytes: 64 * 1024,
            log_max_files: 2,
            log_buffer_lines: 10,
        };
        let cli = parse(monitor.to_argv());
        assert_eq!(cli.root(), PathBuf::from("/run/paddock/runner"));
        match cli.command {
            Command::Monitor(m) => assert_eq!(m, monitor),
            other => panic!("{other:?}"),
        }

        let exec = ExecArgs {
            id: "web".into(),
            command: vec!["sh".into(), "-c".into(), "echo --tty".into()],
            tty: true,
            console_socket: Some("/s/console.sock".into()),
            env: vec![("TERM".into(), "xterm".into())],
        };
        match parse(exec.to_argv()).command {
            Command::Exec(e) => {
                assert_eq!(e.container_id, exec.id);
                assert_eq!(e.command, exec.command);
                assert!(e.tty);
                assert_eq!(e.console_socket, exec.console_socket);
                assert_eq!(e.env, exec.env);
            }
            other => panic!("{other:?}"),
        }

        match parse(argv::delete_force("web")).command {
            Command::Delete(d) => assert!(d.force && d.container_id == "web"),
            other => panic!("{other:?}"),
        }
    }
}
