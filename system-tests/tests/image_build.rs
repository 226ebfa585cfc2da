//! `paddock new` / `add` / `build` / `write` through the real CLI: the
//! image layout, reproducibility (two builds, one sha256), and bad input
//! failing early without leaving output behind.
//!
//! The system binaries here are static stand-ins (busybox copies): these
//! tests check the image format; tests/vm_boot.rs boots the real ones.

use paddock_testkit as support;
use paddock_testkit::image;

use std::path::Path;
use std::process::Command;

use image::*;

fn gpt_names(img: &Path) -> String {
    let out = Command::new("sfdisk")
        .arg("--dump")
        .arg(img)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn build_is_reproducible_and_has_the_contract_layout() {
    for (t, p) in [
        ("mksquashfs", "squashfs-tools"),
        ("mkfs.ext4", "e2fsprogs"),
        ("depmod", "kmod"),
        ("sfdisk", "fdisk"),
        ("unsquashfs", "squashfs-tools"),
    ] {
        assert!(
            ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
                .iter()
                .any(|d| Path::new(d).join(t).is_file()),
            "{t} is missing: apt-get install {p}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let inst = tmp.path().join("inst");
    new_instance(&inst, "repro");
    std::fs::write(
        inst.join("containers/web.yaml"),
        "image: 10.0.2.2:5000/test/busybox:latest\ncommand: [httpd, -f, -p, \"8080\"]\nnetwork: host\n",
    )
    .unwrap();
    // Copied into /perm (for paddock-breakglass).
    let keys =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test\n";
    std::fs::write(inst.join("breakglass.authorized_keys"), keys).unwrap();
    let bins = stand_in_bins(tmp.path());
    // A dynamically linked stand-in: its loader and libraries must ship.
    std::fs::copy("/bin/ls", bins.join("paddockd")).unwrap();
    let bins = bins.to_str().unwrap();
    let a = tmp.path().join("a.img");
    let b = tmp.path().join("b.img");
    let out = build(&inst, &a, &["--bin-dir", bins]);
    assert!(out.status.success(), "first build: {}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(report.contains("wrote"), "{report}");
    // The second build takes its epoch from the environment, as a
    // reproducible-builds setup gives it (mksquashfs must not see it).
    let out = Command::new(support::instance::bin("paddock"))
        .args(["build", "--instance", inst.to_str().unwrap(), "-o"])
        .arg(&b)
        .args(["-q", "--bin-dir", bins])
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .output()
        .unwrap();
    assert!(out.status.success(), "second build: {}", stderr(&out));
    assert_eq!(sha256(&a), sha256(&b), "two builds of one instance differ");

    // The GPT of the contract.
    let dump = gpt_names(&a);
    for name in ["\"esp\"", "\"root-a\"", "\"root-b\"", "\"perm\""] {
        assert!(dump.contains(name), "no partition {name}:\n{dump}");
    }
    assert!(dump.contains("label: gpt"), "{dump}");
    // /perm holds the instance's breakglass.authorized_keys.
    let perm_keys = |img: &Path, dump: &str| -> String {
        let start: u64 = dump
            .lines()
            .find(|l| l.contains("name=\"perm\""))
            .and_then(|l| l.split("start=").nth(1))
            .and_then(|r| r.split(',').next())
            .map(|n| n.trim().parse().unwrap())
            .expect("perm partition start");
        let out = Command::new("debugfs")
            .arg("-R")
            .arg("cat /breakglass.authorized_keys")
            .arg(format!("{}?offset={}", img.display(), start * 512))
            .output()
            .expect("debugfs (apt-get install e2fsprogs)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(perm_keys(&a, &dump), keys);

    // The SBOM lists the root's files; the root has what the contract says.
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("a.img.sbom.json")).unwrap())
            .unwrap();
    let paths: Vec<&str> = sbom["root"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for want in [
        "sbin/init",
        "usr/bin/paddock-init",
        "usr/bin/paddockd",
        "usr/bin/paddock-runner",
        "usr/bin/paddock-breakglass",
        "usr/bin/paddock",
        "etc/paddock/system.json",
        "etc/paddock/paddockd.yaml",
        "etc/paddock/registries.yaml",
        "etc/paddock/containers/web.yaml",
        "etc/paddock/build.json",
        "etc/ssl/certs/ca-certificates.crt",
        "etc/resolv.conf",
        "etc/nsswitch.conf",
    ] {
        assert!(paths.contains(&want), "{want} not in the root: {paths:?}");
    }
    let interp = String::from_utf8_lossy(
        &Command::new("readelf")
            .args(["-l", "/bin/ls"])
            .output()
            .expect("readelf (apt-get install binutils)")
            .stdout,
    )
    .split("interpreter: /")
    .nth(1)
    .and_then(|s| s.split(']').next())
    .unwrap()
    .to_string();
    assert!(paths.contains(&interp.as_str()), "no {interp}: {paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("lib/") && p.ends_with("/libc.so.6")),
        "no libc.so.6 for the dynamic paddockd: {paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.ends_with("/modules.dep")),
        "no modules.dep"
    );
    let esp: Vec<&str> = sbom["esp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for want in [
        "EFI/BOOT/BOOTX64.EFI",
        "loader/loader.conf",
        "loader/entries/paddock-00000002-a.conf",
        "loader/entries/paddock-00000001-b.conf",
        "paddock/a/vmlinuz",
        "paddock/a/initrd",
        "paddock/b/initrd",
    ] {
        assert!(esp.contains(&want), "{want} not on the ESP: {esp:?}");
    }
    assert!(sbom["kernel"]["package"]
        .as_str()
        .unwrap()
        .starts_with("linux-image-"));

    // paddock write --full FILE --target-size: /perm grows, GUIDs stay.
    let disk = tmp.path().join("disk.raw");
    let out = paddock(&[
        "write",
        "--image",
        a.to_str().unwrap(),
        "--full",
        disk.to_str().unwrap(),
        "--target-size",
        "2GiB",
    ]);
    assert!(out.status.success(), "write: {}", stderr(&out));
    assert_eq!(std::fs::metadata(&disk).unwrap().len(), 2 << 30);
    let written = gpt_names(&disk);
    let guid_of = |dump: &str, name: &str| -> String {
        dump.lines()
            .find(|l| l.contains(&format!("name=\"{name}\"")))
            .and_then(|l| l.split("uuid=").nth(1))
            .map(|s| s.split(',').next().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(guid_of(&dump, "root-a"), guid_of(&written, "root-a"));
    // The new, bigger /perm keeps the image's files.
    assert_eq!(perm_keys(&disk, &written), keys);
    // A target smaller than the image is refused and nothing is left.
    let small = tmp.path().join("small.raw");
    let out = paddock(&[
        "write",
        "--image",
        a.to_str().unwrap(),
        "--full",
        small.to_str().unwrap(),
        "--target-size",
        "100MiB",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("needs at least"), "{}", stderr(&out));
    assert!(!small.exists());
}

#[test]
fn bad_input_fails_early_and_leaves_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let inst = tmp.path().join("inst");
    new_instance(&inst, "bad");
    let bins = stand_in_bins(tmp.path());
    let bins = bins.to_str().unwrap();
    let img = tmp.path().join("out.img");
    let no_output = |what: &str| {
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("out.img"))
            .collect();
        assert!(left.is_empty(), "{what}: left {left:?}");
    };

    // Unknown key: file:line:col.
    let cfg = inst.join("config.yaml");
    let good = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{good}kernal: x\n")).unwrap();
    let out = build(&inst, &img, &["--bin-dir", bins]);
    assert!(!out.status.success());
    let err = stderr(&out);
    let line = good.lines().count() + 1;
    assert!(err.contains(&format!("config.yaml:{line}:1")), "{err}");
    no_output("unknown key");

    // A kernel package apt does not know.
    std::fs::write(&cfg, &good).unwrap();
    set_config(&inst, "kernel", "{package: linux-image-does-not-exist}");
    let out = build(&inst, &img, &["--bin-dir", bins]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("linux-image-does-not-exist"),
        "{}",
        stderr(&out)
    );
    no_output("missing kernel package");

    // A program that fails to build.
    std::fs::write(&cfg, &good).unwrap();
    let prog = inst.join("broken");
    std::fs::create_dir_all(prog.join("src")).unwrap();
    std::fs::write(
        prog.join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(prog.join("src/main.rs"), "fn main() { this is not rust }\n").unwrap();
    let out = paddock(&[
        "add",
        "--instance",
        inst.to_str().unwrap(),
        prog.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "add: {}", stderr(&out));
    let out = build(&inst, &img, &["--bin-dir", bins]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("program broken"), "{}", stderr(&out));
    no_output("broken program");

    // A broken container manifest.
    std::fs::write(&cfg, &good).unwrap();
    std::fs::write(
        inst.join("containers/x.yaml"),
        "image: busybox\nportz: []\n",
    )
    .unwrap();
    let out = build(&inst, &img, &["--bin-dir", bins]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("x.yaml:2:1"), "{}", stderr(&out));
    no_output("broken manifest");
    std::fs::remove_file(inst.join("containers/x.yaml")).unwrap();

    // A "system binary" that is no executable.
    std::fs::write(Path::new(bins).join("paddockd"), "#!/bin/sh\n").unwrap();
    let out = build(&inst, &img, &["--bin-dir", bins]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("paddockd") && stderr(&out).contains("not an ELF file"),
        "{}",
        stderr(&out)
    );
    no_output("not an executable");
    std::fs::copy("/bin/busybox", Path::new(bins).join("paddockd")).unwrap();

    // A root partition too small for the root file system.
    set_config(&inst, "disk", "{root: 16MiB}");
    let out = build(&inst, &img, &["--bin-dir", bins]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("disk.root"), "{}", stderr(&out));
    no_output("root too small");
}

fn openssl_verifies(public: &Path, sig_b64: &Path, data: &Path, tmp: &Path) -> bool {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(std::fs::read_to_string(sig_b64).unwrap().trim())
        .unwrap();
    let der_path = tmp.join("sig.der");
    std::fs::write(&der_path, der).unwrap();
    Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public)
        .arg("-signature")
        .arg(&der_path)
        .arg(data)
        .output()
        .expect("openssl (apt-get install openssl)")
        .status
        .success()
}

/// `paddock new` makes the keys (private ones 0600, never in the image);
/// `paddock build --update-dir` signs the update so that OpenSSL (as
/// `cosign verify-blob --key`) accepts it, names every piece's digest, and
/// counts generations by contents; a rotation signs with both keys; an
/// instance without keys is told the one command that makes them.
#[test]
fn builds_are_signed_ordered_and_keys_stay_out_of_the_image() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let inst = tmp.path().join("inst");
    new_instance(&inst, "signed");
    let keys = inst.join("keys");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    for private in [
        "update.key",
        "password.salt",
        "secure-boot/PK.key",
        "secure-boot/KEK.key",
        "secure-boot/db.key",
        "tls/ca.key",
    ] {
        assert_eq!(mode(&keys.join(private)), 0o600, "{private}");
    }
    for public in ["update.pub", "secure-boot/db.crt", "tls/ca.crt"] {
        assert!(keys.join(public).is_file(), "{public}");
    }
    let bins = stand_in_bins(tmp.path());
    let bins = bins.to_str().unwrap();
    let upd = tmp.path().join("update-1");
    let img = tmp.path().join("a.img");
    let upd_arg = upd.to_str().unwrap();
    let out = build(&inst, &img, &["--bin-dir", bins, "--update-dir", upd_arg]);
    assert!(out.status.success(), "build: {}", stderr(&out));
    assert!(stderr(&out).contains("generation 1"), "{}", stderr(&out));

    // The signature: cosign's blob format, checked by OpenSSL.
    let statement = upd.join("update.json");
    assert!(openssl_verifies(
        &keys.join("update.pub"),
        &upd.join("update.json.sig"),
        &statement,
        tmp.path()
    ));
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&statement).unwrap()).unwrap();
    assert_eq!(st["kind"], "paddock.update.v1");
    assert_eq!(st["instance"], "signed");
    assert_eq!(st["generation"], 1);
    for (piece, file) in [
        ("root", "root.squashfs"),
        ("vmlinuz", "vmlinuz"),
        ("initrd", "initrd"),
    ] {
        assert_eq!(
            st["pieces"][piece]["sha256"],
            sha256(&upd.join(file)),
            "{piece}"
        );
    }
    let mut changed = std::fs::read(&statement).unwrap();
    changed.extend_from_slice(b" ");
    std::fs::write(tmp.path().join("changed.json"), changed).unwrap();
    assert!(!openssl_verifies(
        &keys.join("update.pub"),
        &upd.join("update.json.sig"),
        &tmp.path().join("changed.json"),
        tmp.path()
    ));

    // The root holds the public key only.
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("a.img.sbom.json")).unwrap())
            .unwrap();
    let files = sbom["root"].as_array().unwrap();
    let public = files
        .iter()
        .find(|f| f["path"] == "etc/paddock/update.pub")
        .expect("etc/paddock/update.pub in the root");
    assert_eq!(public["sha256"], sha256(&keys.join("update.pub")));
    assert!(
        !files.iter().any(|f| {
            let p = f["path"].as_str().unwrap();
            p.ends_with(".key") || p.contains("salt")
        }),
        "a private key file is in the root"
    );

    // Same contents: same generation (and the same bytes); new contents:
    // the next one.
    let out = build(&inst, &img, &["--bin-dir", bins]);
    assert!(stderr(&out).contains("generation 1"), "{}", stderr(&out));
    std::fs::write(
        inst.join("containers/web.yaml"),
        "image: 10.0.2.2:5000/test/busybox:latest\nnetwork: host\n",
    )
    .unwrap();
    let out = build(&inst, &img, &["--bin-dir", bins]);
    assert!(stderr(&out).contains("generation 2"), "{}", stderr(&out));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(inst.join("generation.json")).unwrap()).unwrap();
    assert_eq!(record["generation"], 2);

    // A rotation: the build carries the new key and is signed by both.
    let old_pub = tmp.path().join("old.pub");
    std::fs::copy(keys.join("update.pub"), &old_pub).unwrap();
    let out = paddock(&["keys", "rotate", "--instance", inst.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let upd = tmp.path().join("update-3");
    let out = build(
        &inst,
        &img,
        &["--bin-dir", bins, "--update-dir", upd.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("generation 3"), "{}", stderr(&out));
    let statement = upd.join("update.json");
    assert!(openssl_verifies(
        &keys.join("update.pub"),
        &upd.join("update.json.sig"),
        &statement,
        tmp.path()
    ));
    assert!(openssl_verifies(
        &old_pub,
        &upd.join("update.json.previous.sig"),
        &statement,
        tmp.path()
    ));
    assert!(!openssl_verifies(
        &old_pub,
        &upd.join("update.json.sig"),
        &statement,
        tmp.path()
    ));
    let out = paddock(&[
        "keys",
        "rotate",
        "--finish",
        "--instance",
        inst.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!keys.join("update.previous.key").exists());

    // An instance from before signed updates.
    std::fs::remove_dir_all(&keys).unwrap();
    let out = build(&inst, &tmp.path().join("b.img"), &["--bin-dir", bins]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("paddock keys init --instance"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("b.img").exists());
    let out = paddock(&["keys", "init", "--instance", inst.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = build(&inst, &tmp.path().join("b.img"), &["--bin-dir", bins]);
    assert!(out.status.success(), "{}", stderr(&out));
}
