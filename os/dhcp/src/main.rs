//! paddock-dhcp: configures one network interface, by DHCPv4 (default) or
//! statically (`--static ADDR/LEN`), and keeps it configured.
//!
//! Writes DNS servers to /run/resolv.conf (/etc/resolv.conf links there),
//! NTP servers to /run/paddock/ntp-servers (read by paddock-ntp) and a
//! lease summary to /run/paddock/dhcp-lease.json.

mod client;
mod files;
mod lease;
mod netconf;
mod packet;
mod socket;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Parser;

use client::{Client, Outputs};
use netconf::Interface;

#[derive(Parser)]
#[command(
    name = "paddock-dhcp",
    about = "DHCPv4 client / static network configuration"
)]
struct Args {
    #[arg(long, default_value = "eth0")]
    interface: String,
    /// Sent to the server (option 12). Default: the system's host name.
    #[arg(long)]
    hostname: Option<String>,
    #[arg(long, default_value = "/run/resolv.conf")]
    resolv_conf: PathBuf,
    #[arg(long, default_value = "/run/paddock/ntp-servers")]
    ntp_servers_file: PathBuf,
    #[arg(long, default_value = "/run/paddock/dhcp-lease.json")]
    lease_file: PathBuf,
    /// Static configuration instead of DHCP: address with prefix length.
    #[arg(long, value_name = "ADDR/LEN")]
    r#static: Option<String>,
    /// With --static: the default gateway.
    #[arg(long, requires = "static")]
    gateway: Option<Ipv4Addr>,
    /// With --static: DNS servers (repeatable).
    #[arg(long, requires = "static")]
    dns: Vec<IpAddr>,
    /// With --static: NTP servers for paddock-ntp (repeatable).
    #[arg(long, requires = "static")]
    ntp: Vec<IpAddr>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    paddock_sys::logging::Logging::from_env("PADDOCK_DHCP_LOG", "info").init();
    if let Err(e) = run(Args::parse()).await {
        eprintln!("paddock-dhcp: {e:#}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let iface = Interface::open(&args.interface).await?;
    iface.up().await?;
    let out = Outputs {
        resolv_conf: args.resolv_conf.clone(),
        ntp_servers: args.ntp_servers_file.clone(),
        lease_file: args.lease_file.clone(),
    };
    if let Some(addr) = &args.r#static {
        return configure_static(&iface, addr, &args, &out).await;
    }
    let hostname = args.hostname.clone().or_else(system_hostname);
    let socket = socket::DhcpSocket::open(&args.interface)?;
    tracing::info!(interface = %args.interface, hostname = ?hostname, "requesting an address");
    match Client::new(socket, iface, hostname, out).run().await? {}
}

async fn configure_static(
    iface: &Interface,
    addr: &str,
    args: &Args,
    out: &Outputs,
) -> anyhow::Result<()> {
    let Some((ip, len)) = addr.split_once('/').and_then(|(a, l)| {
        Some((
            a.parse::<Ipv4Addr>().ok()?,
            l.parse::<u8>().ok().filter(|l| *l <= 32)?,
        ))
    }) else {
        bail!(
            "--static {addr:?}: expected an IPv4 address with prefix length, e.g. 192.168.1.10/24"
        );
    };
    iface.set_address(ip, len).await?;
    if let Some(gw) = args.gateway {
        iface.set_default_route(gw).await?;
    }
    if !args.dns.is_empty() {
        files::write_public(
            &out.resolv_conf,
            files::resolv_conf(&args.dns, None).as_bytes(),
        )?;
    }
    if !args.ntp.is_empty() {
        files::write_public(&out.ntp_servers, files::ntp_servers(&args.ntp).as_bytes())?;
    }
    let summary = serde_json::json!({
        "interface": iface.name, "address": addr, "router": args.gateway,
        "dns": args.dns, "ntp": args.ntp, "how": "static",
    });
    files::write_public(&out.lease_file, format!("{summary:#}\n").as_bytes())
        .context("lease file")?;
    tracing::info!(interface = %iface.name, %addr, gateway = ?args.gateway, "static configuration applied");
    // Stay, so the supervisor shows the network as running (and does not restart us).
    std::future::pending::<()>().await;
    Ok(())
}

fn system_hostname() -> Option<String> {
    let h = nix::unistd::gethostname().ok()?.into_string().ok()?;
    (!h.is_empty() && h != "(none)" && h != "localhost").then_some(h)
}
