//! The device's update API (`/update/*`, served by init, used by
//! `paddock update`): bodies of both directions. docs/device-api.md and
//! docs/device-api.yaml describe the routes.

use serde::{Deserialize, Serialize};

use crate::slot::Slot;

/// What `PUT /update/root` and `PUT /update/boot/{vmlinuz,initrd}` received
/// and read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// Lower-case hex SHA-256 of the bytes read back from where they went.
    pub sha256: String,
    pub bytes: u64,
}

/// Where a loader entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// No boot counter: systemd-boot boots it when it sorts first.
    Good,
    /// Tries left, or the running slot's counted entry.
    Probation,
    /// No tries left: sorted last, the other slot boots.
    Bad,
}

/// One loader entry of `GET /update/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryStatus {
    pub file: String,
    pub id: String,
    pub generation: u64,
    pub slot: Slot,
    pub tries_left: Option<u32>,
    pub tries_done: Option<u32>,
    pub state: EntryState,
}

/// The pieces of the inactive slot written and verified in this boot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// The signed statement accepted for this update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<Accepted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Written>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmlinuz: Option<Written>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd: Option<Written>,
    /// An upload is under way (what it has verified so far is not shown).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
}

/// `GET /update/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatus {
    /// The slot running now.
    pub slot: Slot,
    /// The slot an update writes.
    pub inactive_slot: Slot,
    /// `build.json`'s version of the running root.
    pub version: Option<String>,
    pub build_time: Option<String>,
    pub kernel: Option<String>,
    /// `build.json`'s generation of the running root.
    #[serde(default)]
    pub generation: Option<u64>,
    /// The highest generation this device has marked good: an update must
    /// be above it.
    #[serde(default)]
    pub rollback_floor: u64,
    /// Fingerprint of the update key this device trusts (`None`: it has
    /// none and refuses every update).
    #[serde(default)]
    pub update_key: Option<String>,
    /// Our loader entries, in the order systemd-boot boots them.
    pub entries: Vec<EntryStatus>,
    /// Why the ESP could not be read (then `entries` is empty).
    pub esp_error: Option<String>,
    pub verified: Verified,
}

impl UpdateStatus {
    /// The entry of `slot` with the highest generation.
    pub fn newest_entry(&self, slot: Slot) -> Option<&EntryStatus> {
        self.entries
            .iter()
            .filter(|e| e.slot == slot)
            .max_by_key(|e| e.generation)
    }
}

/// One piece of an update as the signed statement names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    pub bytes: u64,
}

/// The pieces of an update, by the name of their upload route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pieces {
    /// `PUT /update/root`: the root partition's contents (SquashFS, then
    /// its dm-verity hash tree when `verity` is set).
    pub root: Piece,
    /// `PUT /update/boot/vmlinuz`.
    pub vmlinuz: Piece,
    /// `PUT /update/boot/initrd`.
    pub initrd: Piece,
}

/// What the update key signs (`update.json`, next to `update.json.sig`):
/// which instance, which build, in which order, and the digest of every
/// piece. `cosign verify-blob --key keys/update.pub --signature
/// update.json.sig update.json` checks the signature; the device checks it
/// with the key in its running root before it writes anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatement {
    /// [`STATEMENT_KIND`].
    pub kind: String,
    /// The instance's hostname: a device refuses another instance's update.
    pub instance: String,
    /// `build.json`'s version.
    pub version: String,
    /// Increases with every build whose contents changed; a device refuses
    /// one not above what it has marked good (anti-rollback).
    pub generation: u64,
    /// Fingerprint of the update key inside this root: the key the device
    /// trusts once this update runs (a rotation shows here).
    pub root_key: String,
    pub pieces: Pieces,
    /// The root's dm-verity parameters (the hash tree is part of the
    /// `root` piece): the entry a switch writes passes them to stage 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verity: Option<crate::verity::VerityParams>,
}

/// [`UpdateStatement::kind`] of this format.
pub const STATEMENT_KIND: &str = "paddock.update.v1";

/// The header carrying the statement's signature (base64 of the DER ECDSA
/// signature, as in `update.json.sig`).
pub const SIGNATURE_HEADER: &str = "x-paddock-signature";

/// The statement a device accepted in this boot (`GET /update/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub version: String,
    pub generation: u64,
}

/// `POST /update/switch`'s body (optional): the version for the entry's title.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchRequest {
    #[serde(default)]
    pub version: Option<String>,
}

/// `POST /update/switch`'s answer: the entry the next boot tries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Switched {
    pub slot: Slot,
    pub entry: String,
    pub generation: u64,
    pub tries: u32,
}

/// Every error answer of the device's API and paddockd's: `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::round_trip;

    #[test]
    fn every_body_round_trips() {
        let w = Written {
            sha256: "ab".repeat(32),
            bytes: 4096,
        };
        let entry = |generation, slot, state| EntryStatus {
            file: format!("paddock-{generation:08}-{slot}.conf"),
            id: format!("paddock-{generation:08}-{slot}"),
            generation,
            slot,
            tries_left: None,
            tries_done: None,
            state,
        };
        let status = UpdateStatus {
            slot: Slot::A,
            inactive_slot: Slot::B,
            version: Some("v1".into()),
            build_time: None,
            kernel: Some("6.1".into()),
            generation: Some(3),
            rollback_floor: 3,
            update_key: Some("sha256:ab".into()),
            entries: vec![
                entry(3, Slot::B, EntryState::Bad),
                entry(2, Slot::A, EntryState::Good),
                entry(1, Slot::B, EntryState::Good),
            ],
            esp_error: None,
            verified: Verified {
                root: Some(w.clone()),
                ..Verified::default()
            },
        };
        assert_eq!(status.newest_entry(Slot::B).unwrap().generation, 3);
        round_trip(&status);
        round_trip(&w);
        let piece = Piece {
            sha256: "cd".repeat(32),
            bytes: 7,
        };
        round_trip(&UpdateStatement {
            kind: STATEMENT_KIND.into(),
            instance: "box".into(),
            version: "0.1.0+1.abc".into(),
            generation: 4,
            root_key: "sha256:ab".into(),
            pieces: Pieces {
                root: piece.clone(),
                vmlinuz: piece.clone(),
                initrd: piece,
            },
            verity: Some(crate::verity::VerityParams {
                root_hash: "ef".repeat(32),
                salt: String::new(),
                data_blocks: 3,
            }),
        });
        round_trip(&SwitchRequest {
            version: Some("v2".into()),
        });
        round_trip(&Switched {
            slot: Slot::B,
            entry: "paddock-00000004-b+2.conf".into(),
            generation: 4,
            tries: 2,
        });
        round_trip(&ErrorBody {
            error: "busy".into(),
        });
    }

    #[test]
    fn verified_shows_only_what_is_there() {
        assert_eq!(serde_json::to_string(&Verified::default()).unwrap(), "{}");
        let busy = Verified {
            busy: true,
            ..Verified::default()
        };
        assert_eq!(serde_json::to_string(&busy).unwrap(), r#"{"busy":true}"#);
    }
}
