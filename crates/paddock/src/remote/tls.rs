//! HTTPS to a device: the certificate must chain to the instance's CA
//! (`keys/tls/ca.crt`) and name the instance's host name, whatever address
//! the device is reached at (a forwarded port, an IP from DHCP). No system
//! roots are trusted and there is no way to skip the check.

use std::sync::Arc;

use anyhow::Context;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Who the device must prove to be.
#[derive(Debug, Clone)]
pub struct TlsTarget {
    /// PEM of the instance's CA certificate.
    pub ca_pem: String,
    /// Where it came from, for messages.
    pub ca_path: std::path::PathBuf,
    /// The name the certificate must carry: the instance's host name.
    pub server_name: String,
}

/// A connection: plain (a device without a certificate, or none known) or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects to `host` (`HOST:PORT`), with TLS when `tls` is given.
pub async fn connect(host: &str, tls: Option<&TlsTarget>) -> anyhow::Result<Box<dyn Io>> {
    let tcp = TcpStream::connect(host)
        .await
        .with_context(|| format!("connecting to {host}"))?;
    let _ = tcp.set_nodelay(true);
    let Some(target) = tls else {
        return Ok(Box::new(tcp));
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(target.ca_pem.as_bytes()) {
        let cert = cert.with_context(|| format!("reading {}", target.ca_path.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("{}: not a CA certificate", target.ca_path.display()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(target.server_name.clone())
        .with_context(|| format!("{:?} is not a host name", target.server_name))?;
    let stream = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .with_context(|| {
            format!(
                "TLS with {host}: its certificate must be {:?}'s, from the instance's CA {} \
                 (a device built from another instance, or not a paddock device?)",
                target.server_name,
                target.ca_path.display()
            )
        })?;
    Ok(Box::new(stream))
}
