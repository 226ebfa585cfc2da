//! The `/update` routes against a staged device: sysfs and /dev with a GPT
//! disk whose partitions are plain files, the ESP as a directory (the vfat
//! mount itself is exercised in the VM test, tests/vm_update.rs) and a real
//! update key: every attack on the statement (unsigned, another key,
//! changed bytes, another instance, an older generation, a version that
//! would add a line to the boot entry) and on the pieces (not what was
//! signed, larger than signed) is refused before the slot is touched.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use paddock_init::update::{router_with, Device, Esp, UpdateState};
use paddock_testkit::staged_disk::{self, StagedDisk};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use paddock_trust::SigningKey;
use paddock_wire::update::{Piece, Pieces, UpdateStatement, STATEMENT_KIND};

struct Staged {
    _tmp: tempfile::TempDir,
    device: Device,
    esp: PathBuf,
    dev: PathBuf,
    key: SigningKey,
}

/// Disk `vda`: vda1 root-a, vda2 root-b (1 MiB files), GUIDs 0x11…, 0x22….
fn stage(running: char) -> Staged {
    let tmp = tempfile::tempdir().unwrap();
    let staged = staged_disk::stage_device(
        tmp.path(),
        running,
        &["paddock-00000002-a.conf", "paddock-00000001-b.conf"],
        r#"{"version":"v1","generation":2,"instance":"t","build_time":"2026-01-01T00:00:00Z","kernel":"6.1.0"}"#,
    );
    let StagedDisk { sys, dev } = staged.disk;
    let esp = staged.esp;
    let device = Device {
        cmdline: staged.cmdline,
        sys_block: sys.join("class/block"),
        dev: dev.clone(),
        esp: Esp::Dir(esp.clone()),
        build_json: staged.build_json,
        system_json: staged.system_json,
        update_key: staged.update_pub,
        marked_good: staged.marked_good,
    };
    Staged {
        _tmp: tmp,
        device,
        esp,
        dev,
        key: staged.update_key,
    }
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    sha: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    call_with(
        app,
        method,
        uri,
        &sha.map(|s| ("X-Paddock-Sha256", s.to_string()))
            .into_iter()
            .collect::<Vec<_>>(),
        body,
    )
    .await
}

