//! Hostile input: blobs tampered with in the registry's storage, and
//! layers that try to write outside their directory. Each pull must fail
//! with a clear error and commit nothing.

use paddock_testkit as support;

use std::fs;

use paddock_store::build::{build_image_from_tars, ImageBuildConfig};
use paddock_store::{Store, StoreError};
use support::*;
use tar::EntryType;

/// Nothing of a failed pull is left: no record, no layer, no blob, no temp.
fn assert_nothing_committed(store: &Store) {
    assert!(store.images().unwrap().is_empty(), "no image record");
    assert!(
        layer_dirs(store).is_empty(),
        "no layer dir: {:?}",
        layer_dirs(store)
    );
    assert!(
        blob_files(store).is_empty(),
        "no blob: {:?}",
        blob_files(store)
    );
    assert!(
        temp_entries(store).is_empty(),
        "no temp files: {:?}",
        temp_entries(store)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_blobs_fail_with_a_digest_error() {
    let reg = TestRegistry::start();
    let fs1 = rootfs(&[("file", &"x".repeat(100_000))]);
    let image = build(&[fs1.path()], ImageBuildConfig::default());
    let reference = push(&image, &reg, "tampered").await;

    // Flip bytes of the layer blob in place (same length).
    let data = reg.blob_data_path(&image.layers[0].descriptor.digest);
    let mut bytes = fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    bytes[mid + 1] ^= 0xff;
    fs::write(&data, &bytes).unwrap();

    let (_root, store) = temp_store();
    let err = store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("digest"), "{msg}");
    assert_nothing_committed(&store);

    // The config too.
    let fs2 = rootfs(&[("other", "y")]);
    let image = build(&[fs2.path()], ImageBuildConfig::default());
    let reference = push(&image, &reg, "tampered-config").await;
    let data = reg.blob_data_path(&image.manifest.config.digest);
    let mut bytes = fs::read(&data).unwrap();
    bytes[0] = b' ';
    fs::write(&data, &bytes).unwrap();
    let err = store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("digest"), "{err}");
    assert_nothing_committed(&store);
}

#[tokio::test(flavor = "multi_thread")]
async fn malicious_layers_are_rejected_and_leave_nothing() {
    let reg = TestRegistry::start();
    let outside = tempfile::tempdir().unwrap();
    let pwned_link = outside.path().to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<RawEntry<'_>>, &str)> = vec![
        (
            "traversal",
            vec![
                RawEntry::new("ok", EntryType::Regular).data(b"fine"),
                RawEntry::new("../../../../../../tmp/paddock-escape", EntryType::Regular)
                    .data(b"x"),
            ],
            "..",
        ),
        (
            "absolute",
            vec![RawEntry::new("/tmp/paddock-escape", EntryType::Regular).data(b"x")],
            "absolute",
        ),
        (
            "symlink-parent",
            vec![
                RawEntry::new("evil", EntryType::Symlink).link(&pwned_link),
                RawEntry::new("evil/pwned", EntryType::Regular).data(b"x"),
            ],
            "symlink",
        ),
        (
            "hardlink-escape",
            vec![RawEntry::new("passwd", EntryType::Link).link("../../../../../../etc/passwd")],
            "..",
        ),
        (
            "hardlink-absolute",
            vec![RawEntry::new("passwd", EntryType::Link).link("/etc/passwd")],
            "absolute",
        ),
        (
            "hardlink-via-symlink",
            vec![
                RawEntry::new("etc", EntryType::Symlink).link("/etc"),
                RawEntry::new("passwd", EntryType::Link).link("etc/passwd"),
            ],
            "symlink",
        ),
        (
            "device",
            vec![RawEntry::new("dev/mem", EntryType::Char).dev(1, 1)],
            "device",
        ),
        (
            "block-device",
            vec![RawEntry::new("dev/sda", EntryType::Block).dev(8, 0)],
            "device",
        ),
    ];
    for (name, entries, needle) in cases {
        // A good layer below the bad one: even it must not remain.
        let good = raw_tar(&[RawEntry::new(name, EntryType::Regular).data(b"good")]);
        let image =
            build_image_from_tars(vec![good, raw_tar(&entries)], ImageBuildConfig::default())
                .unwrap();
        let reference = push(&image, &reg, &format!("evil-{name}")).await;
        let (_root, store) = temp_store();
        let mut o = opts(reg.registries());
        o.max_concurrent_layers = 1;
        let err = store.pull(&reference, &o).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Layer(_)), "{name}: {msg}");
        assert!(
            msg.contains("unsafe layer entry") && msg.contains(needle),
            "{name}: {msg}"
        );
        // The good layer was committed (it is fine and shareable); the bad
        // one, its blob, the record and every temp file are not.
        assert!(store.images().unwrap().is_empty(), "{name}");
        assert!(
            !store.layer_path(&image.layers[1].diff_id).exists(),
            "{name}"
        );
        assert!(
            !store.blob_path(&image.layers[1].descriptor.digest).exists(),
            "{name}"
        );
        assert!(!store.blob_path(&image.manifest_digest).exists(), "{name}");
        assert!(
            temp_entries(&store).is_empty(),
            "{name}: {:?}",
            temp_entries(&store)
        );
        assert!(
            !std::path::Path::new("/tmp/paddock-escape").exists(),
            "{name}"
        );
        assert!(tree(outside.path()).is_empty(), "{name}: wrote outside");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_bad_layer_leaves_an_empty_store() {
    let reg = TestRegistry::start();
    let image = build_image_from_tars(
        vec![raw_tar(&[
            RawEntry::new("../x", EntryType::Regular).data(b"x")
        ])],
        ImageBuildConfig::default(),
    )
    .unwrap();
    let reference = push(&image, &reg, "evil-single").await;
    let (_root, store) = temp_store();
    store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap_err();
    assert_nothing_committed(&store);
}
