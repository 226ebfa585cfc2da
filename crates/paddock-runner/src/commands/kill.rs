//! `kill ID [SIGNAL]`: signal a container's init, or all its processes.

use anyhow::{anyhow, Context, Result};
use libcontainer::signal::Signal;

use super::Global;
use crate::cli::Kill;
use crate::container;

pub fn run(global: &Global, args: &Kill) -> Result<()> {
    let id = &args.container_id;
    let signal = Signal::try_from(args.signal.as_str()).map_err(|err| anyhow!("{err}"))?;
    container::load(&global.root, id)?
        .kill(signal, args.all)
        .with_context(|| format!("kill container {id}"))
}
