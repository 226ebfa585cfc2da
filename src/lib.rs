//! paddockd: paddock's on-device container supervisor.
//!
//! Modules, in the order a container comes to life:
//! - [`manifest`]: the YAML manifests users write, parsed and validated;
//! - [`store`]: the content-addressed image store (pull, verify, unpack);
//! - [`spec`]: the OCI runtime spec built from image config + manifest;
//! - [`supervisor`]: starting, monitoring and restarting containers;
//! - [`api`]: the local HTTP/JSON API on a unix socket.

pub mod manifest;
pub mod paths;
pub mod spec;
