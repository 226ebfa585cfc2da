//! Stepping the system clock and marking it synced.

use std::path::Path;

use nix::sys::time::TimeSpec;
use nix::time::{clock_gettime, clock_settime, ClockId};

/// Moves CLOCK_REALTIME by `offset_micros` (positive: forward).
pub fn step(offset_micros: i128) -> nix::Result<()> {
    let now = clock_gettime(ClockId::CLOCK_REALTIME)?;
    let now_ns = i128::from(now.tv_sec()) * 1_000_000_000 + i128::from(now.tv_nsec());
    let target = now_ns + offset_micros * 1000;
    let secs = target.div_euclid(1_000_000_000);
    let nanos = target.rem_euclid(1_000_000_000);
    let ts = TimeSpec::new(secs as libc_time_t, nanos as libc_nsec_t);
    clock_settime(ClockId::CLOCK_REALTIME, ts)
}

#[allow(non_camel_case_types)]
type libc_time_t = nix::libc::time_t;
#[allow(non_camel_case_types)]
type libc_nsec_t = nix::libc::c_long;

/// Writes the marker atomically (paddock_sys: temp file, fsync, rename):
/// its appearance is the signal init and paddockd wait for.
pub fn write_marker(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    paddock_sys::fs::write_atomic(path, contents.as_bytes(), paddock_sys::fs::PUBLIC)
}
