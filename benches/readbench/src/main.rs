//! On the device (a user program of benches/boot.sh's instance): reads the
//! root once through its dm-verity device and once raw from the partition
//! below it, the page cache dropped before each, and prints both rates on
//! the console. Then stays up (init would restart it otherwise).

use std::io::Read;
use std::time::{Duration, Instant};

fn drop_caches() {
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
}

/// Reads `len` bytes of `dev` (all when `None`): (bytes, seconds).
fn read(dev: &str, len: Option<u64>) -> std::io::Result<(u64, f64)> {
    drop_caches();
    let mut f = std::fs::File::open(dev)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    let started = Instant::now();
    loop {
        let want = match len {
            Some(l) if done >= l => break,
            Some(l) => ((l - done) as usize).min(buf.len()),
            None => buf.len(),
        };
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        done += n as u64;
    }
    Ok((done, started.elapsed().as_secs_f64()))
}

fn report(what: &str, dev: &str, r: std::io::Result<(u64, f64)>) {
    match r {
        Ok((bytes, secs)) => println!(
            "readbench: {what} {dev}: {:.1} MiB in {:.0} ms = {:.1} MiB/s",
            bytes as f64 / 1048576.0,
            secs * 1000.0,
            bytes as f64 / 1048576.0 / secs
        ),
        Err(e) => println!("readbench: {what} {dev}: {e}"),
    }
}

fn main() {
    std::thread::sleep(Duration::from_secs(2));
    let slaves = std::fs::read_dir("/sys/block/dm-0/slaves")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| format!("/dev/{}", e.file_name().to_string_lossy()));
    match slaves {
        Some(raw) => {
            let verified = read("/dev/dm-0", None);
            let len = verified.as_ref().ok().map(|(b, _)| *b);
            report("verity", "/dev/dm-0", verified);
            report("raw", &raw, read(&raw, len));
        }
        None => println!("readbench: no dm-verity device (the root is not verified)"),
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
