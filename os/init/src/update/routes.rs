//! The `/update/*` HTTP routes (the web server nests them at `/update`
//! behind its authentication):
//!
//! - `GET /status` → `{slot, inactive_slot, version, build_time, kernel, entries, verified}`
//! - `PUT /root` (`X-Paddock-Sha256: HEX`) → the inactive slot's partition
//! - `PUT /boot/vmlinuz`, `PUT /boot/initrd` (same header) → its ESP files
//! - `POST /switch` → its loader entry with boot counting
//!
//! Each upload first removes the inactive slot's loader entry, so a slot
//! that is half written is never booted, and answers `{sha256, bytes}` only
//! after reading the data back from the disk. `switch` needs all three
//! verified in this boot. One update step runs at a time (409 otherwise).

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
use super::write::{self, Target};
use paddock_wire::slot::Slot;
use paddock_wire::system::SystemConfig;
use paddock_wire::update::{
    EntryState, EntryStatus, ErrorBody, SwitchRequest, Switched, UpdateStatus,
    Verified as WireVerified, Written,
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
    let entries = entries
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
        entries,
        esp_error,
        verified,
    }))
}

/// `X-Paddock-Sha256`: 64 hex digits, lower-cased.
fn wanted_sha256(headers: &HeaderMap) -> Result<String, UpdateError> {
    let v = headers
        .get("x-paddock-sha256")
        .ok_or_else(|| {
            UpdateError::BadRequest(
                "the X-Paddock-Sha256 header (hex SHA-256 of the body) is required".into(),
            )
        })?
        .to_str()
        .map_err(|_| UpdateError::BadRequest("X-Paddock-Sha256 is not text".into()))?
        .trim()
        .to_ascii_lowercase();
    if v.len() != 64 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UpdateError::BadRequest(format!(
            "X-Paddock-Sha256 {v:?}: expected 64 hex digits"
        )));
    }
    Ok(v)
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
    want: &str,
    written: &Written,
) -> Result<(), UpdateError> {
    if written.sha256 != want {
        return Err(UpdateError::HeaderMismatch {
            header: want.to_string(),
            received: written.sha256.clone(),
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
    let want = wanted_sha256(&headers)?;
    let mut progress = st.busy()?;
    let slot = st.device.running_slot()?.other();
    let progress = progress.for_slot(slot);
    progress.root = None;
    unbootable(&st.device, slot).await?;
    let part = st.device.partition(slot.partname())?;
    let limit = write::size_of(&part)?;
    tracing::info!(%slot, partition = %part.display(), limit, "update: writing the root");
    let written = write::stream_to(body, &part, Target::Partition { limit }).await?;
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
    let want = wanted_sha256(&headers)?;
    let mut progress = st.busy()?;
    let slot = st.device.running_slot()?.other();
    let progress = progress.for_slot(slot);
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
    let written = write::stream_to(body, &tmp, Target::File).await;
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

/// The body may name the version for the entry's title: `{"version": "…"}`.
async fn switch(State(st): State<UpdateState>, body: Bytes) -> Result<Json<Switched>, UpdateError> {
    let version = if body.is_empty() {
        None
    } else {
        let request: SwitchRequest = serde_json::from_slice(&body)
            .map_err(|e| UpdateError::BadRequest(format!("switch: body: {e}")))?;
        request.version
    };
    let mut progress = st.busy()?;
    let slot = st.device.running_slot()?.other();
    let p = progress.for_slot(slot);
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
        let text = entries::contents(
            slot,
            generation,
            &partuuid,
            version.as_deref().unwrap_or("update"),
        );
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
