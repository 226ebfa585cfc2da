//! paddockd ↔ `paddock-runner`: how paddockd starts a container's monitor
//! ([`argv`]), what the monitor leaves in its state directory ([`files`]),
//! and what its control socket speaks ([`protocol`]). docs/runner-protocol.md
//! describes all three.

pub mod argv;
pub mod files;
pub mod protocol;

pub use argv::{ExecArgs, MonitorArgs};
pub use protocol::{Answer, Request, SignalSpec, State, Status};
