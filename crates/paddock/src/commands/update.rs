//! `paddock update [--instance DIR] [--host HOST[:PORT]] [--from DIR]`:
//! build the instance (or take a signed update `paddock build --update-dir`
//! made), hand the device the signed statement (`update.json` and its
//! signatures: the device checks them and the generation before anything
//! is written), stream the new root and boot files to its inactive slot
//! over authenticated HTTP (`/update/*`), compare the hashes the device
//! read back with the local ones, switch, reboot, and wait until the device
//! is back: success when the new slot runs and was marked good, failure
//! (non-zero, loudly) when the device came back on the old slot.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use futures_util::TryStreamExt;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::Request;
use hyper_util::rt::TokioIo;
use paddock_wire::update::{
    Accepted, EntryState, ErrorBody, SwitchRequest, Switched, UpdateStatement, UpdateStatus,
    Written, SIGNATURE_HEADER,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::build::{self, BuildOptions};

pub struct UpdateArgs {
    pub instance: Option<PathBuf>,
    pub host: String,
    pub password: Option<String>,
    pub bin_dir: Option<PathBuf>,
    pub workspace: Option<PathBuf>,
    pub profile: String,
    pub epoch: Option<u64>,
    /// How long to wait for the device to come back.
    pub timeout: Duration,
    /// Update even when the device already runs this version.
    pub force: bool,
    /// A signed update made earlier (`paddock build --update-dir`): sent as
    /// it is, nothing is built.
    pub from: Option<PathBuf>,
}

/// How long a small request (status, switch, reboot) may take. A device
/// that reboots or panics while a request is open never answers it (and
/// QEMU's user networking, say, keeps the connection open), so every one
/// has a limit; uploads are bounded by the connect limit only.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);
/// While waiting for the device to come back: one status request.
const POLL_LIMIT: Duration = Duration::from_secs(10);
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// The device's HTTP API with Basic auth, over HTTPS checked against the
/// instance's CA when it has one.
struct Device {
    host: String,
    auth: String,
    tls: Option<crate::remote::tls::TlsTarget>,
}

type Body = BoxBody<Bytes, std::io::Error>;

impl Device {
    async fn send(&self, req: Request<Body>) -> anyhow::Result<(u16, Value)> {
        let stream = tokio::time::timeout(
            CONNECT_LIMIT,
            crate::remote::tls::connect(&self.host, self.tls.as_ref()),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {}: timed out", self.host))??;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("talking to {}", self.host))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender
            .send_request(req)
            .await
            .with_context(|| format!("request to {}", self.host))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the answer of {}", self.host))?
            .to_bytes();
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        Ok((status, json))
    }

    fn request(&self, method: &str, path: &str) -> hyper::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header("Host", &self.host)
            .header("Authorization", &self.auth)
            .header("Accept", "application/json")
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        self.json_within(REQUEST_LIMIT, method, path, body).await
    }

    /// A JSON request that fails when the device has not answered within
    /// `limit`.
    async fn json_within<T: DeserializeOwned>(
        &self,
        limit: Duration,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        let data = body.map(|b| b.to_string()).unwrap_or_default();
        let req = self
            .request(method, path)
            .header("Content-Type", "application/json")
            .body(
                Full::new(Bytes::from(data))
                    .map_err(|never| match never {})
                    .boxed(),
            )?;
        let (status, json) =
            tokio::time::timeout(limit, self.send(req))
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "{method} {path}: {} did not answer within {limit:?}",
                        self.host
                    )
                })??;
        decode(method, path, check(method, path, status, json)?)
    }

    /// PUTs the signed statement with every signature the build made.
    async fn put_statement(
        &self,
        bytes: Vec<u8>,
        signatures: &[String],
    ) -> anyhow::Result<Accepted> {
        let mut req = self
            .request("PUT", "/update/statement")
            .header("Content-Type", "application/json");
        for sig in signatures {
            req = req.header(SIGNATURE_HEADER, sig);
        }
        let req = req.body(
            Full::new(Bytes::from(bytes))
                .map_err(|never| match never {})
                .boxed(),
        )?;
        let (status, json) = tokio::time::timeout(REQUEST_LIMIT, self.send(req))
            .await
            .map_err(|_| {
                anyhow::anyhow!("PUT /update/statement: {} did not answer", self.host)
            })??;
        decode(
            "PUT",
            "/update/statement",
            check("PUT", "/update/statement", status, json)?,
        )
    }

    /// PUTs a file with its SHA-256; checks the device's answer against it.
    async fn put_file(&self, path: &str, file: &Path, sha256: &str) -> anyhow::Result<Written> {
        let f = tokio::fs::File::open(file)
            .await
            .with_context(|| format!("opening {}", file.display()))?;
        let len = f.metadata().await?.len();
        let stream = tokio_util::io::ReaderStream::with_capacity(f, 1 << 20).map_ok(Frame::data);
        let req = self
            .request("PUT", path)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", len)
            .header("X-Paddock-Sha256", sha256)
            .body(StreamBody::new(stream).boxed())?;
        let started = Instant::now();
        let (status, json) = self.send(req).await?;
        let answer: Written = decode("PUT", path, check("PUT", path, status, json)?)?;
        if answer.sha256 != sha256 || answer.bytes != len {
            bail!(
                "{path}: the device read back {} ({} bytes), we sent {sha256} ({len} bytes)",
                answer.sha256,
                answer.bytes
            );
        }
        eprintln!(
            "paddock update: {path}: {len} bytes in {:.1?}, sha256 {sha256} verified by the device",
            started.elapsed()
        );
        Ok(answer)
    }
}

