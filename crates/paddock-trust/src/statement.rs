//! The update statement: signed by the builder over its exact bytes
//! (`update.json`), checked by the device before it writes a slot.

use paddock_wire::update::{UpdateStatement, STATEMENT_KIND};

use crate::{PublicKey, SigningKey, TrustError};

/// The statement's bytes (pretty JSON, what `update.json` holds) and their
/// signature (what `update.json.sig` holds).
pub fn sign_statement(
    key: &SigningKey,
    statement: &UpdateStatement,
) -> Result<(Vec<u8>, String), TrustError> {
    let mut bytes =
        serde_json::to_vec_pretty(statement).map_err(|e| TrustError::Statement(e.to_string()))?;
    bytes.push(b'\n');
    let sig = key.sign(&bytes)?;
    Ok((bytes, sig))
}

/// Checks `signature` over `bytes` with `key` first, and only then reads
/// the bytes as a statement of the known kind.
pub fn verify_statement(
    key: &PublicKey,
    bytes: &[u8],
    signature: &str,
) -> Result<UpdateStatement, TrustError> {
    key.verify(bytes, signature)?;
    let statement: UpdateStatement =
        serde_json::from_slice(bytes).map_err(|e| TrustError::Statement(e.to_string()))?;
    if statement.kind != STATEMENT_KIND {
        return Err(TrustError::Statement(format!(
            "kind {:?}, expected {STATEMENT_KIND:?}",
            statement.kind
        )));
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use paddock_wire::update::{Piece, Pieces};

    fn statement() -> UpdateStatement {
        let piece = Piece {
            sha256: "00".repeat(32),
            bytes: 1,
        };
        UpdateStatement {
            kind: STATEMENT_KIND.into(),
            instance: "box".into(),
            version: "v2".into(),
            generation: 2,
            root_key: "sha256:00".into(),
            pieces: Pieces {
                root: piece.clone(),
                vmlinuz: piece.clone(),
                initrd: piece,
            },
            verity: None,
        }
    }

    #[test]
    fn a_changed_statement_or_another_kind_is_refused() {
        let (key, _) = SigningKey::generate().unwrap();
        let (bytes, sig) = sign_statement(&key, &statement()).unwrap();
        assert_eq!(
            verify_statement(&key.public(), &bytes, &sig).unwrap(),
            statement()
        );
        let tampered = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("\"generation\": 2", "\"generation\": 9");
        assert!(matches!(
            verify_statement(&key.public(), tampered.as_bytes(), &sig),
            Err(TrustError::BadSignature { .. })
        ));
        let mut other = statement();
        other.kind = "something.else".into();
        let (bytes, sig) = sign_statement(&key, &other).unwrap();
        let err = verify_statement(&key.public(), &bytes, &sig).unwrap_err();
        assert!(err.to_string().contains("something.else"), "{err}");
    }
}
