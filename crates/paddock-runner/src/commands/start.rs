//! `start`: let a created container's process run its program.

use anyhow::{Context, Result};

use super::Global;
use crate::container;

pub fn run(global: &Global, args: &liboci_cli::Start) -> Result<()> {
    let id = &args.container_id;
    container::load(&global.root, id)?
        .start()
        .with_context(|| format!("start container {id}"))
}
