//! The command lines paddockd runs `paddock-runner` with. [`MonitorArgs`] is
//! the `monitor` subcommand's own clap definition, so the flags paddockd
//! writes are the flags the runner reads; the runc-style subcommands
//! (`exec`, `delete`) follow runc's flags (youki's `liboci-cli`), and the
//! runner's tests parse what [`ExecArgs::to_argv`] writes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The global `--root DIR` (the runner's libcontainer state).
pub fn root(dir: &Path) -> Vec<OsString> {
    vec!["--root".into(), dir.into()]
}

/// `delete --force ID`: removes what is left of a container whose monitor
/// is gone.
pub fn delete_force(id: &str) -> Vec<OsString> {
    vec!["delete".into(), "--force".into(), id.into()]
}

/// `monitor`: create, start and supervise one container.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct MonitorArgs {
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

impl MonitorArgs {
    /// `monitor --id … …`, the subcommand and its flags.
    pub fn to_argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![
            "monitor".into(),
            "--id".into(),
            self.id.clone().into(),
            "--bundle".into(),
            self.bundle.clone().into(),
            "--state-dir".into(),
            self.state_dir.clone().into(),
            "--log-dir".into(),
            self.log_dir.clone().into(),
            "--log-max-bytes".into(),
            self.log_max_bytes.to_string().into(),
            "--log-max-files".into(),
            self.log_max_files.to_string().into(),
            "--log-buffer-lines".into(),
            self.log_buffer_lines.to_string().into(),
        ];
        if self.tty {
            argv.push("--tty".into());
        }
        argv
    }
}

/// `exec`: run a process in a running container (runc's flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecArgs {
    pub id: String,
    pub command: Vec<String>,
    pub tty: bool,
    /// Send the pty's master here (runc's console socket protocol) instead
    /// of having the runner relay it.
    pub console_socket: Option<PathBuf>,
    pub env: Vec<(String, String)>,
}

impl ExecArgs {
    /// `exec [--tty] [--console-socket S] [--env K=V]… ID -- CMD…`.
    pub fn to_argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec!["exec".into()];
        if self.tty {
            argv.push("--tty".into());
        }
        if let Some(socket) = &self.console_socket {
            argv.push("--console-socket".into());
            argv.push(socket.into());
        }
        for (k, v) in &self.env {
            argv.push("--env".into());
            argv.push(format!("{k}={v}").into());
        }
        argv.push(self.id.clone().into());
        argv.push("--".into());
        argv.extend(self.command.iter().map(OsString::from));
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Sub {
        Monitor(MonitorArgs),
    }

    #[test]
    fn monitor_args_round_trip_through_their_own_parser() {
        let args = MonitorArgs {
            id: "web".into(),
            bundle: "/var/lib/paddock/containers/web".into(),
            state_dir: "/run/paddock/monitors/web".into(),
            log_dir: "/var/log/paddock/web".into(),
            tty: true,
            log_max_bytes: 1 << 20,
            log_max_files: 3,
            log_buffer_lines: 500,
        };
        let mut argv: Vec<OsString> = vec!["paddock-runner".into()];
        argv.extend(args.to_argv());
        let Sub::Monitor(back) = Cli::try_parse_from(argv).unwrap().command;
        assert_eq!(back, args);
        let no_tty = MonitorArgs { tty: false, ..args };
        let mut argv: Vec<OsString> = vec!["paddock-runner".into()];
        argv.extend(no_tty.to_argv());
        let Sub::Monitor(back) = Cli::try_parse_from(argv).unwrap().command;
        assert_eq!(back, no_tty);
    }

    #[test]
    fn the_runner_refuses_a_log_size_that_cannot_hold_a_line() {
        let argv = [
            "x",
            "monitor",
            "--id",
            "a",
            "--bundle",
            "b",
            "--state-dir",
            "s",
        ];
        let mut argv: Vec<&str> = argv.to_vec();
        argv.extend(["--log-dir", "l", "--log-max-bytes", "100"]);
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn exec_argv_ends_options_before_the_command() {
        let e = ExecArgs {
            id: "web".into(),
            command: vec!["ls".into(), "--tty".into()],
            tty: false,
            console_socket: None,
            env: vec![("A".into(), "b=c".into())],
        };
        let argv: Vec<String> = e
            .to_argv()
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert_eq!(argv, ["exec", "--env", "A=b=c", "web", "--", "ls", "--tty"]);
    }
}
