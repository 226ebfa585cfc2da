//! What this device accepts as an update: a statement signed with the
//! update key in its running root (`/etc/paddock/update.pub`), for this
//! instance, newer than every generation it has marked good.
//!
//! The anti-rollback floor is the larger of the running root's generation
//! once its entry is good (the root is what the signature covered) and
//! the record on /perm written whenever a slot is marked good (it keeps
//! the floor when the other slot runs).

use paddock_trust::PublicKey;
use paddock_wire::build_info::BuildInfo;
use paddock_wire::update::UpdateStatement;
use serde::{Deserialize, Serialize};

use super::device::Device;
use super::error::UpdateError;

/// The most a statement may be (they are well under 1 KiB).
pub const STATEMENT_MAX: usize = 64 << 10;

/// `/perm/paddock/update/marked-good.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct MarkedGood {
    generation: u64,
}

impl Device {
    /// The update key this device trusts.
    pub fn update_key(&self) -> Result<PublicKey, UpdateError> {
        let text = std::fs::read_to_string(&self.update_key)
            .map_err(|e| UpdateError::NoKey(format!("{}: {e}", self.update_key.display())))?;
        PublicKey::from_pem(&text, &self.update_key.display().to_string())
            .map_err(|e| UpdateError::NoKey(e.to_string()))
    }

    /// The highest generation recorded as marked good on /perm.
    fn recorded_floor(&self) -> u64 {
        std::fs::read(&self.marked_good)
            .ok()
            .and_then(|b| serde_json::from_slice::<MarkedGood>(&b).ok())
            .map(|m| m.generation)
            .unwrap_or(0)
    }

    /// The anti-rollback floor; `running_good`: the running slot's entry
    /// is good.
    pub fn rollback_floor(&self, running_good: bool) -> u64 {
        let running = if running_good {
            self.build_info().generation.unwrap_or(0)
        } else {
            0
        };
        running.max(self.recorded_floor())
    }

    /// Records that the running root (its generation) was marked good.
    pub fn record_marked_good(&self) -> Result<(), UpdateError> {
        let Some(generation) = self.build_info().generation else {
            return Ok(());
        };
        if generation <= self.recorded_floor() {
            return Ok(());
        }
        if let Some(dir) = self.marked_good.parent() {
            std::fs::create_dir_all(dir).map_err(UpdateError::io("creating", dir))?;
        }
        let data = serde_json::to_vec(&MarkedGood { generation }).unwrap_or_default();
        paddock_sys::fs::write_atomic(&self.marked_good, &data, paddock_sys::fs::PRIVATE)
            .map_err(UpdateError::io("writing", &self.marked_good))?;
        tracing::info!(generation, "update: anti-rollback floor raised");
        Ok(())
    }
}

/// Checks a statement: the signature (any of `signatures` made with this
/// device's key), the kind, the instance, the version and the generation.
pub fn accept(
    key: &PublicKey,
    bytes: &[u8],
    signatures: &[String],
    build: &BuildInfo,
    floor: u64,
) -> Result<UpdateStatement, UpdateError> {
    if signatures.is_empty() {
        return Err(UpdateError::BadRequest(
            "the X-Paddock-Signature header (base64, update.json.sig) is required".into(),
        ));
    }
    let mut last = None;
    let mut statement = None;
    for sig in signatures {
        match paddock_trust::verify_statement(key, bytes, sig) {
            Ok(s) => {
                statement = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let statement = match (statement, last) {
        (Some(s), _) => s,
        (None, Some(paddock_trust::TrustError::Statement(m))) => {
            return Err(UpdateError::BadRequest(format!("update.json: {m}")))
        }
        (None, e) => {
            return Err(UpdateError::Signature(
                e.map(|e| e.to_string()).unwrap_or_default(),
            ))
        }
    };
    let instance = build.instance.as_ref().or(build.hostname.as_ref());
    if let Some(mine) = instance {
        if *mine != statement.instance {
            return Err(UpdateError::Signature(format!(
                "the update is for instance {:?}, this device is {mine:?}",
                statement.instance
            )));
        }
    }
    paddock_wire::boot_entry::check_version(&statement.version).map_err(UpdateError::BadRequest)?;
    if statement.generation <= floor {
        return Err(UpdateError::Rollback {
            version: statement.version.clone(),
            generation: statement.generation,
            floor,
        });
    }
    Ok(statement)
}
