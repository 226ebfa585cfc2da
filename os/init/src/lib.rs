//! paddock-init, the library half: what other parts of paddock share with
//! init.
//!
//! The types init shares with other processes (`system.json`, the control
//! socket, boot entries) live in `paddock_wire`; the OS helpers it shares
//! (listen addresses, private sockets, atomic writes) in `paddock_sys`.
//!
//! - [`supervisor::run`]: service supervision (restart with backoff,
//!   wait_for_clock, dont_start, logs, reaping, stop with grace), usable as
//!   PID 1 or as an ordinary process for tests.
//! - [`gpt`]: partitions by GPT name or unique GUID.
//! - [`update`]: over-the-air updates (the `/update` HTTP routes) and the
//!   probation of a newly installed slot.
//!
//! The boot stages (initramfs, real root) live in the binary.

pub mod gpt;
pub mod logbuf;
pub mod supervisor;
pub mod update;
pub mod web;
