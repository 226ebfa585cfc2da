//! Is a binary self-contained? A static ELF has no `PT_INTERP` program
//! header (no dynamic loader to find on the device, which has none).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const PT_INTERP: u32 = 3;

/// `Ok(true)` for an ELF without an interpreter; `Err` when not ELF64 LE.
pub fn is_static(path: &Path) -> Result<bool, String> {
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut h = [0u8; 64];
    f.read_exact(&mut h)
        .map_err(|_| "not an ELF file".to_string())?;
    if &h[..4] != b"\x7fELF" || h[4] != 2 || h[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    let phoff = u64::from_le_bytes(h[32..40].try_into().map_err(|_| "bad header")?);
    let phentsize = u64::from(u16_at(54));
    let phnum = u64::from(u16_at(56));
    for i in 0..phnum {
        f.seek(SeekFrom::Start(phoff + i * phentsize))
            .map_err(|e| e.to_string())?;
        let mut t = [0u8; 4];
        f.read_exact(&mut t).map_err(|e| e.to_string())?;
        if u32::from_le_bytes(t) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn busybox_static_is_static_and_ls_is_not() {
        if std::path::Path::new("/bin/busybox").exists() {
            assert_eq!(super::is_static("/bin/busybox".as_ref()), Ok(true));
        }
        assert_eq!(super::is_static("/bin/ls".as_ref()), Ok(false));
        assert!(super::is_static("/etc/hostname".as_ref()).is_err());
    }
}
