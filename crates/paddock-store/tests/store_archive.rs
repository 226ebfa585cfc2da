//! Importing OCI image layout archives (the images `paddock build` preloads
//! into an appliance image) into a store: verified, idempotent per archive,
//! and a corrupt archive is refused without touching the store.

use paddock_testkit as support;

use std::path::Path;

use paddock_store::build::{BuiltImage, ImageBuildConfig};
use paddock_store::import_preloaded;
use support::{build, rootfs, temp_store};

/// Writes `image` as an OCI layout archive naming it `reference`;
/// `corrupt` flips a byte of the first layer.
fn write_archive(image: &BuiltImage, reference: &str, path: &Path, corrupt: bool) {
    let mut tar = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: String, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, data).unwrap();
    };
    add(
        format!("blobs/sha256/{}", image.manifest_digest.hex()),
        &image.manifest_bytes,
    );
    add(
        format!("blobs/sha256/{}", image.manifest.config.digest.hex()),
        &image.config_bytes,
    );
    for (i, layer) in image.layers.iter().enumerate() {
        let mut data = layer.data.to_vec();
        if corrupt && i == 0 {
            let last = data.len() - 1;
            data[last] ^= 0xff;
        }
        add(
            format!("blobs/sha256/{}", layer.descriptor.digest.hex()),
            &data,
        );
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": image.media_type(),
            "digest": image.manifest_digest.to_string(),
            "size": image.manifest_bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": reference},
        }],
    });
    add("index.json".into(), &serde_json::to_vec(&index).unwrap());
    add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    tar.finish().unwrap();
}

fn image() -> BuiltImage {
    let fs = rootfs(&[("etc/hello", "preloaded\n"), ("bin/", "")]);
    build(&[fs.path()], ImageBuildConfig::default())
}

#[tokio::test]
async fn a_preloaded_archive_is_imported_once_and_verified() {
    let (_root, store) = temp_store();
    let dir = tempfile::tempdir().unwrap();
    let image = image();
    write_archive(
        &image,
        "registry.test/app:1",
        &dir.path().join("app.tar"),
        false,
    );

    import_preloaded(dir.path(), &store).await;
    let record = store
        .image("registry.test/app:1")
        .unwrap()
        .expect("imported");
    assert_eq!(record.manifest_digest, image.manifest_digest);
    let lowers = store.lower_dirs(&record);
    assert_eq!(
        std::fs::read_to_string(lowers[0].join("etc/hello")).unwrap(),
        "preloaded\n"
    );

    // Removed by the user: the same archive is not imported again.
    assert!(store.remove_image("registry.test/app:1").unwrap());
    import_preloaded(dir.path(), &store).await;
    assert!(store.image("registry.test/app:1").unwrap().is_none());
}

#[tokio::test]
async fn a_corrupt_archive_is_refused_and_the_others_are_imported() {
    let (_root, store) = temp_store();
    let dir = tempfile::tempdir().unwrap();
    let image = image();
    write_archive(
        &image,
        "registry.test/bad:1",
        &dir.path().join("a-bad.tar"),
        true,
    );
    write_archive(
        &image,
        "registry.test/good:1",
        &dir.path().join("b-good.tar"),
        false,
    );

    let err = store
        .import_oci_archive(&dir.path().join("a-bad.tar"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer"), "{err}");
    assert!(
        err.contains(image.layers[0].descriptor.digest.hex()),
        "{err}"
    );
    import_preloaded(dir.path(), &store).await;
    assert!(store.image("registry.test/bad:1").unwrap().is_none());
    assert!(store.image("registry.test/good:1").unwrap().is_some());

    std::fs::write(dir.path().join("c-junk.tar"), b"not a tar").unwrap();
    let err = store
        .import_oci_archive(&dir.path().join("c-junk.tar"))
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.is_empty());
}
