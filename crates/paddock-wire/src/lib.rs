//! Every type that crosses a paddock process boundary, defined once and used
//! by both ends:
//!
//! - [`api`]: paddockd's local API (container status, exec and its frames,
//!   path encoding), spoken by the `paddock` CLI and init's web UI;
//! - [`control`]: init's control socket (`/run/paddock/init.sock`);
//! - [`system`]: `/etc/paddock/system.json`, written by `paddock build`;
//! - [`boot_entry`] and [`slot`]: the systemd-boot entries of the A/B slots;
//! - [`runner`]: paddockd ↔ `paddock-runner` (argv, state files, the
//!   monitor's control socket);
//! - [`paths`]: where things live on the device;
//! - [`reference`]: image references as manifests, the API and the CLI
//!   write them.

pub mod api;
pub mod boot_entry;
pub mod control;
pub mod paths;
pub mod reference;
pub mod runner;
pub mod slot;
pub mod system;
