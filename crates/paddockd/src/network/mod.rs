//! Container networking, configured in-process: paddock's bridge, a network
//! namespace per container, its veth, address and default route (rtnetlink),
//! and published ports and masquerading (one nftables table, `inet paddock`).
//! No `ip`, `iptables`, CNI plugins or userland proxies.
//!
//! The kernel state is derived from one persisted record
//! ([`allocations::Allocations`]), so a paddockd that restarts — even after
//! SIGKILL — rebuilds the same state, and removes veths, namespaces and rules
//! that belong to no container.
//!
//! A container's namespace is created when it first starts and kept across
//! its restarts (same address, same veth); `stop` removes its veth, its rules
//! and its namespace; `remove` also frees its address.

pub mod allocations;
mod links;
pub mod names;
pub mod netns;
pub mod nft;
pub mod ports;
mod sysctl;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use tokio::sync::Mutex;

use crate::config::NetworkConfig;
use crate::manifest::{NetworkMode, PortMapping};
use crate::paths::Paths;
use allocations::{Allocation, Allocations, PublishedPort};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(transparent)]
    Ports(#[from] ports::PortError),
    #[error(transparent)]
    Links(#[from] links::LinkError),
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error(transparent)]
    Nft(#[from] nft::NftError),
    #[error(transparent)]
    Sysctl(#[from] sysctl::SysctlError),
    #[error(transparent)]
    Allocation(#[from] allocations::AllocationError),
    #[error("{0}")]
    Modules(String),
    #[error(
        "network.subnet {subnet} overlaps {route} on {interface}: choose another subnet in paddockd.yaml"
    )]
    SubnetInUse {
        subnet: ipnet::Ipv4Net,
        route: ipnet::Ipv4Net,
        interface: String,
    },
    #[error("the nftables thread failed")]
    Thread,
    /// A teardown that kept going past its failures: every one of them.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Teardown(Vec<NetworkError>),
}

/// The failures of a teardown, which does every step it can and reports
/// them all at the end (as netavark's does): one stuck veth must not leave
/// the namespace, the rules and the record behind too.
#[derive(Debug, Default)]
struct Failures(Vec<NetworkError>);

impl Failures {
    /// Keeps `result`'s error, if any, and carries on.
    fn note<T, E: Into<NetworkError>>(&mut self, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                // Not logged here: the caller logs the collected failures once.
                match e.into() {
                    NetworkError::Teardown(inner) => self.0.extend(inner),
                    e => self.0.push(e),
                }
                None
            }
        }
    }

    fn into_result(mut self) -> Result<(), NetworkError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(self.0.remove(0)),
            _ => Err(NetworkError::Teardown(self.0)),
        }
    }
}

#[cfg(test)]
mod failures_tests {
    use super::*;

    #[test]
    fn a_teardown_keeps_going_and_reports_every_failure() {
        let mut steps = Vec::new();
        let mut failures = Failures::default();
        for step in ["veth", "netns", "rules"] {
            steps.push(step);
            let r: Result<(), NetworkError> = if step == "rules" {
                Ok(())
            } else {
                Err(NetworkError::Modules(format!("{step} failed")))
            };
            failures.note(r);
        }
        assert_eq!(steps, ["veth", "netns", "rules"], "every step ran");
        let e = failures.into_result().unwrap_err();
        assert_eq!(e.to_string(), "veth failed; netns failed");
        // Nested teardowns flatten; one failure stays itself.
        let mut outer = Failures::default();
        outer.note::<(), _>(Err(e));
        outer.note::<(), _>(Err(NetworkError::Thread));
        assert!(matches!(outer.into_result(), Err(NetworkError::Teardown(v)) if v.len() == 3));
        let mut one = Failures::default();
        one.note::<(), _>(Err(NetworkError::Thread));
        assert!(matches!(one.into_result(), Err(NetworkError::Thread)));
        assert!(Failures::default().into_result().is_ok());
    }
}

/// What a container got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The namespace to run it in.
    pub netns: PathBuf,
    pub address: Option<Ipv4Addr>,
    pub ports: Vec<PublishedPort>,
}

