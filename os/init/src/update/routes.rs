//! The `/update/*` HTTP routes (the web server nests them at `/update`
//! behind its authentication):
//!
//! - `GET /status` → `{slot, inactive_slot, version, generation, entries, verified, …}`
//! - `PUT /statement` (`update.json`, `X-Paddock-Signature: BASE64`) → the
//!   signed statement, checked before anything is written (see `trust`)
//! - `PUT /root` → the inactive slot's partition
//! - `PUT /boot/vmlinuz`, `PUT /boot/initrd` → its ESP files
//! - `POST /switch` → its loader entry with boot counting
//!
//! Every upload must be the piece the accepted statement names: no more
//! bytes than it says, and the same SHA-256 (an `X-Paddock-Sha256` header,
//! still accepted, must agree). Each upload first removes the inactive
//! slot's loader entry, so a slot that is half written is never booted, and
//! answers `{sha256, bytes}` only after reading the data back from the
//! disk. `switch` needs all three verified in this boot. One update step
//! runs at a time (409 otherwise).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use tokio::sync::{Mutex, MutexGuard};

use super::device::Device;
use super::entries;
use super::error::UpdateError;
use super::trust;
use super::write::{self, Target};
use paddock_wire::slot::Slot;
use paddock_wire::system::SystemConfig;
use paddock_wire::update::{
    Accepted, EntryState, EntryStatus, ErrorBody, Piece, SwitchRequest, Switched, UpdateStatement,
    UpdateStatus, Verified as WireVerified, Written, SIGNATURE_HEADER,
};

/// Boots a new slot gets when system.json does not say.
pub const DEFAULT_TRIES: u32 = 2;

/// Shared by the routes: the device and what was verified in this boot.
#[derive(Clone)]
pub struct UpdateState {
    device: Arc<Device>,
    progress: Arc<Mutex<Verified>>,
}

/// The pieces of the inactive slot written and read back in this boot.
#[derive(Debug, Default)]
struct Verified {
    slot: Option<Slot>,
    statement: Option<UpdateStatement>,
    root: Option<Written>,
    vmlinuz: Option<Written>,
    initrd: Option<Written>,
}

impl Verified {
    fn for_slot(&mut self, slot: Slot) -> &mut Self {
        if self.slot != Some(slot) {
            *self = Verified {
                slot: Some(slot),
                ..Default::default()
            };
        }
        self
    }
}

impl UpdateState {
    pub fn new(device: Device) -> Self {
        Self {
            device: Arc::new(device),
            progress: Arc::new(Mutex::new(Verified::default())),
        }
    }

    fn busy(&self) -> Result<MutexGuard<'_, Verified>, UpdateError> {
        self.progress
            .try_lock()
            .map_err(|_| UpdateError::Conflict("another update step is running".into()))
    }
}

/// The routes for this device (`S`: the state of the router it is nested in).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    router_with(UpdateState::new(Device::system()))
}

/// The routes for `state` (tests stage a device).
pub fn router_with<S: Clone + Send + Sync + 'static>(state: UpdateState) -> Router<S> {
    Router::new()
        .route("/status", get(status))
        .route("/statement", put(put_statement))
        .route("/root", put(put_root))
        .route("/boot/{name}", put(put_boot))
        .route("/switch", post(switch))
        .with_state(state)
}

impl IntoResponse for UpdateError {
    fn into_response(self) -> Response {
        tracing::warn!("update: {self}");
        let body = ErrorBody {
            error: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UpdateError> + Send + 'static,
) -> Result<T, UpdateError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| UpdateError::Body(format!("task: {e}")))?
}

