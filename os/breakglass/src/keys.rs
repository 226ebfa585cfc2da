//! Keys: the host key (generated once, kept in /perm so clients can pin
//! it) and the authorized client keys (read again for every connection so
//! editing the file needs no restart).

use std::path::{Path, PathBuf};

use russh::keys::ssh_key::authorized_keys::AuthorizedKeys;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::ssh_key::{HashAlg, LineEnding};
use russh::keys::{PrivateKey, PublicKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an OpenSSH private key: {source}")]
    Parse {
        path: PathBuf,
        source: russh::keys::ssh_key::Error,
    },
    #[error("encoding the new host key: {0}")]
    Encode(russh::keys::ssh_key::Error),
}

/// Loads the host key at `path`, or generates an ed25519 key there (mode
/// 0600, written to a temp file and renamed) plus `PATH.pub`.
pub fn host_key(path: &Path) -> Result<PrivateKey, KeyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            return PrivateKey::from_openssh(text.as_bytes()).map_err(|source| KeyError::Parse {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(KeyError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    }
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let pair = Ed25519Keypair::from_seed(&seed);
    let key = PrivateKey::new(KeypairData::Ed25519(pair), "paddock-breakglass host key")
        .map_err(KeyError::Encode)?;
    let text = key.to_openssh(LineEnding::LF).map_err(KeyError::Encode)?;
    write_new(path, text.as_bytes(), 0o600)?;
    let public = key.public_key().to_openssh().map_err(KeyError::Encode)?;
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    write_new(
        Path::new(&pub_path),
        format!("{public}\n").as_bytes(),
        0o644,
    )?;
    tracing::info!(path = %path.display(), "generated a new host key");
    Ok(key)
}

/// Writes `data` with `mode` by paddock_sys's atomic write.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyError> {
    // A key write cut short by a power cut left its temp file on /perm.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = paddock_sys::fs::clean_stale_temps(dir);
    }
    paddock_sys::fs::write_atomic(path, data, mode).map_err(|source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The keys allowed to log in. A missing file means no keys; lines that
/// do not parse, and lines with options (`command=`, `from=`, …, which
/// this server does not implement), are skipped with a warning so a
/// restriction is never silently dropped.
pub fn authorized(path: &Path) -> Vec<PublicKey> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(path = %path.display(), "no authorized keys ({e}): every login is refused");
            return Vec::new();
        }
    };
    let mut keys = Vec::new();
    for (i, entry) in AuthorizedKeys::new(&text).enumerate() {
        match entry {
            Ok(e) if !e.config_opts().is_empty() => tracing::warn!(
                path = %path.display(),
                "entry {}: options ({}) are not supported; key ignored",
                i + 1,
                e.config_opts().as_str()
            ),
            Ok(e) => keys.push(e.public_key().clone()),
            Err(err) => {
                tracing::warn!(path = %path.display(), "entry {}: {err}; ignored", i + 1)
            }
        }
    }
    keys
}

/// `SHA256:…`, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_is_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host_key");
        let a = host_key(&path).unwrap();
        let b = host_key(&path).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        let pub_text = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
        assert!(pub_text.starts_with("ssh-ed25519 "), "{pub_text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn bad_host_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host_key");
        std::fs::write(&path, "nonsense").unwrap();
        let e = host_key(&path).unwrap_err().to_string();
        assert!(e.contains("not an OpenSSH private key"), "{e}");
    }

    #[test]
    fn authorized_keys_skip_bad_lines_and_options() {
        let dir = tempfile::tempdir().unwrap();
        let k = host_key(&dir.path().join("k")).unwrap();
        let line = k.public_key().to_openssh().unwrap();
        let path = dir.path().join("authorized_keys");
        std::fs::write(
            &path,
            format!("# comment\n\nnot a key\ncommand=\"ls\" {line}\n{line} me@host\n"),
        )
        .unwrap();
        let keys = authorized(&path);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key_data(), k.public_key().key_data());
        assert!(authorized(&dir.path().join("missing")).is_empty());
    }
}
