//! Pulling real images from a real registry: single and multi layer, OCI
//! and docker schema2, gzip/zstd/plain layers, indexes resolved per
//! platform; then records, configs, import and prune.

use paddock_testkit as support;

use std::fs;

use paddock_store::build::{push_index, ImageBuildConfig, LayerCompression, ManifestFormat};
use paddock_store::{normalize_reference, Platform, StoreError};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn pulls_a_single_layer_image() {
    let reg = TestRegistry::start();
    let fs1 = rootfs(&[("bin/hello", "hello world\n"), ("etc/motd", "hi\n")]);
    let image = build(
        &[fs1.path()],
        ImageBuildConfig {
            entrypoint: Some(vec!["/bin/hello".into()]),
            env: vec!["A=1".into()],
            workdir: Some("/tmp".into()),
            user: Some("1000:1000".into()),
            ..Default::default()
        },
    );
    let reference = push(&image, &reg, "single").await;
    let (_root, store) = temp_store();
    let rec = store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap();

    assert_eq!(rec.reference, format!("{reference}:latest"));
    assert_eq!(rec.manifest_digest, image.manifest_digest);
    assert_eq!(rec.layers.len(), 1);
    assert_eq!(rec.platform, Platform::default());
    assert_eq!(rec.size, image.layers[0].descriptor.size);
    let lowers = store.lower_dirs(&rec);
    assert_eq!(
        fs::read_to_string(lowers[0].join("bin/hello")).unwrap(),
        "hello world\n"
    );
    assert_eq!(
        fs::read_to_string(lowers[0].join("etc/motd")).unwrap(),
        "hi\n"
    );
    // Blobs are where their digests say.
    for d in rec.blobs() {
        let bytes = fs::read(store.blob_path(d)).unwrap();
        assert_eq!(&paddock_store::Digest::of(&bytes), d);
    }
    let cfg = store.image_config(&rec).unwrap();
    let c = cfg.config().as_ref().unwrap();
    assert_eq!(
        c.entrypoint().as_ref().unwrap(),
        &vec!["/bin/hello".to_string()]
    );
    assert_eq!(c.env().as_ref().unwrap(), &vec!["A=1".to_string()]);
    assert_eq!(c.working_dir().as_deref(), Some("/tmp"));
    assert_eq!(c.user().as_deref(), Some("1000:1000"));

    assert_eq!(store.image(&reference).unwrap().unwrap(), rec);
    assert_eq!(store.images().unwrap(), vec![rec.clone()]);
    assert!(temp_entries(&store).is_empty());

    // A second pull finds everything local and downloads no layer again.
    let gets = reg.blob_gets(&rec.layers[0].digest);
    assert_eq!(gets, 1);
    store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap();
    assert_eq!(reg.blob_gets(&rec.layers[0].digest), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn pulls_multi_layer_images_in_every_format() {
    let reg = TestRegistry::start();
    let base = rootfs(&[("etc/os-release", "base\n"), ("usr/bin/tool", "v1\n")]);
    let mid = rootfs(&[("usr/bin/tool", "v2\n"), ("opt/app/", "")]);
    let top = rootfs(&[("opt/app/run", "run\n")]);
    let cases = [
        ("oci-gzip", ManifestFormat::Oci, LayerCompression::Gzip),
        ("oci-zstd", ManifestFormat::Oci, LayerCompression::Zstd),
        ("oci-plain", ManifestFormat::Oci, LayerCompression::None),
        (
            "docker-gzip",
            ManifestFormat::Docker,
            LayerCompression::Gzip,
        ),
        (
            "docker-plain",
            ManifestFormat::Docker,
            LayerCompression::None,
        ),
    ];
    let (_root, store) = temp_store();
    let mut diff_ids = None;
    for (repo, format, compression) in cases {
        let image = build(
            &[base.path(), mid.path(), top.path()],
            ImageBuildConfig {
                format,
                compression,
                cmd: Some(vec!["/opt/app/run".into()]),
                ..Default::default()
            },
        );
        let reference = push(&image, &reg, repo).await;
        let rec = store
            .pull(&reference, &opts(reg.registries()))
            .await
            .unwrap_or_else(|e| panic!("{repo}: {e}"));
        assert_eq!(rec.layers.len(), 3, "{repo}");
        assert_eq!(
            rec.layers[0].media_type,
            image.layers[0].descriptor.media_type
        );
        // The same filesystem content gives the same diff_ids whatever the
        // compression, so layers are unpacked once and shared.
        let ids: Vec<_> = rec.diff_ids().into_iter().cloned().collect();
        match &diff_ids {
            None => diff_ids = Some(ids),
            Some(prev) => assert_eq!(prev, &ids, "{repo}"),
        }
        let lowers = store.lower_dirs(&rec);
        assert_eq!(lowers.len(), 3);
        assert!(lowers[0].join("opt/app/run").exists(), "top layer first");
        assert_eq!(
            fs::read_to_string(lowers[1].join("usr/bin/tool")).unwrap(),
            "v2\n"
        );
        assert_eq!(
            fs::read_to_string(lowers[2].join("usr/bin/tool")).unwrap(),
            "v1\n"
        );
        let cfg = store.image_config(&rec).unwrap();
        assert_eq!(cfg.rootfs().diff_ids().len(), 3);
    }
    assert_eq!(layer_dirs(&store).len(), 3, "one dir per distinct diff_id");
    assert_eq!(store.images().unwrap().len(), 5);
    assert!(temp_entries(&store).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn resolves_an_index_to_the_requested_platform() {
    let reg = TestRegistry::start();
    let amd = rootfs(&[("arch", "amd64\n")]);
    let arm = rootfs(&[("arch", "arm64\n")]);
    let armv7 = rootfs(&[("arch", "armv7\n")]);
    let img = |dir: &std::path::Path, platform: Platform, format| {
        build(
            &[dir],
            ImageBuildConfig {
                platform,
                format,
                ..Default::default()
            },
        )
    };
    for (repo, format) in [
        ("multi", ManifestFormat::Oci),
        ("multi-docker", ManifestFormat::Docker),
    ] {
        let a = img(amd.path(), Platform::linux("amd64"), format);
        let b = img(
            arm.path(),
            Platform::linux("arm64").with_variant("v8"),
            format,
        );
        let c = img(
            armv7.path(),
            Platform::linux("arm").with_variant("v7"),
            format,
        );
        let reference = format!("{}/{repo}:1", reg.host_port());
        let index_digest = push_index(&[&a, &b, &c], &reference, &reg.registries())
            .await
            .unwrap();

        let (_root, store) = temp_store();
        let rec = store
            .pull(&reference, &opts(reg.registries()))
            .await
            .unwrap();
        assert_eq!(
            rec.manifest_digest, a.manifest_digest,
            "{repo}: amd64 by default"
        );
        assert_eq!(rec.index_digest.as_ref(), Some(&index_digest));
        assert_eq!(
            fs::read_to_string(store.lower_dirs(&rec)[0].join("arch")).unwrap(),
            "amd64\n"
        );

        for (platform, want, text) in [
            ("linux/arm64", &b, "arm64\n"),
            ("linux/arm64/v8", &b, "arm64\n"),
            ("linux/arm/v7", &c, "armv7\n"),
            ("linux/arm", &c, "armv7\n"),
        ] {
            let o = opts(reg.registries()).with_platform(platform.parse().unwrap());
            let rec = store.pull(&reference, &o).await.unwrap();
            assert_eq!(
                rec.manifest_digest, want.manifest_digest,
                "{repo} {platform}"
            );
            assert_eq!(rec.platform, want.platform);
            assert_eq!(
                fs::read_to_string(store.lower_dirs(&rec)[0].join("arch")).unwrap(),
                text
            );
        }
        let o = opts(reg.registries()).with_platform("linux/riscv64".parse().unwrap());
        let err = store.pull(&reference, &o).await.unwrap_err();
        assert!(matches!(err, StoreError::NoPlatform { .. }), "{err}");
        assert!(err.to_string().contains("linux/arm64/v8"), "{err}");
    }

    // A single-platform image of another architecture is refused.
    let only_arm = img(arm.path(), Platform::linux("arm64"), ManifestFormat::Oci);
    let reference = push(&only_arm, &reg, "only-arm").await;
    let (_root, store) = temp_store();
    let err = store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongPlatform { .. }), "{err}");
    assert!(store.images().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_keeps_what_is_referenced() {
    let reg = TestRegistry::start();
    let shared = rootfs(&[("shared", "s\n")]);
    let only_a = rootfs(&[("a", "a\n")]);
    let only_b = rootfs(&[("b", "b\n")]);
    let a = build(&[shared.path(), only_a.path()], ImageBuildConfig::default());
    let b = build(&[shared.path(), only_b.path()], ImageBuildConfig::default());
    let ra = push(&a, &reg, "prune-a").await;
    let rb = push(&b, &reg, "prune-b").await;
    let (_root, store) = temp_store();
    let rec_a = store.pull(&ra, &opts(reg.registries())).await.unwrap();
    let rec_b = store.pull(&rb, &opts(reg.registries())).await.unwrap();
    assert_eq!(layer_dirs(&store).len(), 3);
    assert_eq!(blob_files(&store).len(), 2 * 2 + 3);

    // Keep only a: b's own layer, config and manifest go; the shared layer stays.
    let report = store.prune(std::slice::from_ref(&ra)).await.unwrap();
    assert_eq!(report.images_removed, vec![rec_b.reference.clone()]);
    assert_eq!(report.layers_removed, vec![rec_b.layers[1].diff_id.clone()]);
    assert_eq!(report.blobs_removed.len(), 3);
    assert!(report.bytes_freed > 0);
    assert!(store.image(&rb).unwrap().is_none());
    for l in store.lower_dirs(&rec_a) {
        assert!(l.is_dir(), "layer of a kept image survives");
    }
    for d in rec_a.blobs() {
        assert!(store.blob_path(d).is_file());
    }
    assert!(!store.layer_path(&rec_b.layers[1].diff_id).exists());

    // Removing the record, then pruning with nothing in use, empties the store.
    assert!(store.remove_image(&ra).unwrap());
    assert!(!store.remove_image(&ra).unwrap());
    let report = store.prune(&[]).await.unwrap();
    assert!(report.images_removed.is_empty());
    assert!(blob_files(&store).iter().all(|n| n.starts_with(".tmp-")));
    assert!(layer_dirs(&store).is_empty());
    let locks: Vec<_> = std::fs::read_dir(store.root().join("locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(locks, vec!["store.lock"], "per-blob lock files pruned");
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_a_built_image_without_a_registry() {
    let fs1 = rootfs(&[("hello", "imported\n")]);
    let image = build(&[fs1.path()], ImageBuildConfig::default());
    let (_root, store) = temp_store();
    let rec = store.import(&image, "paddock/local:dev").await.unwrap();
    assert_eq!(rec.reference, "docker.io/paddock/local:dev");
    assert_eq!(rec.manifest_digest, image.manifest_digest);
    assert_eq!(
        fs::read_to_string(store.lower_dirs(&rec)[0].join("hello")).unwrap(),
        "imported\n"
    );
    assert_eq!(
        store
            .image(&normalize_reference("paddock/local:dev").unwrap())
            .unwrap()
            .unwrap(),
        rec
    );
}