async fn call_with(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn entries(esp: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(esp.join("loader/entries"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn piece(data: &[u8]) -> Piece {
    Piece {
        sha256: sha(data),
        bytes: data.len() as u64,
    }
}

/// A statement for instance `t` naming these pieces.
fn statement(generation: u64, root: &[u8], kernel: &[u8], initrd: &[u8]) -> UpdateStatement {
    UpdateStatement {
        kind: STATEMENT_KIND.into(),
        instance: "t".into(),
        version: format!("v{generation}"),
        generation,
        root_key: "sha256:00".into(),
        pieces: Pieces {
            root: piece(root),
            vmlinuz: piece(kernel),
            initrd: piece(initrd),
        },
        verity: None,
    }
}

async fn put_statement(
    app: &axum::Router,
    key: &SigningKey,
    statement: &UpdateStatement,
) -> (StatusCode, serde_json::Value) {
    let (bytes, sig) = paddock_trust::sign_statement(key, statement).unwrap();
    call_with(
        app,
        "PUT",
        "/statement",
        &[("X-Paddock-Signature", sig)],
        bytes,
    )
    .await
}

fn error(body: &serde_json::Value) -> String {
    body["error"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn only_a_statement_signed_by_the_devices_key_for_a_newer_generation_is_accepted() {
    let s = stage('a');
    let app = router_with(UpdateState::new(s.device.clone()));
    let root: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let good = statement(3, &root, b"kernel v3", b"initrd v3");

    // Nothing may be uploaded before a statement was accepted.
    let (code, body) = call(&app, "PUT", "/root", Some(&sha(&root)), root.clone()).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(
        error(&body).contains("no signed update statement"),
        "{body}"
    );
    assert_eq!(
        std::fs::read(s.dev.join("vda2")).unwrap(),
        vec![0u8; 1 << 20],
        "an unsigned upload touched the slot"
    );

    // Unsigned.
    let bytes = serde_json::to_vec(&good).unwrap();
    let (code, body) = call_with(&app, "PUT", "/statement", &[], bytes.clone()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(error(&body).contains("X-Paddock-Signature"), "{body}");
    // Signed with another key.
    let (other, _) = SigningKey::generate().unwrap();
    let (code, body) = put_statement(&app, &other, &good).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(error(&body).contains("does not verify"), "{body}");
    // Signed with the right key, then changed.
    let (signed, sig) = paddock_trust::sign_statement(&s.key, &good).unwrap();
    let changed = String::from_utf8(signed)
        .unwrap()
        .replace(&good.pieces.root.sha256, &sha(b"evil"));
    let (code, body) = call_with(
        &app,
        "PUT",
        "/statement",
        &[("X-Paddock-Signature", sig)],
        changed.into_bytes(),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    // Another instance's update, signed with the same key.
    let mut foreign = good.clone();
    foreign.instance = "other".into();
    let (code, body) = put_statement(&app, &s.key, &foreign).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(error(&body).contains("instance"), "{body}");
    // A version that would add an `options` line to the boot entry.
    let mut injecting = good.clone();
    injecting.version = "v3\noptions init=/bin/sh".into();
    let (code, body) = put_statement(&app, &s.key, &injecting).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    // The running, good slot is generation 2: 2 and below are refused.
    for generation in [1, 2] {
        let old = statement(generation, &root, b"k", b"i");
        let (code, body) = put_statement(&app, &s.key, &old).await;
        assert_eq!(code, StatusCode::CONFLICT, "{body}");
        assert!(error(&body).contains("anti-rollback"), "{body}");
    }
    assert_eq!(
        entries(&s.esp),
        ["paddock-00000001-b.conf", "paddock-00000002-a.conf"],
        "a refused statement changed the entries"
    );
    let (code, st) = call(&app, "GET", "/status", None, vec![]).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(st["rollback_floor"], 2, "{st}");
    assert_eq!(st["generation"], 2, "{st}");
    assert_eq!(st["update_key"], s.key.public().fingerprint(), "{st}");
    assert!(st["verified"].get("statement").is_none(), "{st}");

    let (code, body) = put_statement(&app, &s.key, &good).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["generation"], 3);
}

#[tokio::test]
async fn upload_verify_and_switch() {
    let s = stage('a');
    let app = router_with(UpdateState::new(s.device.clone()));

    let (code, st) = call(&app, "GET", "/status", None, vec![]).await;
    assert_eq!(code, StatusCode::OK, "{st}");
    assert_eq!(st["slot"], "a");
    assert_eq!(st["inactive_slot"], "b");
    assert_eq!(st["version"], "v1");
    assert_eq!(st["entries"][0]["file"], "paddock-00000002-a.conf");
    assert_eq!(st["entries"][0]["state"], "good");

    // Switching before anything was written is refused.
    let (code, body) = call(&app, "POST", "/switch", None, vec![]).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");

    let root: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let kernel = b"kernel v3".to_vec();
    let initrd = b"initrd v3".to_vec();
    let mut signed = statement(3, &root, &kernel, &initrd);
    let verity = paddock_wire::verity::VerityParams {
        root_hash: "ab".repeat(32),
        salt: "cd".repeat(32),
        data_blocks: 74,
    };
    signed.verity = Some(verity.clone());
    let (code, body) = put_statement(&app, &s.key, &signed).await;
    assert_eq!(code, StatusCode::OK, "{body}");

    // Not what was signed (same length, other bytes): refused, and slot b
    // is no longer bootable.
    let mut evil = root.clone();
    evil[1000] ^= 1;
    let (code, body) = call(&app, "PUT", "/root", None, evil).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(error(&body).contains("the signed statement says"), "{body}");
    assert_eq!(entries(&s.esp), ["paddock-00000002-a.conf"]);
    // A header that disagrees with the statement.
    let (code, body) = call(&app, "PUT", "/root", Some(&sha(b"other")), root.clone()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    // More bytes than signed: stopped at the signed length.
    let mut longer = root.clone();
    longer.extend_from_slice(b"and more");
    let (code, body) = call(&app, "PUT", "/root", None, longer).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let (code, body) = call(&app, "PUT", "/root", Some(&sha(&root)), root.clone()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["sha256"], sha(&root));
    assert_eq!(body["bytes"], root.len() as u64);
    let on_disk = std::fs::read(s.dev.join("vda2")).unwrap();
    assert_eq!(&on_disk[..root.len()], &root[..]);
    assert_eq!(
        std::fs::read(s.dev.join("vda1")).unwrap(),
        vec![0u8; 1 << 20],
        "the running slot is untouched"
    );

    // Still not ready: the boot files are missing.
    let (code, body) = call(&app, "POST", "/switch", None, vec![]).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(error(&body).contains("vmlinuz, initrd"), "{body}");

    let (code, _) = call(&app, "PUT", "/boot/grub", Some(&sha(b"x")), b"x".to_vec()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, body) = call(&app, "PUT", "/boot/vmlinuz", None, b"kernel v9".to_vec()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        !s.esp.join("paddock/b/vmlinuz").exists(),
        "a refused file is not installed"
    );
    assert!(!s.esp.join("paddock/b/vmlinuz.new").exists());
    // A boot file larger than signed never fills the ESP.
    let (code, body) = call(&app, "PUT", "/boot/initrd", None, vec![0u8; 1 << 20]).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(!s.esp.join("paddock/b/initrd.new").exists());
    for (name, data) in [("vmlinuz", &kernel), ("initrd", &initrd)] {
        let (code, body) = call(&app, "PUT", &format!("/boot/{name}"), None, data.clone()).await;
        assert_eq!(code, StatusCode::OK, "{name}: {body}");
        assert_eq!(
            &std::fs::read(s.esp.join("paddock/b").join(name)).unwrap(),
            data
        );
    }

    let (code, st) = call(&app, "GET", "/status", None, vec![]).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(st["verified"]["root"]["sha256"], sha(&root));
    assert_eq!(st["verified"]["statement"]["generation"], 3, "{st}");

    // The title is the signed version: another one, or one with a newline,
    // is refused.
    for bad in [
        r#"{"version":"v9"}"#,
        r#"{"version":"v3\noptions init=/bin/sh"}"#,
    ] {
        let (code, body) = call(&app, "POST", "/switch", None, bad.as_bytes().to_vec()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (code, body) = call(
        &app,
        "POST",
        "/switch",
        None,
        br#"{"version":"v3"}"#.to_vec(),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["entry"], "paddock-00000003-b+3.conf");
    assert_eq!(
        entries(&s.esp),
        ["paddock-00000002-a.conf", "paddock-00000003-b+3.conf"]
    );
    let text =
        std::fs::read_to_string(s.esp.join("loader/entries/paddock-00000003-b+3.conf")).unwrap();
    assert!(
        text.contains("options root=PARTUUID=22222222-2222-2222-2222-222222222222 ")
            && text.contains(" paddock.slot=b "),
        "{text}"
    );
    assert!(text.contains("title paddock v3 (slot b)"), "{text}");
    // The signed root hash goes to stage 1 on the command line.
    assert!(
        text.contains(&format!(" {} ", verity.to_cmdline())),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("options")).count(), 1);

    // A second switch needs a fresh statement and upload.
    let (code, _) = call(&app, "POST", "/switch", None, vec![]).await;
    assert_eq!(code, StatusCode::CONFLICT);
    let (code, st) = call(&app, "GET", "/status", None, vec![]).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(st["entries"][0]["file"], "paddock-00000003-b+3.conf");
    assert_eq!(st["entries"][0]["state"], "probation");
}

#[tokio::test]
async fn a_root_larger_than_the_slot_is_refused_before_writing() {
    let s = stage('a');
    let app = router_with(UpdateState::new(s.device.clone()));
    let big = vec![7u8; (1 << 20) + 1];
    let (code, body) = put_statement(&app, &s.key, &statement(3, &big, b"k", b"i")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, body) = call(&app, "PUT", "/root", None, big).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(
        entries(&s.esp),
        ["paddock-00000001-b.conf", "paddock-00000002-a.conf"],
        "refused before the slot was made unbootable"
    );
}

#[tokio::test]
async fn the_floor_on_perm_holds_when_an_older_slot_runs() {
    let s = stage('b');
    // Slot a (generation 7) was marked good once; b (generation 2) runs now.
    std::fs::create_dir_all(s.device.marked_good.parent().unwrap()).unwrap();
    std::fs::write(&s.device.marked_good, r#"{"generation":7}"#).unwrap();
    let app = router_with(UpdateState::new(s.device.clone()));
    let root = b"root for a".to_vec();
    let (code, body) = put_statement(&app, &s.key, &statement(7, &root, b"k", b"i")).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(error(&body).contains("generation 7"), "{body}");
    let (code, body) = put_statement(&app, &s.key, &statement(8, &root, b"k", b"i")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, body) = call(&app, "PUT", "/root", None, root.clone()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        &std::fs::read(s.dev.join("vda1")).unwrap()[..root.len()],
        &root[..]
    );
    assert_eq!(
        entries(&s.esp),
        ["paddock-00000001-b.conf"],
        "a's entry removed first"
    );
}

#[tokio::test]
async fn a_device_without_a_key_refuses_every_update() {
    let s = stage('a');
    std::fs::remove_file(&s.device.update_key).unwrap();
    let app = router_with(UpdateState::new(s.device.clone()));
    let (code, body) = put_statement(&app, &s.key, &statement(3, b"r", b"k", b"i")).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(error(&body).contains("no usable update key"), "{body}");
}

/// A key rotation: the build carrying the new key is signed by the new and
/// the old key; a device that trusts the old one accepts it for the old
/// key's signature, and refuses it signed by the new key alone.
#[tokio::test]
async fn a_new_key_is_accepted_only_when_the_old_key_signed_too() {
    let s = stage('a');
    let app = router_with(UpdateState::new(s.device.clone()));
    let (new_key, _) = SigningKey::generate().unwrap();
    let mut st = statement(3, b"root", b"k", b"i");
    st.root_key = new_key.public().fingerprint();
    let (bytes, new_sig) = paddock_trust::sign_statement(&new_key, &st).unwrap();
    let old_sig = s.key.sign(&bytes).unwrap();
    let (code, body) = call_with(
        &app,
        "PUT",
        "/statement",
        &[("X-Paddock-Signature", new_sig.clone())],
        bytes.clone(),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let (code, body) = call_with(
        &app,
        "PUT",
        "/statement",
        &[
            ("X-Paddock-Signature", new_sig),
            ("X-Paddock-Signature", old_sig),
        ],
        bytes,
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}
