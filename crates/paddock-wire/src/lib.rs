//! Every type that crosses a paddock process boundary, defined once and used
//! by both ends:
//!
//! - [`api`]: paddockd's local API (container status, exec and its frames,
//!   path encoding), spoken by the `paddock` CLI and init's web UI;
//! - [`control`]: init's control socket (`/run/paddock/init.sock`);
//! - [`device`]: the device's own API (the web UI's JSON), served by init;
//! - [`system`] and [`build_info`]: `/etc/paddock/system.json` and
//!   `build.json`, written by `paddock build`, read on the device;
//! - [`update`]: the device's update API (`/update/*`);
//! - [`boot_entry`] and [`slot`]: the systemd-boot entries of the A/B slots;
//! - [`verity`]: a root slot's dm-verity parameters;
//! - [`runner`]: paddockd ↔ `paddock-runner` (argv, state files, the
//!   monitor's control socket);
//! - [`paths`]: where things live on the device;
//! - [`reference`]: image references as manifests, the API and the CLI
//!   write them.

pub mod api;
pub mod boot_entry;
pub mod build_info;
pub mod control;
pub mod device;
pub mod paths;
pub mod reference;
pub mod runner;
pub mod slot;
pub mod system;
pub mod update;
pub mod verity;

/// Asserts that `value` survives JSON encoding and decoding unchanged;
/// returns the JSON. Every wire type's tests use it.
#[cfg(test)]
pub(crate) fn round_trip<T>(value: &T) -> String
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let text = serde_json::to_string(value).expect("encode");
    let back: T = serde_json::from_str(&text).expect("decode");
    assert_eq!(&back, value, "{text}");
    text
}
