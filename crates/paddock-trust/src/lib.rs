//! What a paddock device trusts, and how the builder earns that trust.
//!
//! - [`key`]: the instance's update key, an ECDSA P-256 key pair in PEM
//!   (PKCS#8 private, SPKI public). Signatures are base64 of the DER ECDSA
//!   signature over the SHA-256 of the signed bytes — the format of
//!   `cosign sign-blob` / `cosign verify-blob --key`, so ecosystem tools
//!   check paddock's signatures as they are.
//! - [`statement`]: signing and checking the update statement
//!   ([`paddock_wire::update::UpdateStatement`]); `paddock build` signs it,
//!   init's update API checks it before writing anything.
//!
//! The cryptography is aws-lc-rs, the library rustls already links into
//! both the CLI and init.

pub mod key;
pub mod statement;

pub use key::{PublicKey, SigningKey};
pub use statement::{sign_statement, verify_statement};

/// Why a key or signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{what}: not a PEM file: {message}")]
    Pem { what: String, message: String },
    #[error("{what}: expected a PEM block {expected:?}, found {found:?}")]
    PemLabel {
        what: String,
        expected: &'static str,
        found: String,
    },
    #[error("{what}: not an ECDSA P-256 key ({message})")]
    KeyType { what: String, message: String },
    #[error("generating a key: {0}")]
    Generate(String),
    #[error("signing: {0}")]
    Sign(String),
    #[error("the signature is not base64: {0}")]
    SignatureEncoding(String),
    #[error("the signature does not verify with the update key {key}")]
    BadSignature { key: String },
    #[error("the statement is not a paddock update statement: {0}")]
    Statement(String),
}
