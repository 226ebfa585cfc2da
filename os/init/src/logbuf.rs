//! A service's recent output: the newest lines, bounded, kept across
//! restarts so a crash loop's last words can still be read, with sequence
//! numbers for followers (paddock_sys's [`LineRing`]).

pub use paddock_sys::line_ring::LineRing;

/// A service's ring of output lines.
pub type LogBuffer = LineRing<String>;
/// What a follower of a service's output gets.
pub type Since = paddock_sys::line_ring::Since<String>;

/// Longer lines are cut (a program printing without newlines must not grow
/// the buffer without bound).
pub const MAX_LINE: usize = 4096;
