//! The update key: ECDSA P-256 with SHA-256, as cosign's key-based
//! signatures. Private keys are PKCS#8 PEM (`PRIVATE KEY`, what `cosign
//! import-key-pair` reads), public keys SPKI PEM (`PUBLIC KEY`, what
//! `cosign verify-blob --key` reads). A key's fingerprint is
//! `sha256:<hex>` of its SPKI DER.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, ParsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING,
};
use base64::Engine;

use crate::TrustError;

const PRIVATE_LABEL: &str = "PRIVATE KEY";
const PUBLIC_LABEL: &str = "PUBLIC KEY";

/// The private half: signs updates. Lives only in the instance's `keys/`.
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().fingerprint())
    }
}

/// The public half: what a device trusts (`/etc/paddock/update.pub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki_der: Vec<u8>,
}

fn decode_pem(text: &str, what: &str, label: &'static str) -> Result<Vec<u8>, TrustError> {
    let block = pem::parse(text).map_err(|e| TrustError::Pem {
        what: what.to_string(),
        message: e.to_string(),
    })?;
    if block.tag() != label {
        return Err(TrustError::PemLabel {
            what: what.to_string(),
            expected: label,
            found: block.tag().to_string(),
        });
    }
    Ok(block.into_contents())
}

impl SigningKey {
    /// A new random key; its PKCS#8 PEM is what goes to disk.
    pub fn generate() -> Result<(SigningKey, String), TrustError> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .map_err(|e| TrustError::Generate(e.to_string()))?;
        let pem = pem::encode(&pem::Pem::new(PRIVATE_LABEL, doc.as_ref().to_vec()));
        let key = Self::from_pem(&pem, "the new key")?;
        Ok((key, pem))
    }

    /// Reads a PKCS#8 PEM private key; `what` names it in errors (its path).
    pub fn from_pem(text: &str, what: &str) -> Result<SigningKey, TrustError> {
        let der = decode_pem(text, what, PRIVATE_LABEL)?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der).map_err(|e| {
                TrustError::KeyType {
                    what: what.to_string(),
                    message: e.to_string(),
                }
            })?;
        Ok(SigningKey { pair })
    }

    pub fn public(&self) -> PublicKey {
        let spki_der = self
            .pair
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        PublicKey { spki_der }
    }

    /// The base64 signature of `data`, as `cosign sign-blob` writes it.
    pub fn sign(&self, data: &[u8]) -> Result<String, TrustError> {
        let sig = self
            .pair
            .sign(&SystemRandom::new(), data)
            .map_err(|e| TrustError::Sign(e.to_string()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sig.as_ref()))
    }
}

impl PublicKey {
    /// Reads an SPKI PEM public key; `what` names it in errors.
    pub fn from_pem(text: &str, what: &str) -> Result<PublicKey, TrustError> {
        let der = decode_pem(text, what, PUBLIC_LABEL)?;
        ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &der).map_err(|e| TrustError::KeyType {
            what: what.to_string(),
            message: e.to_string(),
        })?;
        Ok(PublicKey { spki_der: der })
    }

    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new(PUBLIC_LABEL, self.spki_der.clone()))
    }

    /// `sha256:<hex of the SPKI DER>`.
    pub fn fingerprint(&self) -> String {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.spki_der);
        format!("sha256:{}", hex::encode(d.as_ref()))
    }

    /// Checks a base64 signature of `data` (whitespace around it is ignored,
    /// as in a `.sig` file with a trailing newline).
    pub fn verify(&self, data: &[u8], signature: &str) -> Result<(), TrustError> {
        let sig = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|e| TrustError::SignatureEncoding(e.to_string()))?;
        let bad = || TrustError::BadSignature {
            key: self.fingerprint(),
        };
        let key =
            ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.spki_der).map_err(|_| bad())?;
        key.verify_sig(data, &sig).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_refuses_other_keys_and_data() {
        let (key, pem) = SigningKey::generate().unwrap();
        let again = SigningKey::from_pem(&pem, "k").unwrap();
        assert_eq!(key.public(), again.public());
        let public = PublicKey::from_pem(&key.public().to_pem(), "p").unwrap();
        assert!(public.fingerprint().starts_with("sha256:"));
        let sig = key.sign(b"hello").unwrap();
        public.verify(b"hello", &format!("{sig}\n")).unwrap();
        assert!(matches!(
            public.verify(b"hellO", &sig),
            Err(TrustError::BadSignature { .. })
        ));
        let (other, _) = SigningKey::generate().unwrap();
        assert!(other.public().verify(b"hello", &sig).is_err());
        assert!(matches!(
            public.verify(b"hello", "not base64!"),
            Err(TrustError::SignatureEncoding(_))
        ));
    }

    #[test]
    fn wrong_files_say_what_they_are() {
        let (key, pem) = SigningKey::generate().unwrap();
        let err = PublicKey::from_pem(&pem, "update.pub")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("update.pub") && err.contains("PUBLIC KEY"),
            "{err}"
        );
        let err = SigningKey::from_pem(&key.public().to_pem(), "update.key")
            .unwrap_err()
            .to_string();
        assert!(err.contains("PRIVATE KEY"), "{err}");
        let err = PublicKey::from_pem("garbage", "x").unwrap_err().to_string();
        assert!(err.contains("not a PEM file"), "{err}");
    }
}
