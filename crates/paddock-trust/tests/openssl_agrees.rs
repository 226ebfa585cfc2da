//! Another implementation agrees: OpenSSL verifies paddock's signatures the
//! way `cosign verify-blob --key` does (ECDSA P-256, SHA-256 of the blob,
//! DER signature, SPKI PEM key), and paddock verifies OpenSSL's.

use std::process::Command;

use base64::Engine;
use paddock_trust::{PublicKey, SigningKey};

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is missing: apt-get install openssl")
}

#[test]
fn openssl_verifies_our_signature_and_we_verify_its() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n).to_string_lossy().into_owned();
    let (key, private_pem) = SigningKey::generate().unwrap();
    std::fs::write(p("update.key"), &private_pem).unwrap();
    std::fs::write(p("update.pub"), key.public().to_pem()).unwrap();
    let blob = b"{\"kind\":\"paddock.update.v1\"}\n";
    std::fs::write(p("update.json"), blob).unwrap();
    let sig = key.sign(blob).unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&sig)
        .unwrap();
    std::fs::write(p("sig.der"), der).unwrap();

    let out = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &p("update.pub"),
        "-signature",
        &p("sig.der"),
        &p("update.json"),
    ]);
    assert!(
        out.status.success(),
        "openssl refused our signature: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(p("other.json"), b"{}").unwrap();
    let out = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &p("update.pub"),
        "-signature",
        &p("sig.der"),
        &p("other.json"),
    ]);
    assert!(
        !out.status.success(),
        "openssl accepted a signature of other bytes"
    );

    // OpenSSL signs with our private key file; we verify with the public one.
    let out = openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        &p("update.key"),
        "-out",
        &p("openssl.sig"),
        &p("update.json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(p("openssl.sig")).unwrap());
    let public =
        PublicKey::from_pem(&std::fs::read_to_string(p("update.pub")).unwrap(), "pub").unwrap();
    public.verify(blob, &theirs).unwrap();
}
