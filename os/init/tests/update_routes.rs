//! The `/update` routes against a staged device: sysfs and /dev with a GPT
//! disk whose partitions are plain files, and the ESP as a directory (the
//! vfat mount itself is exercised in the VM test, tests/vm_update.rs).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use paddock_init::update::{router_with, Device, Esp, UpdateState};
use paddock_testkit::staged_disk::{self, StagedDisk};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

struct Staged {
    _tmp: tempfile::TempDir,
    device: Device,
    esp: PathBuf,
    dev: PathBuf,
}

/// Disk `vda`: vda1 root-a, vda2 root-b (1 MiB files), GUIDs 0x11…, 0x22….
fn stage(running: char) -> Staged {
    let tmp = tempfile::tempdir().unwrap();
    let staged = staged_disk::stage_device(
        tmp.path(),
        running,
        &["paddock-00000002-a.conf", "paddock-00000001-b.conf"],
        r#"{"version":"v1","build_time":"2026-01-01T00:00:00Z","kernel":"6.1.0"}"#,
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
    };
    Staged {
        _tmp: tmp,
        device,
        esp,
        dev,
    }
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    sha: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(s) = sha {
        req = req.header("X-Paddock-Sha256", s);
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

    // A corrupted body: refused, and slot b is no longer bootable.
    let root: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (code, body) = call(&app, "PUT", "/root", Some(&sha(b"other")), root.clone()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("sha256 mismatch"),
        "{body}"
    );
    assert_eq!(entries(&s.esp), ["paddock-00000002-a.conf"]);
    // No header at all.
    let (code, _) = call(&app, "PUT", "/root", None, root.clone()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    // Too big for the partition.
    let big = vec![7u8; (1 << 20) + 1];
    let (code, body) = call(&app, "PUT", "/root", Some(&sha(&big)), big).await;
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
    assert!(
        body["error"].as_str().unwrap().contains("vmlinuz, initrd"),
        "{body}"
    );

    let (code, _) = call(&app, "PUT", "/boot/grub", Some(&sha(b"x")), b"x".to_vec()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let kernel = b"kernel v2".to_vec();
    let (code, body) = call(
        &app,
        "PUT",
        "/boot/vmlinuz",
        Some(&sha(b"nope")),
        kernel.clone(),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        !s.esp.join("paddock/b/vmlinuz").exists(),
        "a refused file is not installed"
    );
    assert!(!s.esp.join("paddock/b/vmlinuz.new").exists());
    let (code, body) = call(
        &app,
        "PUT",
        "/boot/vmlinuz",
        Some(&sha(&kernel)),
        kernel.clone(),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let initrd = b"initrd v2".to_vec();
    let (code, body) = call(
        &app,
        "PUT",
        "/boot/initrd",
        Some(&sha(&initrd)),
        initrd.clone(),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        std::fs::read(s.esp.join("paddock/b/vmlinuz")).unwrap(),
        kernel
    );
    assert_eq!(
        std::fs::read(s.esp.join("paddock/b/initrd")).unwrap(),
        initrd
    );

    let (code, st) = call(&app, "GET", "/status", None, vec![]).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(st["verified"]["root"]["sha256"], sha(&root));

    let (code, body) = call(
        &app,
        "POST",
        "/switch",
        None,
        br#"{"version":"v2"}"#.to_vec(),
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
        text.contains("options root=PARTUUID=22222222-2222-2222-2222-222222222222 paddock.slot=b "),
        "{text}"
    );
    assert!(text.contains("title paddock v2 (slot b)"), "{text}");

    // A second switch needs a fresh upload.
    let (code, _) = call(&app, "POST", "/switch", None, vec![]).await;
    assert_eq!(code, StatusCode::CONFLICT);
    let (code, st) = call(&app, "GET", "/status", None, vec![]).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(st["entries"][0]["file"], "paddock-00000003-b+3.conf");
    assert_eq!(st["entries"][0]["state"], "probation");
}

#[tokio::test]
async fn slot_b_running_writes_a() {
    let s = stage('b');
    let app = router_with(UpdateState::new(s.device.clone()));
    let root = b"root for a".to_vec();
    let (code, body) = call(&app, "PUT", "/root", Some(&sha(&root)), root.clone()).await;
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
