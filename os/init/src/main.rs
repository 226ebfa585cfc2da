//! paddock-init: PID 1 of a paddock device, and its control client.
//!
//! As PID 1 (no arguments are parsed: the kernel passes leftovers of its
//! command line) it runs stage 1 in the initramfs (`/init` exists and
//! `/etc/paddock/system.json` does not) or stage 2 on the real root.
//! Otherwise:
//!   paddock-init --no-pid1 --root DIR [--grace-ms N …] [--cgroup-root DIR] [--web-listen ADDR:PORT]…
//!                                         supervise DIR/etc/paddock/system.json
//!   paddock-init ctl [--socket PATH] list|start|stop|restart|logs|reboot|poweroff
//! See os/README.md.

mod device_mapper;
mod mounts;
mod net;
mod stage1;
mod stage2;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, Subcommand};

use paddock_init::gpt;
use paddock_init::supervisor::{self, Options};
use paddock_init::web::{self, Listen, WebConfig};
use paddock_wire::control::{self, Request};
use paddock_wire::system::SystemConfig;

#[derive(Parser)]
#[command(
    name = "paddock-init",
    about = "paddock's PID 1 (and its control client)"
)]
struct Args {
    /// Supervise without being PID 1 (tests, development): no mounts, no reboot.
    #[arg(long)]
    no_pid1: bool,
    /// Root prefix: config from ROOT/etc/paddock/system.json, socket and
    /// clock marker in ROOT/run/paddock.
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Between SIGTERM and SIGKILL when stopping a service.
    #[arg(long, default_value_t = 10_000)]
    grace_ms: u64,
    /// First restart delay (doubles per quick crash).
    #[arg(long, default_value_t = 1_000)]
    backoff_ms: u64,
    #[arg(long, default_value_t = 60_000)]
    backoff_max_ms: u64,
    /// A run this long resets the backoff.
    #[arg(long, default_value_t = 30_000)]
    healthy_ms: u64,
    /// A directory in a cgroup v2 hierarchy: each service runs in its own
    /// cgroup below it (memory in `list`). Default: none without PID 1.
    #[arg(long)]
    cgroup_root: Option<PathBuf>,
    /// Serve the web UI and API on ADDR:PORT (repeatable; with --no-pid1),
    /// password hash from the config's `update_password_hash`.
    #[arg(long, value_name = "ADDR:PORT")]
    web_listen: Vec<std::net::SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Talk to a running init over its control socket.
    Ctl {
        #[arg(long, default_value = "/run/paddock/init.sock")]
        socket: PathBuf,
        #[command(subcommand)]
        op: Request,
    },
}

fn main() {
    init_tracing();
    if nix::unistd::getpid().as_raw() == 1 {
        let result =
            if !Path::new("/etc/paddock/system.json").exists() && Path::new("/init").exists() {
                stage1::run()
            } else {
                stage2::run()
            };
        // Both stages end in exec or reboot; an Err is all that comes back.
        let Err(e) = result;
        // PID 1 must not exit (the kernel would panic): say why, then reboot.
        eprintln!("paddock-init: {e:#}");
        eprintln!("paddock-init: rebooting in 30 seconds");
        std::thread::sleep(Duration::from_secs(30));
        nix::unistd::sync();
        let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT);
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    if let Err(e) = cli(Args::parse()) {
        eprintln!("paddock-init: {e:#}");
        std::process::exit(1);
    }
}

fn init_tracing() {
    paddock_sys::logging::Logging::from_env("PADDOCK_INIT_LOG", "info").init();
}

fn cli(args: Args) -> anyhow::Result<()> {
    if let Some(Command::Ctl { socket, op }) = args.command {
        return ctl(&socket, op);
    }
    if !args.no_pid1 {
        bail!("not PID 1: use --no-pid1 --root DIR to supervise, or `ctl` to talk to init");
    }
    let config_path = args.root.join("etc/paddock/system.json");
    let config = SystemConfig::load(&config_path)?;
    // Before the web server's threads, which inherit the mask.
    supervisor::block_handled_signals()?;
    if !args.web_listen.is_empty() {
        let web = WebConfig::new(&args.root, &config.hostname, Listen::Fixed(args.web_listen))
            .with_password_hash(config.update_password_hash.clone());
        web::spawn(web)?;
    }
    let mut opts = Options::new(args.root.join("run/paddock"));
    opts.grace = Duration::from_millis(args.grace_ms);
    opts.backoff_initial = Duration::from_millis(args.backoff_ms);
    opts.backoff_max = Duration::from_millis(args.backoff_max_ms);
    opts.healthy_after = Duration::from_millis(args.healthy_ms);
    opts.cgroup_root = args.cgroup_root;
    let kind = supervisor::run(&config.services, opts)?;
    tracing::info!(?kind, "all services stopped (not PID 1: not rebooting)");
    Ok(())
}

fn ctl(socket: &Path, req: Request) -> anyhow::Result<()> {
    let resp = control::request(socket, &req)?;
    if !resp.ok {
        bail!("{}", resp.error.unwrap_or_else(|| "request failed".into()));
    }
    if let Some(services) = resp.services {
        for s in services {
            let pid = s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
            let last = s.last_exit.unwrap_or_default();
            println!(
                "{:<16} {:<18} pid {:<8} restarts {:<4} {last}",
                s.name, s.state, pid, s.restarts
            );
        }
    }
    if let Some(s) = resp.service {
        println!("{}: {}", s.name, s.state);
    }
    for line in resp.lines.unwrap_or_default() {
        println!("{line}");
    }
    Ok(())
}
