//! `paddock-runner`: a small single-threaded OCI runtime on youki's libcontainer
//! (the runc command line: create, start, state, kill, delete, run, exec) and the
//! per-container `monitor` paddockd spawns (docs/runner-protocol.md).
//!
//! Single-threaded on purpose: libcontainer forks and clones, which is only safe
//! from a process with one thread.

mod cli;
mod commands;
mod container;
mod executor;
mod foreground;
mod logging;
mod monitor;
mod pty;
mod signals;
mod wait;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    if let Err(err) = logging::init(&cli.global) {
        eprintln!("paddock-runner: {err:#}");
        std::process::exit(1);
    }
    let logs_to_file = cli.global.log.is_some();
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            if logs_to_file {
                tracing::error!("{err:#}");
            }
            eprintln!("paddock-runner: {err:#}");
            1
        }
    };
    std::process::exit(code);
}
