//! paddockd: paddock's on-device container supervisor.
//!
//! Modules, in the order a container comes to life:
//! - [`config`]: daemon settings (`paddockd.yaml`);
//! - [`host`]: the clock wait, `/var` on /perm, the `/etc` files containers see;
//! - `paddock_manifest`: the YAML manifests users write, parsed and validated;
//! - `paddock_store`: the content-addressed image store (pull, verify, unpack, build);
//! - [`network`]: the bridge, namespaces, veths and published ports;
//! - [`spec`]: the OCI runtime spec built from image config + manifest;
//! - [`supervisor`]: starting, monitoring and restarting containers;
//! - [`api`]: the local HTTP/JSON API on a unix socket.

pub mod api;
pub mod config;
pub mod host;
pub mod network;
pub mod spec;
pub mod supervisor;

// The crates below paddockd, under the names its modules use.
use paddock_manifest as manifest;
use paddock_store as store;
use paddock_wire::paths;
