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

/// A blocking TLS connection to `addr` that trusts only the instance's CA
/// and expects the certificate of `name` (as `paddock --instance` does).
pub fn connect(
    addr: &std::net::SocketAddr,
    instance: &Path,
    name: &str,
    timeout: std::time::Duration,
) -> Option<
    tokio_rustls::rustls::StreamOwned<tokio_rustls::rustls::ClientConnection, std::net::TcpStream>,
> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(instance.join("keys/tls/ca.crt")).ok()?;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.ok()?).ok()?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server = rustls::pki_types::ServerName::try_from(name.to_string()).ok()?;
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), server).ok()?;
    let tcp = std::net::TcpStream::connect_timeout(addr, std::time::Duration::from_secs(2)).ok()?;
    tcp.set_read_timeout(Some(timeout)).ok()?;
    Some(rustls::StreamOwned::new(conn, tcp))
}
