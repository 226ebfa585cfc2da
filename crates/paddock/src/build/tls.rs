//! The device's HTTPS certificate: issued by the instance's CA
//! (`keys/tls/ca.*`) for the device's names, with the key made once in
//! `keys/tls/device.key`. The certificate is kept in `keys/tls/device.crt`
//! and reused while its names are the same and it has more than 30 days
//! left, so rebuilding the same instance gives the same bytes (an ECDSA
//! signature is never the same twice). Valid 825 days: the longest macOS
//! and iOS accept for a server certificate, even from a private CA.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{io_err, BuildError, Result};
use crate::instance::keys::Keys;

const VALID_DAYS: i64 = 825;
const RENEW_DAYS: i64 = 30;

/// `keys/tls/device.json`: what `device.crt` was issued for.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Issued {
    names: Vec<String>,
    not_after: i64,
}

/// What goes into the image: the certificate chain (device, then CA) and
/// the key, both PEM.
pub struct DeviceTls {
    pub chain: String,
    pub key: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> BuildError {
    BuildError::Layout(format!("{}: {e}", path.display()))
}

/// The device certificate for `names` (host names and addresses), issued
/// now unless the kept one still fits.
pub fn device(keys: &Keys, names: &[String], now: i64) -> Result<DeviceTls> {
    let dir = keys.dir.join("tls");
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                BuildError::Instance(keys.missing())
            } else {
                io_err("reading", &path)(e)
            }
        })
    };
    let key_pem = read("device.key")?;
    let ca_pem = read("ca.crt")?;
    let (crt_path, record_path) = (dir.join("device.crt"), dir.join("device.json"));
    let kept = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Issued>(&b).ok())
        .filter(|r| r.names == names && r.not_after - now > RENEW_DAYS * 86_400)
        .and_then(|_| std::fs::read_to_string(&crt_path).ok());
    let cert_pem = match kept {
        Some(c) => c,
        None => {
            let ca_key = rcgen::KeyPair::from_pem(&read("ca.key")?).map_err(|e| err(&dir, e))?;
            let ca_params =
                rcgen::CertificateParams::from_ca_cert_pem(&ca_pem).map_err(|e| err(&dir, e))?;
            let ca = ca_params.self_signed(&ca_key).map_err(|e| err(&dir, e))?;
            let key = rcgen::KeyPair::from_pem(&key_pem).map_err(|e| err(&dir, e))?;
            let mut params =
                rcgen::CertificateParams::new(names.to_vec()).map_err(|e| err(&dir, e))?;
            params.distinguished_name.push(
                rcgen::DnType::CommonName,
                names.first().cloned().unwrap_or_default(),
            );
            params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
            params.not_before = rcgen::date_time_ymd(1970, 1, 1) + time_from(now - 86_400);
            let not_after = now + VALID_DAYS * 86_400;
            params.not_after = rcgen::date_time_ymd(1970, 1, 1) + time_from(not_after);
            let cert = params
                .signed_by(&key, &ca, &ca_key)
                .map_err(|e| err(&dir, e))?;
            let pem = cert.pem();
            crate::instance::write_private(&crt_path, pem.as_bytes())?;
            let record = Issued {
                names: names.to_vec(),
                not_after,
            };
            let json = serde_json::to_vec_pretty(&record).map_err(|e| err(&record_path, e))?;
            crate::instance::write_private(&record_path, &json)?;
            pem
        }
    };
    Ok(DeviceTls {
        chain: format!("{}{}", cert_pem, ca_pem),
        key: key_pem,
    })
}

fn time_from(secs: i64) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}