/// The kernel modules bridged networking uses (loaded when missing).
pub const KERNEL_MODULES: &[&str] = &[
    "bridge",
    "veth",
    "nf_tables",
    "nf_nat",
    "nft_chain_nat",
    "nft_nat",
    "nft_masq",
    "nft_ct",
    "nft_fib_inet",
];

/// paddock's networking for one root.
pub struct Network {
    config: NetworkConfig,
    netns_dir: PathBuf,
    state: Mutex<State>,
}

struct State {
    allocations: Allocations,
    reservations: ports::Reservations,
    host: Option<rtnetlink::Handle>,
    bridge_index: Option<u32>,
    dns_upstream: Option<Ipv4Addr>,
    netns_dir_ready: bool,
    /// What the table was last made from (each rebuild costs ~10 ms of
    /// kernel time, so an unchanged one is not sent again).
    applied: Option<nft::Ruleset>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Network {
    pub fn new(paths: &Paths, config: NetworkConfig) -> Self {
        let allocations =
            Allocations::load(&paths.store().join("network").join("allocations.json"));
        Self {
            config,
            netns_dir: paths.run_paddock().join("netns"),
            state: Mutex::new(State {
                allocations,
                reservations: ports::Reservations::default(),
                host: None,
                bridge_index: None,
                dns_upstream: None,
                netns_dir_ready: false,
                applied: None,
            }),
        }
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// Where `name`'s namespace is pinned.
    pub fn netns_path(&self, name: &str) -> PathBuf {
        self.netns_dir.join(name)
    }

    /// The host end of `name`'s veth: derived from the name, so a restarted
    /// paddockd knows which links are whose.
    pub fn veth_name(name: &str) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(name.as_bytes());
        format!("pd-{}", hex::encode(&digest[..4]))
    }

    /// Gives `name` its namespace (and for `bridge` its address, veth and
    /// published ports); idempotent, so re-adopting a running container
    /// just checks that everything is in place.
    pub async fn attach(
        &self,
        name: &str,
        mode: &NetworkMode,
        wanted_ports: &[PortMapping],
    ) -> Result<Attachment, NetworkError> {
        let bridged = matches!(mode, NetworkMode::Bridge);
        let mut st = self.state.lock().await;
        let previous = st
            .allocations
            .containers
            .get(name)
            .cloned()
            .unwrap_or_default();

        // Ports first: a conflict fails before anything is built.
        let ports = if bridged {
            st.reservations
                .reserve(name, wanted_ports, &previous.ports)?
        } else {
            Vec::new()
        };
        let result = self.build(&mut st, name, bridged).await;
        let address = match result {
            Ok(a) => a,
            Err(e) => {
                st.reservations.release(name);
                return Err(e);
            }
        };
        st.allocations.containers.insert(
            name.to_string(),
            Allocation {
                address,
                ports: ports.clone(),
                attached: true,
            },
        );
        st.allocations.save()?;
        self.apply_rules(&mut st).await?;
        tracing::info!(container = name, address = ?address, ports = ?ports.iter().map(ToString::to_string).collect::<Vec<_>>(), "network attached");
        Ok(Attachment {
            netns: self.netns_path(name),
            address,
            ports,
        })
    }

    /// The namespace, and for a bridged container its address and veth.
    async fn build(
        &self,
        st: &mut State,
        name: &str,
        bridged: bool,
    ) -> Result<Option<Ipv4Addr>, NetworkError> {
        if !st.netns_dir_ready {
            netns::prepare_dir(&self.netns_dir)?;
            st.netns_dir_ready = true;
        }
        let path = self.netns_path(name);
        let inside = links::connect_in(&path, !netns::is_pinned(&path))?;
        links::loopback_up(&inside).await?;
        if !bridged {
            return Ok(None);
        }
        let bridge_index = self.ensure_bridge(st).await?;
        let subnet = self.config.subnet;
        let gateway = self.config.gateway();
        let address = st.allocations.address_for(name, subnet, gateway)?;
        let host = self.host(st)?;
        let fd = netns::open(&path)?;
        links::ensure_veth(
            &host,
            &inside,
            &fd,
            &links::VethPlan {
                host_name: &Self::veth_name(name),
                bridge_index,
                mtu: self.config.mtu,
                address,
                prefix: subnet.prefix_len(),
                gateway,
            },
        )
        .await?;
        Ok(Some(address))
    }

    fn host(&self, st: &mut State) -> Result<rtnetlink::Handle, NetworkError> {
        if let Some(h) = &st.host {
            return Ok(h.clone());
        }
        let h = links::connect()?;
        st.host = Some(h.clone());
        Ok(h)
    }

    async fn ensure_bridge(&self, st: &mut State) -> Result<u32, NetworkError> {
        let host = self.host(st)?;
        if let Some(index) = st.bridge_index {
            if links::find(&host, &self.config.bridge)
                .await?
                .is_some_and(|l| l.header.index == index)
            {
                return Ok(index);
            }
        }
        load_modules()?;
        if let Some((route, interface)) =
            links::overlapping_route(&host, self.config.subnet, &self.config.bridge).await?
        {
            return Err(NetworkError::SubnetInUse {
                subnet: self.config.subnet,
                route,
                interface,
            });
        }
        let index = links::ensure_bridge(
            &host,
            &self.config.bridge,
            self.config.gateway(),
            self.config.subnet.prefix_len(),
            self.config.mtu,
        )
        .await?;
        sysctl::for_bridge(&self.config.bridge)?;
        st.bridge_index = Some(index);
        Ok(index)
    }

    /// Takes `name` off the network (its container stopped): its rules,
    /// ports, veth and namespace go; its address stays reserved.
    pub async fn detach(&self, name: &str) -> Result<(), NetworkError> {
        let mut st = self.state.lock().await;
        let mut failures = Failures::default();
        failures.note(self.take_down(&mut st, name).await);
        if let Some(a) = st.allocations.containers.get_mut(name) {
            if a.attached {
                a.attached = false;
                failures.note(st.allocations.save());
            }
        }
        failures.note(self.apply_rules(&mut st).await);
        failures.into_result()
    }

    /// Forgets `name` entirely (its container was removed).
    pub async fn release(&self, name: &str) -> Result<(), NetworkError> {
        let mut st = self.state.lock().await;
        let mut failures = Failures::default();
        failures.note(self.take_down(&mut st, name).await);
        if st.allocations.containers.remove(name).is_some() {
            failures.note(st.allocations.save());
            tracing::info!(container = name, "network released");
        }
        failures.note(self.apply_rules(&mut st).await);
        failures.into_result()
    }

    /// Removes `name`'s ports, veth and namespace, each even if an earlier
    /// one failed.
    async fn take_down(&self, st: &mut State, name: &str) -> Result<(), NetworkError> {
        let mut failures = Failures::default();
        st.reservations.release(name);
        if st
            .allocations
            .containers
            .get(name)
            .is_some_and(|a| a.address.is_some())
        {
            if let Some(host) = failures.note(self.host(st)) {
                failures.note(links::delete(&host, &Self::veth_name(name)).await);
            }
        }
        failures.note(netns::remove(&self.netns_path(name)));
        failures.into_result()
    }

    /// Makes the kernel match the record after paddockd starts and after
    /// every apply: containers not in `keep` lose everything; namespaces,
    /// veths and allocations of containers that are gone are removed; the
    /// table is rebuilt.
    pub async fn reconcile(&self, keep: &BTreeSet<String>) -> Result<(), NetworkError> {
        let mut st = self.state.lock().await;
        let gone: Vec<String> = st
            .allocations
            .containers
            .keys()
            .filter(|n| !keep.contains(*n))
            .cloned()
            .collect();
        let mut failures = Failures::default();
        for name in &gone {
            failures.note(self.take_down(&mut st, name).await);
            st.allocations.containers.remove(name);
            tracing::info!(container = %name, "network of a container that is gone: removed");
        }
        // After a reboot the namespaces are gone: nothing is attached.
        let mut changed = !gone.is_empty();
        let unpinned: Vec<String> = st
            .allocations
            .containers
            .iter()
            .filter(|(n, a)| a.attached && !netns::is_pinned(&self.netns_path(n)))
            .map(|(n, _)| n.clone())
            .collect();
        for name in unpinned {
            if let Some(a) = st.allocations.containers.get_mut(&name) {
                a.attached = false;
                changed = true;
            }
        }
        if changed {
            failures.note(st.allocations.save());
        }
        // Namespaces and veths nobody holds.
        if let Ok(entries) = std::fs::read_dir(&self.netns_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let holder = st.allocations.containers.get(&name);
                if holder.is_none_or(|a| !a.attached) {
                    failures.note(netns::remove(&e.path()));
                }
            }
        }
        if st.bridge_index.is_some() || self.bridge_exists(&mut st).await {
            if let Some(host) = failures.note(self.host(&mut st)) {
                let ours: BTreeSet<String> = st
                    .allocations
                    .containers
                    .iter()
                    .filter(|(_, a)| a.attached && a.address.is_some())
                    .map(|(n, _)| Self::veth_name(n))
                    .collect();
                let links = failures
                    .note(links::names_starting_with(&host, "pd-").await)
                    .unwrap_or_default();
                for link in links {
                    if !ours.contains(&link) {
                        tracing::info!(link = %link, "removing a veth that belongs to no container");
                        failures.note(links::delete(&host, &link).await);
                    }
                }
            }
        }
        failures.note(self.apply_rules(&mut st).await);
        failures.into_result()
    }

