//! dm-verity parameters of a root slot: what `paddock build` computes,
//! the signed statement carries, the loader entry passes on the kernel
//! command line (`paddock.verity=ROOT,SALT,BLOCKS`), and init's stage 1
//! turns into a `verity` device-mapper table.
//!
//! Layout (format version 1, SHA-256, 4096-byte data and hash blocks, no
//! superblock): the partition holds the SquashFS padded to whole blocks
//! (`data_blocks` of them), then the hash tree, top level first.

use serde::{Deserialize, Serialize};

/// Data and hash block size.
pub const BLOCK: u64 = 4096;

/// The kernel command line parameter.
pub const CMDLINE_KEY: &str = "paddock.verity=";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerityParams {
    /// Hex SHA-256 root hash of the tree.
    pub root_hash: String,
    /// Hex salt (hashed before each block).
    pub salt: String,
    /// Data blocks; the hash tree starts at this block.
    pub data_blocks: u64,
}

impl VerityParams {
    /// `paddock.verity=ROOT,SALT,BLOCKS`.
    pub fn to_cmdline(&self) -> String {
        format!(
            "{CMDLINE_KEY}{},{},{}",
            self.root_hash, self.salt, self.data_blocks
        )
    }

    /// The last `paddock.verity=` of a command line: `None` without one,
    /// an error for one that is malformed.
    pub fn from_cmdline(cmdline: &str) -> Option<Result<VerityParams, String>> {
        let value = cmdline
            .split_whitespace()
            .filter_map(|w| w.strip_prefix(CMDLINE_KEY))
            .next_back()?;
        Some(Self::parse(value))
    }

    fn parse(value: &str) -> Result<VerityParams, String> {
        let bad = |why: &str| format!("{CMDLINE_KEY}{value}: {why}");
        let mut parts = value.split(',');
        let (Some(root), Some(salt), Some(blocks), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected ROOT_HASH,SALT,DATA_BLOCKS"));
        };
        let hex = |s: &str| {
            !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit())
        };
        if root.len() != 64 || !hex(root) {
            return Err(bad("the root hash is not 64 hex digits"));
        }
        if salt.len() > 512 || !(salt.is_empty() || hex(salt)) {
            return Err(bad("the salt is not hex"));
        }
        let data_blocks: u64 = blocks
            .parse()
            .ok()
            .filter(|b| *b > 0)
            .ok_or_else(|| bad("DATA_BLOCKS is not a positive number"))?;
        Ok(VerityParams {
            root_hash: root.to_ascii_lowercase(),
            salt: salt.to_ascii_lowercase(),
            data_blocks,
        })
    }

    /// The `verity` target's parameters for `device` (a `/dev` path or
    /// `MAJOR:MINOR`), data and tree on the same device.
    pub fn target_params(&self, device: &str) -> String {
        let salt = if self.salt.is_empty() {
            "-"
        } else {
            &self.salt
        };
        format!(
            "1 {device} {device} {BLOCK} {BLOCK} {blocks} {blocks} sha256 {} {salt}",
            self.root_hash,
            blocks = self.data_blocks
        )
    }

    /// Sectors (512 bytes) of the verified device.
    pub fn sectors(&self) -> u64 {
        self.data_blocks * (BLOCK / 512)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_round_trip_and_errors() {
        let p = VerityParams {
            root_hash: "ab".repeat(32),
            salt: "01".repeat(32),
            data_blocks: 12,
        };
        let line = format!("root=PARTUUID=x {} paddock.slot=a", p.to_cmdline());
        assert_eq!(VerityParams::from_cmdline(&line), Some(Ok(p.clone())));
        assert_eq!(VerityParams::from_cmdline("root=x"), None);
        for bad in [
            "paddock.verity=ab",
            "paddock.verity=zz,00,1",
            &format!("paddock.verity={},00,0", "a".repeat(64)),
        ] {
            assert!(
                matches!(VerityParams::from_cmdline(bad), Some(Err(_))),
                "{bad}"
            );
        }
        assert!(p
            .target_params("/dev/vda2")
            .starts_with("1 /dev/vda2 /dev/vda2 4096 4096 12 12 sha256 abab"));
        assert_eq!(p.sectors(), 96);
        crate::round_trip(&p);
    }
}
