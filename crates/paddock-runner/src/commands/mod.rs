//! One file per runc subcommand; `dispatch` runs the one the command line names
//! and returns the process exit code.

mod create;
mod delete;
mod exec;
mod exec_process;
mod kill;
mod run;
mod start;
mod state;

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::{Cli, Command};

pub use create::{create_container, wants_terminal, InitOptions};

/// Options every subcommand shares.
pub struct Global {
    /// libcontainer's state root (`--root`).
    pub root: PathBuf,
    /// Manage cgroups through systemd (`--systemd-cgroup`).
    pub systemd: bool,
}

/// Runs the subcommand and returns the exit code for the runner process.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let global = Global {
        root: cli.root(),
        systemd: cli.global.systemd_cgroup,
    };
    match cli.command {
        Command::Create(args) => create::run(&global, &args).map(|()| 0),
        Command::Start(args) => start::run(&global, &args).map(|()| 0),
        Command::State(args) => state::run(&global, &args).map(|()| 0),
        Command::Kill(args) => kill::run(&global, &args).map(|()| 0),
        Command::Delete(args) => delete::run(&global, &args).map(|()| 0),
        Command::Run(args) => run::run(&global, &args),
        Command::Exec(args) => exec::run(&global, &args),
        Command::Monitor(args) => crate::monitor::run(&global, args),
    }
}
