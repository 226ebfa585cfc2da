//! paddock-ntp: SNTP client. Asks the configured servers (flags, else the
//! ones DHCP wrote to /run/paddock/ntp-servers), steps the clock when it is
//! off, writes /run/paddock/clock-synced (what `wait_for_clock` services and
//! paddockd wait for), and re-syncs periodically.
//!
//! `--dry-run` computes the offset and writes the marker without touching
//! the clock (tests; checking a device's clock).

mod clock;
mod query;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
#[command(name = "paddock-ntp", about = "SNTP client that steps the clock")]
struct Args {
    /// host, host:port or address (repeatable); tried in order.
    #[arg(long = "server")]
    servers: Vec<String>,
    /// Servers, one a line, used when no --server is given (written by paddock-dhcp).
    #[arg(long, default_value = "/run/paddock/ntp-servers")]
    servers_file: PathBuf,
    #[arg(long, default_value = "/run/paddock/clock-synced")]
    marker: PathBuf,
    /// Seconds between syncs once synced.
    #[arg(long, default_value_t = 1024)]
    interval_secs: u64,
    /// Step only when off by more than this.
    #[arg(long, default_value_t = 128)]
    step_threshold_ms: u64,
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// Do not set the clock; just compute the offset and write the marker.
    #[arg(long)]
    dry_run: bool,
    /// Exit after the first successful sync.
    #[arg(long)]
    once: bool,
}

fn main() {
    paddock_sys::logging::Logging::from_env("PADDOCK_NTP_LOG", "info").init();
    let args = Args::parse();
    let mut retry = Duration::from_secs(1);
    loop {
        match sync(&args) {
            Ok(()) => {
                if args.once {
                    return;
                }
                retry = Duration::from_secs(1);
                std::thread::sleep(Duration::from_secs(args.interval_secs));
            }
            Err(e) => {
                tracing::warn!("{e}; retrying in {}s", retry.as_secs());
                std::thread::sleep(retry);
                retry = (retry * 2).min(Duration::from_secs(64));
            }
        }
    }
}

fn servers(args: &Args) -> Vec<String> {
    if !args.servers.is_empty() {
        return args.servers.clone();
    }
    std::fs::read_to_string(&args.servers_file)
        .map(|s| {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn sync(args: &Args) -> anyhow::Result<()> {
    let servers = servers(args);
    if servers.is_empty() {
        anyhow::bail!(
            "no servers yet (no --server, nothing in {})",
            args.servers_file.display()
        );
    }
    let mut errors = Vec::new();
    for server in &servers {
        let sample = match query::query(server, Duration::from_millis(args.timeout_ms)) {
            Ok(s) => s,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let offset_us = sample.offset_micros();
        let off_by = sample.offset.as_millis() as u64 > args.step_threshold_ms;
        let stepped = if off_by && !args.dry_run {
            clock::step(offset_us).map_err(|e| anyhow::anyhow!("set the clock: {e}"))?;
            true
        } else {
            false
        };
        tracing::info!(
            server = %sample.server,
            stratum = sample.stratum,
            offset_ms = offset_us as f64 / 1000.0,
            round_trip_ms = sample.round_trip.as_secs_f64() * 1000.0,
            stepped,
            dry_run = args.dry_run,
            "synced"
        );
        let marker = format!(
            "server={}\noffset_us={offset_us}\nround_trip_us={}\nstepped={stepped}\n",
            sample.server,
            sample.round_trip.as_micros()
        );
        clock::write_marker(&args.marker, &marker)
            .map_err(|e| anyhow::anyhow!("write {}: {e}", args.marker.display()))?;
        return Ok(());
    }
    anyhow::bail!("no server answered: {}", errors.join("; "))
}
