//! Stage 2, on the real root: the remaining mounts, drivers, /perm, the
//! hostname and loopback, then supervision until reboot or poweroff, then a
//! clean shutdown (services stopped, /perm synced and unmounted).
//!
//! Boot steps that are not fatal log and carry on: a device without /perm
//! or without a network driver is still reachable on its console.

use std::convert::Infallible;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::mount::{MntFlags, MsFlags};
use nix::sys::reboot::RebootMode;

use paddock_init::supervisor::{self, Options, Shutdown};
use paddock_init::web::{self, Listen, WebConfig};
use paddock_wire::system::SystemConfig;

use crate::mounts::{mount, mount_all, nosuid_nodev_noexec};
use crate::{gpt, net};

const CONFIG: &str = "/etc/paddock/system.json";
const RUN_DIR: &str = "/run/paddock";

pub fn run() -> anyhow::Result<Infallible> {
    let nsn = nosuid_nodev_noexec();
    let ns = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    // /dev, /proc and /sys are already there when stage 1 ran; not when the
    // kernel mounted the root itself.
    mount_all(&[
        (
            "devtmpfs",
            "/dev",
            "devtmpfs",
            MsFlags::MS_NOSUID,
            Some("mode=0755"),
        ),
        ("proc", "/proc", "proc", nsn, None),
        ("sysfs", "/sys", "sysfs", nsn, None),
        (
            "devpts",
            "/dev/pts",
            "devpts",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("gid=5,mode=620,ptmxmode=666"),
        ),
        ("tmpfs", "/dev/shm", "tmpfs", ns, Some("mode=1777")),
        ("tmpfs", "/run", "tmpfs", ns, Some("mode=0755")),
        ("tmpfs", "/tmp", "tmpfs", ns, Some("mode=1777")),
        (
            "cgroup2",
            "/sys/fs/cgroup",
            "cgroup2",
            nsn,
            Some("nsdelegate"),
        ),
    ]);
    // Ctrl-Alt-Del becomes SIGINT (a clean reboot) instead of an instant one.
    let _ = nix::sys::reboot::set_cad_enabled(false);

    let config = match SystemConfig::load(Path::new(CONFIG)) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}; starting the default system services");
            let mut c = SystemConfig::new("paddock");
            c.services = c.system_services();
            c
        }
    };

    load_drivers();
    mount_perm();

    if let Err(e) = nix::unistd::sethostname(&config.hostname) {
        tracing::warn!("sethostname {}: {e}", config.hostname);
    }
    if let Err(e) = std::fs::write("/run/hostname", format!("{}\n", config.hostname)) {
        tracing::warn!("write /run/hostname: {e}");
    }
    if let Err(e) = net::loopback_up() {
        tracing::warn!("{e:#}");
    }

    // Before the first thread (web, probation): every thread inherits the
    // mask, so init's signals reach only its signalfd.
    if let Err(e) = supervisor::block_handled_signals() {
        tracing::error!("{e}");
    }
    start_web(&config);

    // A newly installed slot proves itself healthy or reboots (issue #5).
    let _probation = paddock_init::update::spawn_probation(
        paddock_init::update::ProbationOptions::system(&config),
    );

    let mut opts = Options::new(RUN_DIR);
    opts.pid1 = true;
    let kind = supervisor::run(&config.services, opts)?;
    shutdown(kind)
}

/// The web UI and API (issue #5) on every private address: HTTPS on
/// `https_port` (443) with the image's certificate, `http_port` (80)
/// redirecting to it. Before supervision so it answers while services start.
fn start_web(config: &SystemConfig) {
    let port = config.http_port.unwrap_or(80);
    let web = WebConfig::new("/", &config.hostname, Listen::Private(port))
        .with_password_hash(config.update_password_hash.clone())
        .with_https_port(Some(config.https_port.unwrap_or(443)));
    if let Err(e) = web::spawn(web) {
        tracing::error!("web: starting its thread: {e}");
    }
}

