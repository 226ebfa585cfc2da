//! paddockd's local API (HTTP/1.1 + JSON on `/run/paddock/paddockd.sock`,
//! docs/api.md and docs/paddockd-api.yaml): the bodies both paddockd and its
//! clients (the `paddock` CLI, init's web UI) read and write.

pub mod apply;
pub mod exec;
pub mod frames;
pub mod images;
pub mod path;
pub mod status;