async fn status(State(st): State<UpdateState>) -> Result<Json<UpdateStatus>, UpdateError> {
    let device = st.device.clone();
    let slot = device.running_slot()?;
    let build = device.build_info();
    let (entries, esp_error) = match blocking(move || {
        let esp = device.mount_esp()?;
        entries::list(esp.path())
    })
    .await
    {
        Ok(e) => (e, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let running_good = entries::newest_is_good(&entries, slot);
    let entries: Vec<EntryStatus> = entries
        .iter()
        .map(|e| EntryStatus {
            file: e.file.clone(),
            id: e.id(),
            generation: e.generation,
            slot: e.slot,
            tries_left: e.tries_left,
            tries_done: e.tries_done,
            // The running slot's counted entry is on probation even with no
            // tries left (systemd-boot counted this very boot).
            state: if e.slot == slot && e.tries_left.is_some() {
                EntryState::Probation
            } else {
                e.state()
            },
        })
        .collect();
    let verified = match st.progress.try_lock() {
        Ok(v) if v.slot == Some(slot.other()) => WireVerified {
            statement: v.statement.as_ref().map(|s| Accepted {
                version: s.version.clone(),
                generation: s.generation,
            }),
            root: v.root.clone(),
            vmlinuz: v.vmlinuz.clone(),
            initrd: v.initrd.clone(),
            busy: false,
        },
        Ok(_) => WireVerified::default(),
        Err(_) => WireVerified {
            busy: true,
            ..WireVerified::default()
        },
    };
    Ok(Json(UpdateStatus {
        slot,
        inactive_slot: slot.other(),
        version: build.version,
        build_time: build.build_time,
        kernel: build.kernel,
        generation: build.generation,
        rollback_floor: st.device.rollback_floor(running_good),
        update_key: st.device.update_key().ok().map(|k| k.fingerprint()),
        entries,
        esp_error,
        verified,
    }))
}

/// What an upload must be: the accepted statement's piece. An
/// `X-Paddock-Sha256` header, when sent, must name the same digest.
fn expected(progress: &Verified, name: &str, headers: &HeaderMap) -> Result<Piece, UpdateError> {
    let statement = progress.statement.as_ref().ok_or(UpdateError::Unsigned)?;
    let pieces = &statement.pieces;
    let piece = match name {
        "root" => &pieces.root,
        "vmlinuz" => &pieces.vmlinuz,
        _ => &pieces.initrd,
    };
    if let Some(v) = headers.get("x-paddock-sha256") {
        let v = v
            .to_str()
            .map_err(|_| UpdateError::BadRequest("X-Paddock-Sha256 is not text".into()))?
            .trim()
            .to_ascii_lowercase();
        if v != piece.sha256 {
            return Err(UpdateError::NotAsSigned {
                what: name.to_string(),
                message: format!(
                    "X-Paddock-Sha256 says {v}, the signed statement {}",
                    piece.sha256
                ),
            });
        }
    }
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len != piece.bytes {
            return Err(UpdateError::NotAsSigned {
                what: name.to_string(),
                message: format!(
                    "the body is {len} bytes, the signed statement says {}",
                    piece.bytes
                ),
            });
        }
    }
    Ok(piece.clone())
}

/// The signatures sent (the header may come more than once: one per key
/// during a rotation).
fn signatures(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SIGNATURE_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

async fn put_statement(
    State(st): State<UpdateState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Accepted>, UpdateError> {
    if body.len() > trust::STATEMENT_MAX {
        return Err(UpdateError::TooLarge {
            got: body.len() as u64,
            limit: trust::STATEMENT_MAX as u64,
        });
    }
    let key = st.device.update_key()?;
    let device = st.device.clone();
    let slot = device.running_slot()?;
    let running_good = blocking(move || {
        let esp = device.mount_esp()?;
        Ok(entries::newest_is_good(&entries::list(esp.path())?, slot))
    })
    .await?;
    let floor = st.device.rollback_floor(running_good);
    let statement = trust::accept(
        &key,
        &body,
        &signatures(&headers),
        &st.device.build_info(),
        floor,
    )?;
    let mut progress = st.busy()?;
    let progress = progress.for_slot(slot.other());
    tracing::info!(
        version = %statement.version,
        generation = statement.generation,
        floor,
        key = %key.fingerprint(),
        "update: signed statement accepted"
    );
    let accepted = Accepted {
        version: statement.version.clone(),
        generation: statement.generation,
    };
    // A new statement: what was uploaded for another one does not count.
    *progress = Verified {
        slot: Some(slot.other()),
        statement: Some(statement),
        ..Verified::default()
    };
    Ok(Json(accepted))
}

/// Removes the slot's loader entries: from here on it is not bootable.
async fn unbootable(device: &Arc<Device>, slot: Slot) -> Result<(), UpdateError> {
    let device = device.clone();
    let removed = blocking(move || {
        let esp = device.mount_esp()?;
        entries::remove_slot(esp.path(), slot)
    })
    .await?;
    if !removed.is_empty() {
        tracing::info!(%slot, ?removed, "update: removed the slot's loader entry before writing it");
    }
    Ok(())
}

/// The hash received must be the one announced; the one read back must be
/// the one received.
async fn verify(
    what: &str,
    path: &std::path::Path,
    want: &Piece,
    written: &Written,
) -> Result<(), UpdateError> {
    if written.sha256 != want.sha256 || written.bytes != want.bytes {
        return Err(UpdateError::NotAsSigned {
            what: what.to_string(),
            message: format!(
                "received {} bytes hashing to {}, the signed statement says {} bytes, {}",
                written.bytes, written.sha256, want.bytes, want.sha256
            ),
        });
    }
    let read = write::read_back(path, written.bytes).await?;
    if read != written.sha256 {
        return Err(UpdateError::ReadBack {
            what: what.to_string(),
            wrote: written.sha256.clone(),
            read,
        });
    }
    Ok(())
}

async fn put_root(
    State(st): State<UpdateState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Written>, UpdateError> {
    let mut progress = st.busy()?;
    let slot = st.device.running_slot()?.other();
    let progress = progress.for_slot(slot);
    let want = expected(progress, "root", &headers)?;
    progress.root = None;
    let part = st.device.partition(slot.partname())?;
    let size = write::size_of(&part)?;
    if want.bytes > size {
        return Err(UpdateError::TooLarge {
            got: want.bytes,
            limit: size,
        });
    }
    unbootable(&st.device, slot).await?;
    tracing::info!(%slot, partition = %part.display(), size, "update: writing the root");
    let written = write::stream_to(body, &part, Target::Partition { limit: want.bytes }).await?;
    verify(slot.partname(), &part, &want, &written).await?;
    tracing::info!(%slot, sha256 = %written.sha256, bytes = written.bytes, "update: root written and read back");
    progress.root = Some(written.clone());
    Ok(Json(written))
}

async fn put_boot(
    State(st): State<UpdateState>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Written>, UpdateError> {
    if name != "vmlinuz" && name != "initrd" {
        return Err(UpdateError::BadRequest(format!(
            "boot file {name:?}: expected vmlinuz or initrd"
        )));
    }
    let mut progress = st.busy()?;
    let slot = st.device.running_slot()?.other();
    let progress = progress.for_slot(slot);
    let want = expected(progress, &name, &headers)?;
    match name.as_str() {
        "vmlinuz" => progress.vmlinuz = None,
        _ => progress.initrd = None,
    }
    unbootable(&st.device, slot).await?;
    let device = st.device.clone();
    let esp = blocking(move || device.mount_esp()).await?;
    let dir = esp.path().join("paddock").join(slot.to_string());
    std::fs::create_dir_all(&dir).map_err(UpdateError::io("creating", &dir))?;
    let tmp = dir.join(format!("{name}.new"));
    let dest = dir.join(&name);
    tracing::info!(%slot, file = %dest.display(), "update: writing a boot file");
    let written = write::stream_to(body, &tmp, Target::File { limit: want.bytes }).await;
    let checked = match written {
        Ok(w) => verify(&name, &tmp, &want, &w).await.map(|()| w),
        Err(e) => Err(e),
    };
    let written = match checked {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &dest).map_err(UpdateError::io("renaming", &tmp))?;
    entries::sync_dir(&dir)?;
    drop(esp);
    tracing::info!(%slot, file = %name, sha256 = %written.sha256, bytes = written.bytes, "update: boot file written and read back");
    match name.as_str() {
        "vmlinuz" => progress.vmlinuz = Some(written.clone()),
        _ => progress.initrd = Some(written.clone()),
    }
    Ok(Json(written))
}

/// The entry's title carries the signed statement's version; a body's
/// `{"version": "…"}`, when sent, must be that version.
async fn switch(State(st): State<UpdateState>, body: Bytes) -> Result<Json<Switched>, UpdateError> {
    let requested = if body.is_empty() {
        None
    } else {
        let request: SwitchRequest = serde_json::from_slice(&body)
            .map_err(|e| UpdateError::BadRequest(format!("switch: body: {e}")))?;
        request.version
    };
    if let Some(v) = &requested {
        paddock_wire::boot_entry::check_version(v).map_err(UpdateError::BadRequest)?;
    }
    let mut progress = st.busy()?;
    let slot = st.device.running_slot()?.other();
    let p = progress.for_slot(slot);
    let version = p
        .statement
        .as_ref()
        .ok_or(UpdateError::Unsigned)?
        .version
        .clone();
    let verity = p.statement.as_ref().and_then(|s| s.verity.clone());
    if requested.as_ref().is_some_and(|r| *r != version) {
        return Err(UpdateError::BadRequest(format!(
            "switch: version {:?} is not the signed statement's {version:?}",
            requested.unwrap_or_default()
        )));
    }
    let missing: Vec<&str> = [
        ("root", p.root.is_none()),
        ("vmlinuz", p.vmlinuz.is_none()),
        ("initrd", p.initrd.is_none()),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| n)
    .collect();
    if !missing.is_empty() {
        return Err(UpdateError::Conflict(format!(
            "slot {slot} is not ready: {} not written and verified in this boot",
            missing.join(", ")
        )));
    }
    let tries = SystemConfig::load(&st.device.system_json)
        .ok()
        .and_then(|c| c.update)
        .and_then(|u| u.tries)
        .unwrap_or(DEFAULT_TRIES)
        .max(1);
    let device = st.device.clone();
    let entry = blocking(move || {
        let partuuid = device.partuuid(slot)?;
        let esp = device.mount_esp()?;
        // Any entry of the slot is stale now (there is none after an upload).
        entries::remove_slot(esp.path(), slot)?;
        let generation = entries::max_generation(&entries::list(esp.path())?) + 1;
        let file = entries::file_name(generation, slot, Some(tries));
        let text = entries::contents(slot, generation, &partuuid, &version, verity.as_ref());
        entries::write(esp.path(), &file, &text)
    })
    .await?;
    *p = Verified::default();
    tracing::info!(%slot, entry = %entry.file, tries, "update: switched; the next boot tries the new slot");
    Ok(Json(Switched {
        slot,
        entry: entry.file,
        generation: entry.generation,
        tries,
    }))
}
