//! The seed file and the kernel's entropy pool.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Largest seed read back (the kernel accepts more; there is no point).
pub const MAX_SEED: usize = 4096;

/// `struct rand_pool_info` from <linux/random.h>, with room for the data.
#[repr(C)]
struct RandPoolInfo {
    entropy_count: i32,
    buf_size: i32,
    buf: [u8; MAX_SEED],
}

// RNDADDENTROPY = _IOW('R', 0x03, int[2])
nix::ioctl_write_ptr_bad!(
    rnd_add_entropy,
    nix::request_code_write!(b'R', 0x03, 2 * std::mem::size_of::<i32>()),
    RandPoolInfo
);

/// Adds `seed` to the pool and credits it as entropy (needs CAP_SYS_ADMIN).
pub fn credit(urandom: &Path, seed: &[u8]) -> std::io::Result<()> {
    let len = seed.len().min(MAX_SEED);
    let mut info = RandPoolInfo {
        entropy_count: (len * 8) as i32,
        buf_size: len as i32,
        buf: [0; MAX_SEED],
    };
    info.buf[..len].copy_from_slice(&seed[..len]);
    let f = File::options().write(true).open(urandom)?;
    // SAFETY: `info` is a live rand_pool_info whose buf holds buf_size
    // valid bytes; the kernel only reads it during the call.
    unsafe { rnd_add_entropy(f.as_raw_fd(), &info) }.map_err(std::io::Error::from)?;
    Ok(())
}

pub fn read_seed(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match File::open(path) {
        Ok(f) => {
            let mut seed = Vec::new();
            f.take(MAX_SEED as u64).read_to_end(&mut seed)?;
            Ok(Some(seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces the seed file with `size` fresh bytes from `urandom`
/// (temp file, fsync, rename: a crash leaves the old or the new seed).
pub fn save_fresh(path: &Path, urandom: &Path, size: usize) -> std::io::Result<()> {
    let mut seed = vec![0u8; size.min(MAX_SEED)];
    File::open(urandom)?.read_exact(&mut seed)?;
    // A save cut short by a power cut left its temp file on /perm.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = paddock_sys::fs::clean_stale_temps(dir);
    }
    paddock_sys::fs::write_atomic(path, &seed, paddock_sys::fs::PRIVATE)
}
