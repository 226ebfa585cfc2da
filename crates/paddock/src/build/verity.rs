//! The dm-verity hash tree of a root slot, appended to its SquashFS (see
//! `paddock_wire::verity` for the layout), so that the kernel refuses any
//! block of the root that differs from what was signed.
//!
//! Written here rather than with `veritysetup format` so `paddock build`
//! needs no cryptsetup and stays byte-reproducible (the salt comes from
//! the contents); the tests check the result with `veritysetup verify`.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use paddock_wire::verity::{VerityParams, BLOCK};
use sha2::{Digest, Sha256};

use super::error::{io_err, Result};

const HASH: usize = 32;
const PER_BLOCK: u64 = BLOCK / HASH as u64;

fn hash_block(salt: &[u8], block: &[u8]) -> [u8; HASH] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(block);
    h.finalize().into()
}

/// Hashes of `level`'s blocks packed into zero-padded hash blocks.
fn pack(hashes: &[[u8; HASH]]) -> Vec<u8> {
    let blocks = hashes.len().div_ceil(PER_BLOCK as usize);
    let mut out = vec![0u8; blocks * BLOCK as usize];
    for (i, h) in hashes.iter().enumerate() {
        out[i * HASH..(i + 1) * HASH].copy_from_slice(h);
    }
    out
}

/// Pads `path` to whole blocks and appends its hash tree; the parameters
/// to verify it with.
pub fn append_hash_tree(path: &Path) -> Result<VerityParams> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err("opening", path))?;
    let len = f.metadata().map_err(io_err("reading", path))?.len();
    let data_blocks = len.div_ceil(BLOCK).max(1);
    f.set_len(data_blocks * BLOCK)
        .map_err(io_err("padding", path))?;
    // The salt names the contents (reproducible, and never shared by two
    // different roots): a first pass hashes them, a second the blocks.
    let mut buf = vec![0u8; BLOCK as usize];
    let mut whole = Sha256::new();
    whole.update(b"paddock dm-verity salt\0");
    f.seek(SeekFrom::Start(0))
        .map_err(io_err("reading", path))?;
    for _ in 0..data_blocks {
        f.read_exact(&mut buf).map_err(io_err("reading", path))?;
        whole.update(&buf);
    }
    let salt: [u8; HASH] = whole.finalize().into();
    let mut level: Vec<[u8; HASH]> = Vec::with_capacity(data_blocks as usize);
    f.seek(SeekFrom::Start(0))
        .map_err(io_err("reading", path))?;
    for _ in 0..data_blocks {
        f.read_exact(&mut buf).map_err(io_err("reading", path))?;
        level.push(hash_block(&salt, &buf));
    }
    // Levels bottom-up until one block is left; stored top level first.
    // A single data block has no tree: its hash is the root (as the kernel
    // counts levels).
    let mut levels: Vec<Vec<u8>> = Vec::new();
    while level.len() > 1 {
        let packed = pack(&level);
        let blocks = packed.len() / BLOCK as usize;
        levels.push(packed);
        if blocks == 1 {
            break;
        }
        let top = levels.last().map(Vec::as_slice).unwrap_or_default();
        level = top
            .chunks(BLOCK as usize)
            .map(|b| hash_block(&salt, b))
            .collect();
    }
    let root = match levels.last() {
        Some(top) => hash_block(&salt, top),
        None => level[0],
    };
    f.seek(SeekFrom::Start(data_blocks * BLOCK))
        .map_err(io_err("writing", path))?;
    for l in levels.iter().rev() {
        f.write_all(l).map_err(io_err("writing", path))?;
    }
    f.sync_all().map_err(io_err("syncing", path))?;
    Ok(VerityParams {
        root_hash: hex::encode(root),
        salt: hex::encode(salt),
        data_blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn veritysetup_verify(path: &Path, p: &VerityParams) -> std::process::Output {
        Command::new("veritysetup")
            .arg("verify")
            .arg("--no-superblock")
            .arg(format!("--data-blocks={}", p.data_blocks))
            .arg(format!("--hash-offset={}", p.data_blocks * BLOCK))
            .arg(format!("--salt={}", p.salt))
            .arg(path)
            .arg(path)
            .arg(&p.root_hash)
            .output()
            .expect("veritysetup is missing: apt-get install cryptsetup-bin")
    }

    /// One block, a few, and more than one hash block's worth (two levels,
    /// a partial last block): veritysetup agrees, and one changed byte of
    /// data is found.
    #[test]
    fn veritysetup_verifies_the_tree_and_finds_a_changed_byte() {
        for len in [100u64, 5 * BLOCK, 200 * BLOCK + 17] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("root.squashfs");
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            let p = append_hash_tree(&path).unwrap();
            assert_eq!(p.data_blocks, len.div_ceil(BLOCK));
            let out = veritysetup_verify(&path, &p);
            assert!(
                out.status.success(),
                "{len} bytes: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut again = std::fs::read(&path).unwrap();
            assert_eq!(&again[..data.len()], &data[..], "the data moved");
            again[(len / 2) as usize] ^= 1;
            std::fs::write(&path, &again).unwrap();
            assert!(
                !veritysetup_verify(&path, &p).status.success(),
                "{len}: corruption missed"
            );
        }
    }
}
