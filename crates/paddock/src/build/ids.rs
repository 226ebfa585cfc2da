//! Identifiers that must be the same on every build of one instance (disk
//! and partition GUIDs, file system UUIDs, the FAT volume id): derived from
//! the instance, never random, so images are byte-for-byte reproducible.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Deterministic ids for one instance.
#[derive(Debug, Clone)]
pub struct Ids {
    seed: [u8; 32],
}

impl Ids {
    /// `hostname` and the generated `update_password` make instances distinct.
    pub fn new(hostname: &str, password: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"paddock-image-ids\0");
        h.update(hostname.as_bytes());
        h.update(b"\0");
        h.update(password.as_bytes());
        Self {
            seed: h.finalize().into(),
        }
    }

    /// A version-4-shaped UUID named by `label` ("disk", "root-a", …).
    pub fn uuid(&self, label: &str) -> Uuid {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(label.as_bytes());
        let d = h.finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }

    pub fn u32(&self, label: &str) -> u32 {
        let b = self.uuid(label).into_bytes();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stable_and_distinct() {
        let a = super::Ids::new("box", "pw");
        assert_eq!(a.uuid("disk"), super::Ids::new("box", "pw").uuid("disk"));
        assert_ne!(a.uuid("disk"), a.uuid("root-a"));
        assert_ne!(a.uuid("disk"), super::Ids::new("box2", "pw").uuid("disk"));
    }
}
