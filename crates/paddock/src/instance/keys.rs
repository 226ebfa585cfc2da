//! The instance's keys, in `keys/` beside config.yaml: made by `paddock
//! new` (or `paddock keys init` for an older instance), read by `paddock
//! build`, never copied into an image (only public halves are). Private
//! files are 0600, the folder 0700; nothing here is ever overwritten
//! except by `paddock keys rotate`.
//!
//! ```text
//! keys/
//!   update.key  update.pub       signs updates (cosign-compatible P-256)
//!   update.previous.key          after a rotation: still signs, for devices
//!                                that trust the old key
//!   password.salt                the update password's bcrypt salt (random)
//!   secure-boot/{PK,KEK,db}.{key,crt}   the UEFI Secure Boot key set (RSA-2048)
//!   tls/ca.{key,crt}             the CA of the device's HTTPS certificate
//!   tls/device.key               the device's HTTPS key (goes into the image)
//!   tls/device.{crt,json}        its certificate, issued by `paddock build`
//! ```

use std::path::{Path, PathBuf};

use paddock_trust::{PublicKey, SigningKey};

use super::{write_private, InstanceError};

/// The folder's name inside an instance directory.
pub const KEYS_DIR: &str = "keys";

/// The keys of one instance.
#[derive(Debug, Clone)]
pub struct Keys {
    pub dir: PathBuf,
}

/// The update key and, during a rotation, the previous one.
pub struct UpdateKeys {
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> InstanceError {
    InstanceError::Invalid {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

impl Keys {
    pub fn of(instance_dir: &Path) -> Keys {
        Keys {
            dir: instance_dir.join(KEYS_DIR),
        }
    }

    pub fn update_key_path(&self) -> PathBuf {
        self.dir.join("update.key")
    }

    pub fn update_pub_path(&self) -> PathBuf {
        self.dir.join("update.pub")
    }

    fn previous_key_path(&self) -> PathBuf {
        self.dir.join("update.previous.key")
    }

    fn salt_path(&self) -> PathBuf {
        self.dir.join("password.salt")
    }

    /// Makes every key that is missing; returns the files it wrote.
    pub fn init(&self, hostname: &str) -> Result<Vec<PathBuf>, InstanceError> {
        self.make_dir(&self.dir)?;
        let mut made = Vec::new();
        if !self.update_key_path().exists() {
            let (key, pem) =
                SigningKey::generate().map_err(|e| invalid(&self.update_key_path(), e))?;
            write_private(&self.update_key_path(), pem.as_bytes())?;
            write_public(&self.update_pub_path(), key.public().to_pem().as_bytes())?;
            made.push(self.update_key_path());
            made.push(self.update_pub_path());
        }
        if !self.salt_path().exists() {
            let salt: [u8; 16] = rand::random();
            write_private(
                &self.salt_path(),
                format!("{}\n", hex::encode(salt)).as_bytes(),
            )?;
            made.push(self.salt_path());
        }
        let sb = self.dir.join("secure-boot");
        self.make_dir(&sb)?;
        for name in ["PK", "KEK", "db"] {
            let (key, crt) = (
                sb.join(format!("{name}.key")),
                sb.join(format!("{name}.crt")),
            );
            if key.exists() {
                continue;
            }
            let (k, c) = certificate(
                &format!("paddock {hostname} Secure Boot {name}"),
                Algorithm::Rsa2048,
            )
            .map_err(|e| invalid(&key, e))?;
            write_private(&key, k.as_bytes())?;
            write_public(&crt, c.as_bytes())?;
            made.push(key);
            made.push(crt);
        }
        let tls = self.dir.join("tls");
        self.make_dir(&tls)?;
        let (key, crt) = (tls.join("ca.key"), tls.join("ca.crt"));
        if !key.exists() {
            let (k, c) = certificate(
                &format!("paddock {hostname} device CA"),
                Algorithm::EcdsaP256,
            )
            .map_err(|e| invalid(&key, e))?;
            write_private(&key, k.as_bytes())?;
            write_public(&crt, c.as_bytes())?;
            made.push(key);
            made.push(crt);
        }
        let device = tls.join("device.key");
        if !device.exists() {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| invalid(&device, e))?;
            write_private(&device, key.serialize_pem().as_bytes())?;
            made.push(device);
        }
        let readme = self.dir.join("README");
        if !readme.exists() {
            write_public(&readme, README.as_bytes())?;
        }
        Ok(made)
    }

    fn make_dir(&self, dir: &Path) -> Result<(), InstanceError> {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(super::io_err(dir))?;
        }
        Ok(())
    }

    /// What `paddock build` needs; a missing key names the command that
    /// makes it.
    pub fn update_keys(&self) -> Result<UpdateKeys, InstanceError> {
        let current = read_signing(&self.update_key_path())?.ok_or_else(|| self.missing())?;
        let previous = read_signing(&self.previous_key_path())?;
        Ok(UpdateKeys { current, previous })
    }

    /// The bcrypt salt of the update password.
    pub fn password_salt(&self) -> Result<[u8; 16], InstanceError> {
        let path = self.salt_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(self.missing()),
            Err(e) => return Err(super::io_err(&path)(e)),
        };
        let bytes = hex::decode(text.trim()).map_err(|e| invalid(&path, e))?;
        bytes
            .try_into()
            .map_err(|_| invalid(&path, "expected 32 hex digits (16 random bytes)"))
    }

