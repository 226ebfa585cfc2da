//! paddock-randomd: at start, feeds the seed saved in /perm/random-seed to
//! the kernel (crediting it, so early TLS does not wait for entropy) and
//! replaces it at once, so no seed is ever used twice; saves a fresh seed
//! every hour and at SIGTERM (shutdown).

mod seed;

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

#[derive(Parser)]
#[command(
    name = "paddock-randomd",
    about = "save and restore the kernel's entropy across boots"
)]
struct Args {
    #[arg(long, default_value = "/perm/random-seed")]
    seed: PathBuf,
    #[arg(long, default_value = "/dev/urandom")]
    urandom: PathBuf,
    /// Bytes saved.
    #[arg(long, default_value_t = 512)]
    size: usize,
    #[arg(long, default_value_t = 3600)]
    interval_secs: u64,
}

fn main() {
    paddock_sys::logging::Logging::from_env("PADDOCK_RANDOMD_LOG", "info").init();
    if let Err(e) = run(Args::parse()) {
        eprintln!("paddock-randomd: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    // Signals first, so a shutdown during start-up still saves a seed.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    signals.thread_block()?;
    let sfd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC)?;

    match seed::read_seed(&args.seed) {
        Ok(Some(old)) => {
            save(&args);
            match seed::credit(&args.urandom, &old) {
                Ok(()) => {
                    tracing::info!(bits = old.len() * 8, seed = %args.seed.display(), "credited saved seed")
                }
                Err(e) => tracing::warn!("credit seed to {}: {e}", args.urandom.display()),
            }
        }
        Ok(None) => {
            tracing::info!(seed = %args.seed.display(), "no saved seed (first boot?)");
            save(&args);
        }
        Err(e) => {
            tracing::warn!("read {}: {e}", args.seed.display());
            save(&args);
        }
    }

    let timeout =
        PollTimeout::try_from(Duration::from_secs(args.interval_secs)).unwrap_or(PollTimeout::MAX);
    loop {
        let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => save(&args),
            Ok(_) => {
                let sig = sfd.read_signal()?;
                tracing::info!(signal = ?sig.map(|s| s.ssi_signo), "saving seed before exit");
                save(&args);
                return Ok(());
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => anyhow::bail!("poll: {e}"),
        }
    }
}

/// Saves a fresh seed; failures (no /perm) are logged, not fatal.
fn save(args: &Args) {
    match seed::save_fresh(&args.seed, &args.urandom, args.size) {
        Ok(()) => tracing::debug!(seed = %args.seed.display(), "saved"),
        Err(e) => tracing::warn!("save seed to {}: {e}", args.seed.display()),
    }
}
