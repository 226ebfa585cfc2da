//! Over-the-air updates with automatic rollback (issue #5).
//!
//! The disk has two root slots (`root-a`, `root-b`) and, on the ESP, a
//! kernel + initramfs per slot and one systemd-boot loader entry per slot.
//! An update writes the slot that is not running, verifies what it wrote
//! by reading it back, then gives the slot a new loader entry with boot
//! counting (`paddock-<generation>-<slot>+<tries>.conf`): systemd-boot
//! picks it because its generation is higher, counts a try down on every
//! boot, and sorts it last once no tries are left, so the old slot's entry
//! boots again. After booting, [`spawn_probation`] marks the entry good
//! (renames the counter away) once every service and paddockd are healthy,
//! or reboots when they are not within the deadline.
//!
//! - [`router`]: the `/update/*` HTTP routes (nested by the web server).
//! - [`entries`]: loader entry names and contents (shared with `paddock build`).
//! - [`spawn_probation`]: the health check of a slot on probation.
//! - `trust`: which updates this device accepts (signature, instance,
//!   anti-rollback), checked before anything is written.

mod device;
pub mod entries;
mod error;
mod esp;
mod probation;
mod routes;
mod trust;
mod write;

pub use device::Device;
pub use error::UpdateError;
pub use esp::Esp;
pub use paddock_wire::slot::Slot;
pub use probation::{spawn_probation, Outcome, ProbationOptions};
pub use routes::{router, router_with, UpdateState};
