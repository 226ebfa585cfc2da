use super::*;

fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join(CONFIG_FILE), text).unwrap();
}

#[test]
fn new_writes_a_config_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let i = Instance::create(&dir.path().join("box"), "box").unwrap();
    assert_eq!(i.config.hostname, "box");
    assert_eq!(i.config.update_password.len(), 20);
    assert_eq!(
        i.config.kernel.package.as_deref(),
        Some(config::DEFAULT_KERNEL_PACKAGE)
    );
    assert!(dir.path().join("box/containers").is_dir());
    // A second `new` refuses to overwrite.
    assert!(matches!(
        Instance::create(&dir.path().join("box"), "box"),
        Err(InstanceError::Exists { .. })
    ));
    // Saving and loading again keeps the config.
    i.save().unwrap();
    assert_eq!(Instance::load(&i.dir).unwrap().config, i.config);
}

#[test]
fn unknown_keys_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "hostname: a\nupdate_password: 12345678\nprogramz: []\n",
    );
    let err = Instance::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("config.yaml:3:1"), "{err}");
    assert!(err.contains("programz"), "{err}");
}

#[test]
fn semantic_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = "hostname: a\nupdate_password: 12345678\n";
    for (extra, want) in [
        ("programs: [{name: x}]\n", "programs[0]: give path"),
        ("programs: [{name: x, path: nope}]\n", "has no Cargo.toml"),
        ("disk: {esp: 1MiB}\n", "disk.esp: at least"),
        ("disk: {root: 10XB}\n", "unknown size unit"),
        ("kernel: {package: a, deb: b}\n", "not both"),
        ("registries: {insecure: [\"http://x\"]}\n", "insecure"),
        (
            "update: {healthy_for_secs: 90}\n",
            "update.healthy_for_secs (90) must be less than update.health_timeout_secs (60)",
        ),
        ("update: {tries: 0}\n", "update.tries: at least 1"),
    ] {
        write(dir.path(), &format!("{base}{extra}"));
        let err = Instance::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(want), "{extra}: {err}");
    }
    write(
        dir.path(),
        "hostname: bad_name\nupdate_password: 12345678\n",
    );
    let err = Instance::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("hostname"), "{err}");
}
