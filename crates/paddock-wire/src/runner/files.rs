//! The files of a monitor's state directory (`--state-dir`), by name.

/// The control socket (newline-delimited JSON, [`super::protocol`]).
pub const MONITOR_SOCKET: &str = "monitor.sock";
/// The last [`super::Status`], rewritten atomically on every change and
/// readable after the monitor exited.
pub const STATUS_FILE: &str = "status.json";
/// The monitor's own stderr (bad arguments, a runtime error before
/// `status.json` could say so), for paddockd to quote.
pub const MONITOR_LOG: &str = "monitor.log";
/// Where the monitor receives a `tty: true` container's pty master.
pub const CONSOLE_SOCKET: &str = "console.sock";