    pub(crate) fn missing(&self) -> InstanceError {
        let instance = self.dir.parent().unwrap_or(Path::new("."));
        invalid(
            &self.dir,
            format!(
                "the instance has no keys yet (an instance made before signed updates): run `paddock keys init --instance {}`",
                instance.display()
            ),
        )
    }

    /// A new update key; the old one stays as `update.previous.key` and
    /// keeps signing, so devices that trust it accept the build that
    /// carries the new one. Returns (old, new) fingerprints.
    pub fn rotate_update_key(&self) -> Result<(String, String), InstanceError> {
        let old = self.update_keys()?.current;
        let (new, pem) = SigningKey::generate().map_err(|e| invalid(&self.update_key_path(), e))?;
        let old_pem = std::fs::read(self.update_key_path())
            .map_err(super::io_err(&self.update_key_path()))?;
        write_private(&self.previous_key_path(), &old_pem)?;
        write_private(&self.update_key_path(), pem.as_bytes())?;
        write_public(&self.update_pub_path(), new.public().to_pem().as_bytes())?;
        Ok((old.public().fingerprint(), new.public().fingerprint()))
    }

    /// Ends a rotation: every device runs a build with the new key.
    pub fn forget_previous(&self) -> Result<bool, InstanceError> {
        match std::fs::remove_file(self.previous_key_path()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(super::io_err(&self.previous_key_path())(e)),
        }
    }

    /// The public update key (for `keys show`).
    pub fn update_public(&self) -> Result<Option<PublicKey>, InstanceError> {
        let path = self.update_pub_path();
        match std::fs::read_to_string(&path) {
            Ok(t) => PublicKey::from_pem(&t, &path.display().to_string())
                .map(Some)
                .map_err(|e| invalid(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(super::io_err(&path)(e)),
        }
    }
}

fn read_signing(path: &Path) -> Result<Option<SigningKey>, InstanceError> {
    match std::fs::read_to_string(path) {
        Ok(t) => SigningKey::from_pem(&t, &path.display().to_string())
            .map(Some)
            .map_err(|e| invalid(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(super::io_err(path)(e)),
    }
}

fn write_public(path: &Path, data: &[u8]) -> Result<(), InstanceError> {
    paddock_sys::fs::write_atomic(path, data, paddock_sys::fs::PUBLIC).map_err(super::io_err(path))
}

enum Algorithm {
    /// What UEFI firmware verifies (Secure Boot keys).
    Rsa2048,
    EcdsaP256,
}

/// A self-signed CA certificate valid for 20 years: (key PEM, cert PEM).
fn certificate(common_name: &str, algorithm: Algorithm) -> Result<(String, String), rcgen::Error> {
    let key = match algorithm {
        Algorithm::Rsa2048 => rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?,
        Algorithm::EcdsaP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
    };
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let year = chrono::Datelike::year(&chrono::Utc::now());
    params.not_before = rcgen::date_time_ymd(year, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 20, 1, 1);
    let cert = params.self_signed(&key)?;
    Ok((key.serialize_pem(), cert.pem()))
}

const README: &str = "\
These are the keys of this paddock instance. The private ones (*.key,
password.salt) never go into an image; only update.pub does.

Keep them offline: build on the machine that holds this folder (or copy it
there from a USB stick for a build and remove it afterwards). Anyone with
update.key can sign updates every device of this instance installs.

update.key / update.pub   sign updates: `cosign verify-blob --key update.pub
                          --signature update.json.sig update.json` checks one.
Rotating it: `paddock keys rotate` makes a new update.key and keeps the old
one as update.previous.key; builds are then signed with both, and a device
installs the first build with the new key because the old key signed it.
Once every device runs such a build, `paddock keys rotate --finish`
removes the old key.

secure-boot/              PK, KEK and db for UEFI Secure Boot.
tls/ca.*                  the CA of the devices' HTTPS certificates: trust
                          tls/ca.crt in a browser to open the device's pages
                          without a warning.
tls/device.*              the device's HTTPS key and certificate: these two
                          are copied into the image (the device must present
                          them); the build renews the certificate.
";
