//! The update a build produces: the root, kernel and initramfs, and the
//! statement naming their digests, signed with the instance's update key
//! (and, during a rotation, with the previous key too).
//!
//! Files (`paddock build --update-dir DIR`, or `paddock update`'s work
//! dir): `root.squashfs`, `vmlinuz`, `initrd`, `version`, `update.json`,
//! `update.json.sig` and, while rotating, `update.json.previous.sig`.

use std::path::{Path, PathBuf};

use paddock_wire::update::{Piece, Pieces, UpdateStatement, STATEMENT_KIND};

use super::error::{io_err, BuildError, Result};
use super::rootfs;
use crate::instance::keys::UpdateKeys;

pub const STATEMENT: &str = "update.json";
pub const SIGNATURE: &str = "update.json.sig";
pub const PREVIOUS_SIGNATURE: &str = "update.json.previous.sig";

/// A statement's signature and the key that made it.
#[derive(Debug, Clone)]
pub struct Signature {
    pub key: String,
    pub signature: String,
}

/// What a build signed.
#[derive(Debug, Clone)]
pub struct SignedUpdate {
    pub statement: UpdateStatement,
    /// `update.json`'s exact bytes.
    pub bytes: Vec<u8>,
    /// By the current key first.
    pub signatures: Vec<Signature>,
}

pub fn piece(path: &Path) -> Result<Piece> {
    let bytes = std::fs::metadata(path)
        .map_err(io_err("reading", path))?
        .len();
    Ok(Piece {
        sha256: super::sbom::sha256_file(path)?,
        bytes,
    })
}

pub struct Inputs<'a> {
    pub instance: &'a str,
    pub version: &'a str,
    pub generation: u64,
    pub root: &'a Path,
    pub vmlinuz: &'a Path,
    pub initrd: &'a Path,
    pub verity: Option<paddock_wire::verity::VerityParams>,
}

pub fn sign(keys: &UpdateKeys, inputs: &Inputs<'_>) -> Result<SignedUpdate> {
    let statement = UpdateStatement {
        kind: STATEMENT_KIND.into(),
        instance: inputs.instance.to_string(),
        version: inputs.version.to_string(),
        generation: inputs.generation,
        root_key: keys.current.public().fingerprint(),
        verity: inputs.verity.clone(),
        pieces: Pieces {
            root: piece(inputs.root)?,
            vmlinuz: piece(inputs.vmlinuz)?,
            initrd: piece(inputs.initrd)?,
        },
    };
    let sign_err =
        |e: paddock_trust::TrustError| BuildError::Layout(format!("signing the update: {e}"));
    let (bytes, signature) =
        paddock_trust::sign_statement(&keys.current, &statement).map_err(sign_err)?;
    let mut signatures = vec![Signature {
        key: keys.current.public().fingerprint(),
        signature,
    }];
    if let Some(previous) = &keys.previous {
        signatures.push(Signature {
            key: previous.public().fingerprint(),
            signature: previous.sign(&bytes).map_err(sign_err)?,
        });
    }
    Ok(SignedUpdate {
        statement,
        bytes,
        signatures,
    })
}

impl SignedUpdate {
    /// Writes the statement and its signatures into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = vec![dir.join(STATEMENT)];
        rootfs::write(&dir.join(STATEMENT), &self.bytes)?;
        for (i, s) in self.signatures.iter().enumerate() {
            let name = if i == 0 {
                SIGNATURE
            } else {
                PREVIOUS_SIGNATURE
            };
            rootfs::write(&dir.join(name), format!("{}\n", s.signature).as_bytes())?;
            written.push(dir.join(name));
        }
        Ok(written)
    }

    /// Reads what [`SignedUpdate::write`] wrote (`paddock update --from`);
    /// the fingerprints come from `statement.root_key` and `previous`.
    pub fn read(dir: &Path) -> Result<(Vec<u8>, Vec<String>)> {
        let bytes =
            std::fs::read(dir.join(STATEMENT)).map_err(io_err("reading", &dir.join(STATEMENT)))?;
        let mut sigs = Vec::new();
        for name in [SIGNATURE, PREVIOUS_SIGNATURE] {
            match std::fs::read_to_string(dir.join(name)) {
                Ok(s) => sigs.push(s.trim().to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("reading", &dir.join(name))(e)),
            }
        }
        Ok((bytes, sigs))
    }
}
