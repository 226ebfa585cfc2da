//! paddock-init, the library half: what other parts of paddock share with
//! init.
//!
//! - [`config::SystemConfig`]: `/etc/paddock/system.json`, written by
//!   `paddock build` and read by init at boot.
//! - [`addresses`]: which local addresses management servers may bind.
//! - [`control`]: the control socket protocol and a client.
//! - [`supervisor::run`]: service supervision (restart with backoff,
//!   wait_for_clock, dont_start, logs, reaping, stop with grace), usable as
//!   PID 1 or as an ordinary process for tests.
//! - [`unix_socket`]: root-only sockets that appear ready to connect.
//! - [`gpt`]: partitions by GPT name or unique GUID.
//! - [`update`]: over-the-air updates (the `/update` HTTP routes) and the
//!   probation of a newly installed slot.
//!
//! The boot stages (initramfs, real root) live in the binary.

pub mod addresses;
pub mod config;
pub mod control;
pub mod gpt;
pub mod logbuf;
pub mod supervisor;
pub mod unix_socket;
pub mod update;
pub mod web;
