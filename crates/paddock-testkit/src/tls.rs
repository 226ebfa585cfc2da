//! A device certificate for tests that run init on the host: issued by an
//! instance's CA (`keys/tls/ca.*`, made by `paddock new`) for `name`, and
//! written where init looks for it (`<root>/etc/paddock/tls/`), as
//! `paddock build` puts it into an image.

use std::path::Path;

/// Issues a certificate for `name` from the CA in `instance/keys/tls` and
/// installs it with its key under `root`.
pub fn install_device_cert(instance: &Path, name: &str, root: &Path) {
    let tls = instance.join("keys/tls");
    let ca_pem = std::fs::read_to_string(tls.join("ca.crt")).expect("keys/tls/ca.crt");
    let ca_key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(tls.join("ca.key")).unwrap())
        .expect("the CA key");
    let ca = rcgen::CertificateParams::from_ca_cert_pem(&ca_pem)
        .expect("the CA certificate")
        .self_signed(&ca_key)
        .unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let dir = root.join("etc/paddock/tls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), format!("{}{ca_pem}", cert.pem())).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}