/// Drivers for everything the initramfs did not need (network, …), and the
/// filesystem of /perm.
fn load_drivers() {
    match paddock_kmod::ModuleIndex::for_running_kernel() {
        Ok(index) => {
            let loader = paddock_kmod::Loader::new(index, paddock_kmod::SysKernel::new());
            let report = paddock_kmod::coldplug(&loader, Path::new("/sys/devices"));
            tracing::info!(devices = report.devices, loaded = ?report.loaded, failed = report.errors.len(), "coldplug");
        }
        Err(e) => tracing::warn!("coldplug: {e}"),
    }
    if let Err(e) = paddock_kmod::ensure_loaded(&["ext4"]) {
        tracing::warn!("{e}");
    }
}

/// /perm: the GPT partition named "perm", ext4. An empty partition gets a
/// file system first (when the image ships mke2fs).
fn mount_perm() {
    let sys_block = Path::new("/sys/class/block");
    let deadline = Instant::now() + Duration::from_secs(5);
    let device = loop {
        if let Some(d) = gpt::find_by_partname(sys_block, Path::new("/dev"), "perm") {
            break d;
        }
        if Instant::now() > deadline {
            tracing::error!("no partition named \"perm\": /perm stays empty and nothing persists");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let dev = device.to_string_lossy().into_owned();
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOATIME;
    let Err(first) = mount(&dev, "/perm", "ext4", flags, None) else {
        tracing::info!(device = %dev, "mounted /perm");
        return;
    };
    if has_filesystem(&device) {
        tracing::error!("{first:#} (not formatting: the partition holds a file system)");
        return;
    }
    let Some(mkfs) = ["/usr/sbin/mke2fs", "/sbin/mke2fs"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        tracing::error!("{first:#}; the partition is empty and the image has no mke2fs");
        return;
    };
    tracing::info!(device = %dev, "creating a file system on the empty perm partition");
    match std::process::Command::new(mkfs)
        .args(["-q", "-t", "ext4", "-L", "perm", &dev])
        .status()
    {
        Ok(s) if s.success() => match mount(&dev, "/perm", "ext4", flags, None) {
            Ok(()) => tracing::info!(device = %dev, "mounted the new /perm"),
            Err(e) => tracing::error!("{e:#}"),
        },
        Ok(s) => tracing::error!("{mkfs} {dev}: {s}"),
        Err(e) => tracing::error!("{mkfs}: {e}"),
    }
}

/// ext2/3/4 magic at byte 1080, or any non-zero byte in the first 64 KiB.
fn has_filesystem(device: &Path) -> bool {
    use std::io::Read;
    let mut head = vec![0u8; 64 * 1024];
    match std::fs::File::open(device).and_then(|mut f| f.read_exact(&mut head)) {
        Ok(()) => head.iter().any(|&b| b != 0),
        // Unreadable: do not risk formatting it.
        Err(_) => true,
    }
}

fn shutdown(kind: Shutdown) -> anyhow::Result<Infallible> {
    tracing::info!(?kind, "syncing and unmounting /perm");
    nix::unistd::sync();
    if let Err(e) = nix::mount::umount2("/perm", MntFlags::empty()) {
        if e != nix::errno::Errno::EINVAL {
            // Still busy: at least make it consistent on disk.
            tracing::warn!("umount /perm: {e}; remounting read-only");
            let _ = nix::mount::mount(
                None::<&str>,
                "/perm",
                None::<&str>,
                MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            );
        }
    }
    nix::unistd::sync();
    let mode = match kind {
        Shutdown::Reboot => RebootMode::RB_AUTOBOOT,
        Shutdown::Poweroff => RebootMode::RB_POWER_OFF,
    };
    let err = nix::sys::reboot::reboot(mode).unwrap_err();
    anyhow::bail!("reboot: {err}")
}