    async fn bridge_exists(&self, st: &mut State) -> bool {
        match self.host(st) {
            Ok(host) => links::find(&host, &self.config.bridge)
                .await
                .is_ok_and(|l| l.is_some()),
            Err(_) => false,
        }
    }

    /// Bridged containers by name, for each other's /etc/hosts.
    pub async fn peers(&self) -> Vec<(String, Ipv4Addr)> {
        let st = self.state.lock().await;
        st.allocations
            .containers
            .iter()
            .filter(|(_, a)| a.attached)
            .filter_map(|(n, a)| a.address.map(|ip| (n.clone(), ip)))
            .collect()
    }

    /// `name`'s address, if it has one.
    pub async fn address_of(&self, name: &str) -> Option<Ipv4Addr> {
        let st = self.state.lock().await;
        st.allocations.containers.get(name).and_then(|a| a.address)
    }

    /// Sets the loopback resolver DNS from the bridge is forwarded to.
    pub async fn set_dns_upstream(&self, upstream: Option<Ipv4Addr>) -> Result<(), NetworkError> {
        let mut st = self.state.lock().await;
        if st.dns_upstream == upstream {
            return Ok(());
        }
        st.dns_upstream = upstream;
        self.apply_rules(&mut st).await
    }

    /// Rebuilds the nftables table from the attached allocations.
    async fn apply_rules(&self, st: &mut State) -> Result<(), NetworkError> {
        let published: Vec<nft::Dnat> = st
            .allocations
            .containers
            .values()
            .filter(|a| a.attached)
            .filter_map(|a| a.address.map(|ip| (ip, a)))
            .flat_map(|(ip, a)| {
                a.ports.iter().map(move |p| nft::Dnat {
                    host_ip: p.host_ip,
                    host_port: p.host_port,
                    protocol: p.protocol,
                    address: ip,
                    port: p.container_port,
                })
            })
            .collect();
        let in_use = st
            .allocations
            .containers
            .values()
            .any(|a| a.attached && a.address.is_some());
        let ruleset = nft::Ruleset {
            bridge: self.config.bridge.clone(),
            subnet: self.config.subnet,
            gateway: self.config.gateway(),
            dns_upstream: st.dns_upstream,
            published,
            in_use,
        };
        if st.applied.as_ref() == Some(&ruleset) {
            return Ok(());
        }
        // Never used bridged networking in this run: leave the kernel's
        // tables alone unless ours exists (then empty it).
        if !in_use && st.bridge_index.is_none() && st.applied.is_none() && !table_exists() {
            st.applied = Some(ruleset);
            return Ok(());
        }
        let sent = ruleset.clone();
        tokio::task::spawn_blocking(move || nft::apply(&sent))
            .await
            .map_err(|_| NetworkError::Thread)??;
        st.applied = Some(ruleset);
        Ok(())
    }
}

/// Whether `inet paddock` exists (a cheap check through the netlink API);
/// without nf_tables in the kernel (module not loaded yet) it cannot.
fn table_exists() -> bool {
    nft::exists().unwrap_or(false)
}

/// Loads the kernel modules bridged networking needs.
fn load_modules() -> Result<(), NetworkError> {
    paddock_kmod::ensure_loaded(KERNEL_MODULES).map_err(|e| NetworkError::Modules(e.to_string()))
}
