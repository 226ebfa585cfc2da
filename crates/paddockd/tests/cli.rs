//! The `paddock` CLI against a real paddockd: validate, images, pull, rmi,
//! prune, and the automatic prune after the manifests change.

use paddock_testkit as support;

use std::process::Command;
use std::time::Duration;

use support::instance::{bin, busybox_rootfs, push_busybox, Instance};
use support::registry::TestRegistry;

#[test]
fn validate_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yaml"), "name: good\nimage: busybox\n").unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "name: bad\nimage: busybox\nports:\n  - \"80800:80\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("typo.yaml"),
        "name: typo\nimage: busybox\nrestrat: always\n",
    )
    .unwrap();
    let out = Command::new(bin("paddock"))
        .arg("validate")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("good.yaml (good)"), "{stdout}");
    assert!(stderr.contains("bad.yaml:4:5"), "{stderr}");
    assert!(stderr.contains("80800"), "{stderr}");
    assert!(stderr.contains("typo.yaml:3:1"), "{stderr}");
    assert!(stderr.contains("restrat"), "{stderr}");
    assert!(stdout.contains("1 valid, 2 with errors"), "{stdout}");
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn images_are_pulled_listed_removed_and_pruned() {
    let registry = TestRegistry::start();
    let mut inst = Instance::new(&[registry.host_port()]);
    let first = push_busybox(&registry.host_port(), "test/first:1", inst.root());
    let second = push_busybox(&registry.host_port(), "test/second:1", inst.root());
    inst.write_manifest(
        "a.yaml",
        &format!("name: a\nimage: {first}\ncommand: [sleep, '1000']\n"),
    );
    inst.start();
    inst.wait_state("a", "running");

    stdout(&inst.paddock(&["pull", &second]));
    let images = stdout(&inst.paddock(&["images"]));
    assert!(
        images.contains("test/first:1") && images.contains("test/second:1"),
        "{images}"
    );

    let refused = inst.paddock(&["rmi", &first]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("used by a declared container"));

    stdout(&inst.paddock(&["rmi", &second]));
    let images = stdout(&inst.paddock(&["images"]));
    assert!(!images.contains("test/second:1"), "{images}");
    stdout(&inst.paddock(&["prune"]));

    // After the manifest moves to another image, the old one is pruned.
    inst.write_manifest(
        "a.yaml",
        &format!("name: a\nimage: {second}\ncommand: [sleep, '1000']\n"),
    );
    stdout(&inst.paddock(&["apply"]));
    inst.wait_for(Duration::from_secs(30), "a on the second image", || {
        inst.container("a")
            .filter(|c| c["state"] == "running" && c["image"] == second.as_str())
    });
    let images = stdout(&inst.paddock(&["images", "--json"]));
    let images: Vec<serde_json::Value> = serde_json::from_str(&images).unwrap();
    let refs: Vec<&str> = images
        .iter()
        .filter_map(|i| i["reference"].as_str())
        .collect();
    assert!(refs.iter().all(|r| !r.contains("test/first")), "{refs:?}");
    assert!(refs.iter().any(|r| r.contains("test/second")), "{refs:?}");
}

#[test]
fn sigkill_during_a_pull_leaves_a_consistent_store() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let registry = TestRegistry::start();
    // 8 MB through a proxy that passes 16 KiB every 10 ms: a pull of ~5 s.
    let proxy = rt.block_on(support::proxy::Proxy::start(
        registry.host_port(),
        Some(16 * 1024),
    ));
    let mut inst = Instance::new(&[registry.host_port(), proxy.host_port()]);
    let base = tempfile::tempdir().unwrap();
    busybox_rootfs(base.path());
    let big = tempfile::tempdir().unwrap();
    let mut data = vec![0u8; 8 << 20];
    let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
    std::io::Read::read_exact(&mut urandom, &mut data).unwrap();
    std::fs::write(big.path().join("blob.bin"), &data).unwrap();
    let tag = format!("{}/test/big:1", registry.host_port());
    let out = Command::new(bin("paddock"))
        .arg("--root")
        .arg(inst.root())
        .args(["image", "build", "--rootfs"])
        .arg(base.path())
        .arg("--layer")
        .arg(big.path())
        .args(["--tag", &tag, "--push"])
        .output()
        .unwrap();
    stdout(&out);
    let slow = format!("{}/test/big:1", proxy.host_port());
    inst.write_manifest(
        "big.yaml",
        &format!("name: big\nimage: {slow}\ncommand: [sleep, '1000']\n"),
    );
    inst.start();
    inst.wait_state("big", "pulling");
    std::thread::sleep(Duration::from_millis(1500));
    inst.kill_daemon();
    let store = inst.root().join("var/lib/paddock");
    let records = std::fs::read_dir(store.join("images"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        records, 0,
        "an image record was committed before the pull finished"
    );

    inst.start();
    inst.wait_state("big", "running");
    let leftovers: Vec<String> = walk(&store)
        .into_iter()
        .filter(|p| p.contains("/.tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    let out = inst.paddock(&["exec", "big", "--", "wc", "-c", "/blob.bin"]);
    assert!(stdout(&out).starts_with("8388608"));
    drop(proxy);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) && !p.ends_with("rootfs") {
                stack.push(p);
            }
        }
    }
    out
}