fn check(method: &str, path: &str, status: u16, json: Value) -> anyhow::Result<Value> {
    if status == 401 {
        bail!("{method} {path}: 401 unauthorized: wrong password (config.yaml update_password)");
    }
    if !(200..300).contains(&status) {
        let msg = serde_json::from_value::<ErrorBody>(json.clone())
            .map(|e| e.error)
            .unwrap_or_else(|_| json.to_string());
        bail!("{method} {path}: {status}: {msg}");
    }
    Ok(json)
}

/// The answer as the wire type the route promises.
fn decode<T: DeserializeOwned>(method: &str, path: &str, json: Value) -> anyhow::Result<T> {
    serde_json::from_value(json).with_context(|| format!("{method} {path}: unexpected answer"))
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(h.finalize()))
}

pub async fn run(args: UpdateArgs) -> anyhow::Result<i32> {
    let instance_dir = super::instance_dir::resolve(args.instance.as_deref())?;
    let instance = crate::instance::Instance::load(&instance_dir)?;
    let password = match args.password {
        Some(p) => p,
        None => instance.config.update_password.clone(),
    };
    let remote = crate::remote::Device::resolve(
        &args.host,
        Some(&instance_dir),
        None,
        Some(password.clone()),
        false,
    )?;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("paddock:{password}"))
    );
    let device = Device {
        host: remote.host,
        auth,
        tls: remote.tls,
    };

    // 1. Build (the image is a by-product; the pieces are what we send).
    let work = tempfile::Builder::new()
        .prefix("paddock-update-")
        .tempdir()
        .context("creating a temp dir")?;
    let artifacts = match args.from {
        Some(dir) => dir,
        None => {
            let artifacts = work.path().join("update");
            let report = build::build(&BuildOptions {
                instance: instance_dir.clone(),
                output: work.path().join("image.img"),
                bin_dir: args
                    .bin_dir
                    .or_else(|| std::env::var_os("PADDOCK_BIN_DIR").map(PathBuf::from)),
                workspace: args.workspace,
                profile: args.profile,
                cache: super::build::cache_dir(),
                epoch: args.epoch,
                artifacts: Some(artifacts.clone()),
            })
            .await?;
            eprintln!("paddock update: built version {}", report.version);
            artifacts
        }
    };
    let (statement_bytes, signatures) = build::signed_update::SignedUpdate::read(&artifacts)?;
    let statement: UpdateStatement =
        serde_json::from_slice(&statement_bytes).with_context(|| {
            format!(
                "{}: not an update statement",
                artifacts.join(build::signed_update::STATEMENT).display()
            )
        })?;
    let version = statement.version.clone();

    // 2. Where the device is.
    let before: UpdateStatus = device.json("GET", "/update/status", None).await?;
    let (slot, target) = (before.slot, before.inactive_slot);
    let old_version = before.version.unwrap_or_else(|| "?".into());
    eprintln!(
        "paddock update: {} runs version {old_version} on slot {slot}; writing slot {target}",
        device.host
    );
    if old_version == version && !args.force {
        println!("the device already runs version {version} (slot {slot}); nothing to do (--force to update anyway)");
        return Ok(0);
    }
    match &before.update_key {
        Some(k) => eprintln!(
            "paddock update: the device trusts update key {k}; generation {} must be above {}",
            statement.generation, before.rollback_floor
        ),
        None => bail!(
            "{} has no update key and refuses every update: it runs a paddock from before signed updates; \
             write a new image with `paddock build` and `paddock write` once",
            device.host
        ),
    }

    // 3. The signed statement, then the pieces it names, each verified by
    // the device reading it back.
    let accepted = device.put_statement(statement_bytes, &signatures).await?;
    eprintln!(
        "paddock update: the device accepted the signed statement for version {} (generation {})",
        accepted.version, accepted.generation
    );
    let pieces = [
        ("/update/root", "root.squashfs"),
        ("/update/boot/vmlinuz", "vmlinuz"),
        ("/update/boot/initrd", "initrd"),
    ];
    for (path, file) in pieces {
        let file = artifacts.join(file);
        let sha = sha256_file(&file)?;
        device.put_file(path, &file, &sha).await?;
    }
    let switch = SwitchRequest {
        version: Some(version.clone()),
    };
    let switched: Switched = device
        .json(
            "POST",
            "/update/switch",
            Some(serde_json::to_value(switch)?),
        )
        .await?;
    eprintln!(
        "paddock update: switched: the next boot tries {} ({} tries)",
        switched.entry, switched.tries
    );

    // 4. Reboot and wait for the verdict.
    device
        .json::<Value>("POST", "/reboot", None)
        .await
        .context("asking the device to reboot")?;
    eprintln!(
        "paddock update: rebooting; waiting up to {:?}",
        args.timeout
    );
    let deadline = Instant::now() + args.timeout;
    let mut last = String::new();
    // While it reboots the device does not answer; the last reason is shown
    // if no verdict comes (an answer we cannot read is one).
    let mut last_error = None;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let polled = device
            .json_within::<UpdateStatus>(POLL_LIMIT, "GET", "/update/status", None)
            .await;
        if let Err(e) = &polled {
            last_error = Some(format!("{e:#}"));
        }
        if let Ok(st) = polled {
            let running = st.slot;
            let running_version = st.version.as_deref().unwrap_or("?");
            let state = st.newest_entry(target).map(|e| e.state);
            let state_name = match state {
                Some(EntryState::Good) => "good",
                Some(EntryState::Probation) => "probation",
                Some(EntryState::Bad) => "bad",
                None => "missing",
            };
            let now = format!("slot {running}, version {running_version}, new entry {state_name}");
            if now != last {
                eprintln!("paddock update: device up: {now}");
                last = now;
            }
            if running == target && state == Some(EntryState::Good) {
                println!("the device runs version {running_version} on slot {running}");
                return Ok(0);
            }
            if running == slot && matches!(state, Some(EntryState::Bad) | None) {
                eprintln!(
                    "paddock update: ROLLBACK: version {version} on slot {target} did not come up healthy; \
                     the device is back on version {running_version} (slot {running}). \
                     See the device's console or `paddock logs --host` for why."
                );
                println!(
                    "rolled back: the device runs version {running_version} on slot {running}"
                );
                return Ok(2);
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the device did not report a verdict within {:?} (last seen: {}; last error: {})",
                args.timeout,
                if last.is_empty() { "never" } else { &last },
                last_error.as_deref().unwrap_or("none")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that accepts the connection and never answers (it rebooted
    /// under the open request) fails the request instead of hanging.
    #[tokio::test]
    async fn a_request_the_device_never_answers_fails() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let held = tokio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(conn);
        });
        let device = Device {
            host: host.clone(),
            auth: "Basic x".into(),
            tls: None,
        };
        let started = Instant::now();
        let err = device
            .json_within::<Value>(Duration::from_millis(300), "GET", "/update/status", None)
            .await
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            err,
            format!("GET /update/status: {host} did not answer within 300ms")
        );
        held.abort();
    }
}
