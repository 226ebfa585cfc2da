//! The store against registries that are not simply there: credentials,
//! plain HTTP, mirrors, concurrent pulls and pulls that are interrupted.

use paddock_testkit as support;

use std::path::Path;
use std::time::{Duration, Instant};

use paddock_store::build::{
    self, build_image_from_tars, BuiltImage, ImageBuildConfig, LayerCompression,
};
use paddock_store::{Digest, RegistriesConfig, Store};
use paddock_wire::paths::Paths;
use support::proxy::Proxy;
use support::*;

/// An image with one large, incompressible layer (slow through a
/// throttled proxy) on top of a small one.
fn big_image(mb: usize, seed: u64) -> BuiltImage {
    let mut x = seed | 1;
    let data: Vec<u8> = (0..mb << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let small = raw_tar(&[RawEntry::new("small", tar::EntryType::Regular).data(b"small")]);
    let big = raw_tar(&[RawEntry::new("big", tar::EntryType::Regular).data(&data)]);
    build_image_from_tars(
        vec![small, big],
        ImageBuildConfig {
            compression: LayerCompression::Gzip,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Every record's blobs verify and its layers exist; no temp files.
fn assert_consistent(store: &Store) {
    for rec in store.images().unwrap() {
        for d in rec.blobs() {
            let bytes = std::fs::read(store.blob_path(d)).unwrap();
            assert_eq!(&Digest::of(&bytes), d);
        }
        for l in store.lower_dirs(&rec) {
            assert!(l.is_dir());
        }
    }
    assert!(temp_entries(store).is_empty(), "{:?}", temp_entries(store));
}

async fn wait_for_temp(store_dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = ["blobs/sha256", "layers"].iter().any(|d| {
            std::fs::read_dir(store_dir.join(d))
                .map(|rd| {
                    rd.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
                })
                .unwrap_or(false)
        });
        if found {
            return;
        }
        assert!(Instant::now() < deadline, "pull never started writing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_with_credentials_from_a_docker_config() {
    let reg = TestRegistry::start_with(RegistryAuthMode::Basic {
        username: "paddock".into(),
        password: "s3cret".into(),
    });
    let root = tempfile::tempdir().unwrap();
    let paths = Paths::new(root.path());
    std::fs::create_dir_all(paths.etc()).unwrap();
    let auth_file = root.path().join("docker-config.json");
    // base64("paddock:s3cret")
    std::fs::write(
        &auth_file,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"cGFkZG9jazpzM2NyZXQ="}}}}}}"#,
            reg.host_port()
        ),
    )
    .unwrap();
    std::fs::write(
        paths.registries_config(),
        format!(
            "insecure: [\"{}\"]\nauth_file: {}\n",
            reg.host_port(),
            auth_file.display()
        ),
    )
    .unwrap();
    let registries = RegistriesConfig::load(&paths.registries_config()).unwrap();

    let fs1 = rootfs(&[("secret", "behind auth\n")]);
    let image = build(&[fs1.path()], ImageBuildConfig::default());
    let reference = format!("{}/private/app:1", reg.host_port());

    // Anonymous push and pull are refused.
    assert!(build::push(&image, &reference, &reg.registries())
        .await
        .is_err());
    build::push(&image, &reference, &registries).await.unwrap();

    let store = Store::open(&paths).unwrap();
    let err = store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("authorized"),
        "{err}"
    );
    assert!(store.images().unwrap().is_empty());

    let rec = store.pull(&reference, &opts(registries)).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(store.lower_dirs(&rec)[0].join("secret")).unwrap(),
        "behind auth\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_only_for_insecure_registries() {
    let reg = TestRegistry::start();
    let fs1 = rootfs(&[("f", "f")]);
    let image = build(&[fs1.path()], ImageBuildConfig::default());
    let reference = push(&image, &reg, "plain").await;
    let (_root, store) = temp_store();
    let err = store
        .pull(&reference, &opts(RegistriesConfig::default()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("https") && msg.contains("insecure") && msg.contains(&reg.host_port()),
        "{msg}"
    );
    assert!(store.images().unwrap().is_empty());
    // Listing a different port does not help.
    let other = RegistriesConfig::default().with_insecure(format!("127.0.0.1:{}", free_port()));
    assert!(store.pull(&reference, &opts(other)).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn mirrors_are_tried_in_order_before_the_upstream() {
    let reg = TestRegistry::start();
    let fs1 = rootfs(&[("from", "mirror\n")]);
    let image = build(&[fs1.path()], ImageBuildConfig::default());
    // The mirror holds docker.io/library/mirrored under its usual path.
    push(&image, &reg, "library/mirrored").await;
    let dead = format!("127.0.0.1:{}", free_port());
    let root = tempfile::tempdir().unwrap();
    let yaml = format!(
        "insecure: [\"{dead}\", \"{mirror}\"]\nmirrors:\n  docker.io: [\"{dead}\", \"{mirror}\"]\n",
        mirror = reg.host_port()
    );
    let registries = RegistriesConfig::parse(&yaml, &root.path().join("registries.yaml")).unwrap();
    let (_r, store) = temp_store();
    let rec = store.pull("mirrored", &opts(registries)).await.unwrap();
    assert_eq!(rec.reference, "docker.io/library/mirrored:latest");
    assert_eq!(
        std::fs::read_to_string(store.lower_dirs(&rec)[0].join("from")).unwrap(),
        "mirror\n"
    );
    assert_eq!(reg.blob_gets(&rec.layers[0].digest), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_pulls_fetch_each_blob_once() {
    let reg = TestRegistry::start();
    let image = big_image(2, 7);
    let reference = push(&image, &reg, "concurrent").await;
    let root = tempfile::tempdir().unwrap();
    let paths = Paths::new(root.path());
    let store = Store::open(&paths).unwrap();
    let other = Store::open(&paths).unwrap(); // a second handle, like another process
    let o = opts(reg.registries());
    let (a, b, c) = tokio::join!(
        store.pull(&reference, &o),
        store.pull(&reference, &o),
        other.pull(&reference, &o)
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(a.manifest_digest, b.manifest_digest);
    assert_eq!(a.manifest_digest, c.manifest_digest);
    for l in &image.layers {
        assert_eq!(
            reg.blob_gets(&l.descriptor.digest),
            1,
            "layer {}",
            l.descriptor.digest
        );
    }
    assert_eq!(reg.blob_gets(&image.manifest.config.digest), 1, "config");
    assert_consistent(&store);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_pull_leaves_nothing_and_the_next_one_succeeds() {
    let reg = TestRegistry::start();
    let image = big_image(4, 11);
    push(&image, &reg, "interrupted").await;
    let proxy = Proxy::start(reg.host_port(), Some(16 * 1024)).await;
    let slow_ref = format!("{}/interrupted", proxy.host_port());
    let slow = RegistriesConfig::default().with_insecure(proxy.host_port());

    let (root, store) = temp_store();
    let task = {
        let (store, slow_ref, slow) = (store.clone(), slow_ref.clone(), slow.clone());
        tokio::spawn(async move { store.pull(&slow_ref, &opts(slow)).await })
    };
    wait_for_temp(store.root()).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // The unpacker thread notices the closed stream and removes its temp dir.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !temp_entries(&store).is_empty() {
        assert!(
            Instant::now() < deadline,
            "temps left: {:?}",
            temp_entries(&store)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(store.images().unwrap().is_empty());
    assert!(!store.layer_path(&image.layers[1].diff_id).exists());
    drop(proxy);

    let store = Store::open(&Paths::new(root.path())).unwrap();
    let reference = format!("{}/interrupted", reg.host_port());
    let rec = store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap();
    assert_eq!(rec.manifest_digest, image.manifest_digest);
    assert_consistent(&store);
}

/// Entry point for the child process of `a_killed_pull_is_cleaned_up_on_open`;
/// does nothing unless that test starts it.
#[tokio::test(flavor = "multi_thread")]
async fn child_pull_helper() {
    let (Ok(dir), Ok(reference), Ok(insecure)) = (
        std::env::var("PADDOCK_CHILD_STORE"),
        std::env::var("PADDOCK_CHILD_REF"),
        std::env::var("PADDOCK_CHILD_INSECURE"),
    ) else {
        return;
    };
    let store = Store::open(&Paths::new(dir)).unwrap();
    let registries = RegistriesConfig::default().with_insecure(insecure);
    store.pull(&reference, &opts(registries)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_pull_is_cleaned_up_on_open() {
    let reg = TestRegistry::start();
    let image = big_image(4, 13);
    push(&image, &reg, "killed").await;
    let proxy = Proxy::start(reg.host_port(), Some(16 * 1024)).await;
    let root = tempfile::tempdir().unwrap();
    let paths = Paths::new(root.path());

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_pull_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PADDOCK_CHILD_STORE", root.path())
        .env("PADDOCK_CHILD_REF", format!("{}/killed", proxy.host_port()))
        .env("PADDOCK_CHILD_INSECURE", proxy.host_port())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_temp(&paths.store()).await;
    child.kill().unwrap(); // SIGKILL: no destructors run
    child.wait().unwrap();

    let leftovers = tree(&paths.store())
        .into_iter()
        .filter(|p| p.rsplit('/').next().unwrap_or("").starts_with(".tmp-"))
        .count();
    assert!(leftovers > 0, "the kill left temp files behind");
    let store = Store::open(&paths).unwrap();
    assert!(temp_entries(&store).is_empty(), "open removed them");
    assert!(store.images().unwrap().is_empty());

    let rec = store
        .pull(
            &format!("{}/killed", reg.host_port()),
            &opts(reg.registries()),
        )
        .await
        .unwrap();
    assert_eq!(rec.manifest_digest, image.manifest_digest);
    assert_consistent(&store);
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_token_registry() {
    use support::token::{TokenKeys, TokenServer};
    let keys = std::sync::Arc::new(TokenKeys::generate());
    let tokens = TokenServer::start(keys.clone(), "tok", "en").await;
    let reg = TestRegistry::start_with(RegistryAuthMode::Token {
        realm: tokens.realm(),
        cert_pem: keys.cert_pem.clone(),
    });
    let with_creds = reg
        .registries()
        .with_credentials(reg.host_port(), "tok", "en");
    let fs1 = rootfs(&[("bearer", "token auth\n")]);
    let image = build(&[fs1.path()], ImageBuildConfig::default());
    let reference = format!("{}/tokens/app", reg.host_port());
    build::push(&image, &reference, &with_creds).await.unwrap();
    assert!(tokens.issued() > 0);

    let (_root, store) = temp_store();
    let err = store
        .pull(&reference, &opts(reg.registries()))
        .await
        .unwrap_err();
    assert!(
        store.images().unwrap().is_empty(),
        "anonymous pull refused: {err}"
    );
    let wrong = reg
        .registries()
        .with_credentials(reg.host_port(), "tok", "wrong");
    assert!(store.pull(&reference, &opts(wrong)).await.is_err());

    let rec = store.pull(&reference, &opts(with_creds)).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(store.lower_dirs(&rec)[0].join("bearer")).unwrap(),
        "token auth\n"
    );
}
