//! `delete [--force] ID`: remove a stopped (with --force: any) container, its
//! state and its cgroup. `--force` on a container that does not exist succeeds,
//! as with runc.

use anyhow::{Context, Result};

use super::Global;
use crate::container;

pub fn run(global: &Global, args: &liboci_cli::Delete) -> Result<()> {
    let id = &args.container_id;
    if args.force && !container::exists(&global.root, id) {
        return Ok(());
    }
    container::load(&global.root, id)?
        .delete(args.force)
        .with_context(|| format!("delete container {id}"))
}
