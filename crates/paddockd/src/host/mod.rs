//! Preparing the host before containers run: a trustworthy clock, `/var` on
//! persistent storage, preloaded images, and the `/etc` files containers see.

pub mod clock;
pub mod etc_files;
pub mod mountinfo;
pub mod var_mount;
