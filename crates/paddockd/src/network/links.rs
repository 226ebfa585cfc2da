//! Links, addresses and routes through rtnetlink: the bridge, each
//! container's veth pair (host end on the bridge, `eth0` in the container's
//! namespace), and the container side's address and default route.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use futures_util::TryStreamExt;
use ipnet::Ipv4Net;
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use super::netns::{self, NetnsError};

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{action}: {source}")]
    Netlink {
        action: String,
        source: rtnetlink::Error,
    },
    #[error("opening a netlink socket: {0}")]
    Socket(std::io::Error),
    #[error(transparent)]
    Netns(#[from] NetnsError),
}

fn nl(action: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> LinkError {
    let action = action.into();
    move |source| LinkError::Netlink { action, source }
}

/// The errno of a netlink error reply, if that is what `e` is.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

/// A route-netlink connection in paddockd's own namespace.
pub fn connect() -> Result<Handle, LinkError> {
    let (connection, handle, _) = rtnetlink::new_connection().map_err(LinkError::Socket)?;
    tokio::spawn(connection);
    Ok(handle)
}

/// A route-netlink connection inside the namespace pinned at `path`; with
/// `create`, the namespace is made first (on the same thread).
pub fn connect_in(path: &Path, create: bool) -> Result<Handle, LinkError> {
    let runtime = tokio::runtime::Handle::current();
    let open = move || {
        // The socket registers with tokio's reactor as it is made.
        let _guard = runtime.enter();
        rtnetlink::new_connection()
    };
    let (connection, handle, _) = if create {
        netns::create_then(path, open)?
    } else {
        netns::run_in(path, open)?
    };
    tokio::spawn(connection);
    Ok(handle)
}

/// The link called `name`, if there is one.
pub async fn find(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, LinkError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(nl(format!("looking up link {name}"))(e)),
    }
}

/// Names of every link whose name starts with `prefix`.
pub async fn names_starting_with(handle: &Handle, prefix: &str) -> Result<Vec<String>, LinkError> {
    let links: Vec<LinkMessage> = handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(nl("listing links"))?;
    Ok(links
        .iter()
        .filter_map(name_of)
        .filter(|n| n.starts_with(prefix))
        .collect())
}

fn name_of(link: &LinkMessage) -> Option<String> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

fn controller_of(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Controller(i) => Some(*i),
        _ => None,
    })
}

/// Deletes the link called `name`; a missing one is not an error.
pub async fn delete(handle: &Handle, name: &str) -> Result<(), LinkError> {
    if let Some(link) = find(handle, name).await? {
        match handle.link().del(link.header.index).execute().await {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(libc::ENODEV) => {}
            Err(e) => return Err(nl(format!("deleting link {name}"))(e)),
        }
    }
    Ok(())
}

/// Adds `address/prefix` to link `index` unless it is there already.
async fn ensure_address(
    handle: &Handle,
    index: u32,
    address: Ipv4Addr,
    prefix: u8,
    what: &str,
) -> Result<(), LinkError> {
    match handle
        .address()
        .add(index, IpAddr::V4(address), prefix)
        .execute()
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        Err(e) => Err(nl(format!("adding {address}/{prefix} to {what}"))(e)),
    }
}

/// Creates the bridge if missing, gives it the gateway address and brings it
/// up; returns its index.
pub async fn ensure_bridge(
    handle: &Handle,
    name: &str,
    gateway: Ipv4Addr,
    prefix: u8,
    mtu: Option<u32>,
) -> Result<u32, LinkError> {
    if find(handle, name).await?.is_none() {
        let mut bridge = LinkBridge::new(name);
        if let Some(mtu) = mtu {
            bridge = bridge.mtu(mtu);
        }
        match handle.link().add(bridge.build()).execute().await {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(libc::EEXIST) => {}
            Err(e) => return Err(nl(format!("creating bridge {name}"))(e)),
        }
        tracing::info!(bridge = name, "created the bridge");
    }
    let index = find(handle, name)
        .await?
        .map(|l| l.header.index)
        .ok_or_else(|| {
            LinkError::Socket(std::io::Error::other(format!("bridge {name} vanished")))
        })?;
    ensure_address(handle, index, gateway, prefix, name).await?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(nl(format!("bringing {name} up")))?;
    Ok(index)
}

/// What a container's end of the veth pair gets.
pub struct VethPlan<'a> {
    /// The host end's name.
    pub host_name: &'a str,
    pub bridge_index: u32,
    pub mtu: Option<u32>,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
}

/// The container's MAC address, derived from its IP address (as docker
/// does): a restarted container gets a new veth but the same MAC, so the
/// host's neighbour entry for it stays right and traffic resumes at once.
pub fn mac_for(address: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = address.octets();
    // Locally administered, unicast.
    [0x02, 0x50, a, b, c, d]
}

/// The interface name inside the container.
const CONTAINER_IF: &str = "eth0";

/// Makes sure the container's namespace has `eth0` with its address and a
/// default route, joined by a veth to the bridge. An intact pair is left as
/// it is; half of one (after a crash) is replaced.
pub async fn ensure_veth(
    host: &Handle,
    inside: &Handle,
    netns_fd: &OwnedFd,
    plan: &VethPlan<'_>,
) -> Result<(), LinkError> {
    let host_end = find(host, plan.host_name).await?;
    let container_end = find(inside, CONTAINER_IF).await?;
    let intact = host_end
        .as_ref()
        .is_some_and(|l| controller_of(l) == Some(plan.bridge_index))
        && container_end.is_some();
    if !intact {
        delete(host, plan.host_name).await?;
        delete(inside, CONTAINER_IF).await?;
        let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(CONTAINER_IF.to_string())
            .address(mac_for(plan.address).to_vec())
            .setns_by_fd(netns_fd.as_raw_fd());
        let mut veth = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(plan.host_name.to_string())
            .controller(plan.bridge_index);
        if let Some(mtu) = plan.mtu {
            peer = peer.mtu(mtu);
            veth = veth.mtu(mtu);
        }
        let veth = veth
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
            .up()
            .build();
        host.link()
            .add(veth)
            .execute()
            .await
            .map_err(nl(format!("creating veth {}", plan.host_name)))?;
    }
    let index = find(inside, CONTAINER_IF)
        .await?
        .map(|l| l.header.index)
        .ok_or_else(|| {
            LinkError::Socket(std::io::Error::other(
                "eth0 vanished from the container's namespace",
            ))
        })?;
    ensure_address(inside, index, plan.address, plan.prefix, CONTAINER_IF).await?;
    inside
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(nl("bringing eth0 up"))?;
    if let Some(host_end) = find(host, plan.host_name).await? {
        host.link()
            .set(
                LinkUnspec::new_with_index(host_end.header.index)
                    .up()
                    .build(),
            )
            .execute()
            .await
            .map_err(nl(format!("bringing {} up", plan.host_name)))?;
    }
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(plan.gateway)
        .build();
    match inside.route().add(route).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        Err(e) => Err(nl(format!("adding the default route via {}", plan.gateway))(e)),
    }
}

/// A route of the main table that is not on `bridge` and overlaps `subnet`
/// (another network on the host uses addresses the bridge would hand out):
/// its destination and interface name.
pub async fn overlapping_route(
    handle: &Handle,
    subnet: Ipv4Net,
    bridge: &str,
) -> Result<Option<(Ipv4Net, String)>, LinkError> {
    /// RT_TABLE_MAIN.
    const MAIN: u8 = 254;
    let bridge_index = find(handle, bridge).await?.map(|l| l.header.index);
    let routes: Vec<_> = handle
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
        .execute()
        .try_collect()
        .await
        .map_err(nl("listing routes"))?;
    for route in routes {
        let prefix = route.header.destination_prefix_length;
        if route.header.table != MAIN || prefix == 0 {
            continue;
        }
        let mut destination = None;
        let mut oif = None;
        for attribute in &route.attributes {
            match attribute {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => destination = Some(*ip),
                RouteAttribute::Oif(index) => oif = Some(*index),
                _ => {}
            }
        }
        let Some(destination) = destination else {
            continue;
        };
        let Ok(net) = Ipv4Net::new(destination, prefix) else {
            continue;
        };
        if oif.is_some() && oif == bridge_index {
            continue;
        }
        if net.contains(&subnet.network()) || subnet.contains(&net.network()) {
            let name = match oif {
                Some(index) => handle
                    .link()
                    .get()
                    .match_index(index)
                    .execute()
                    .try_next()
                    .await
                    .ok()
                    .flatten()
                    .and_then(|l| name_of(&l))
                    .unwrap_or_else(|| format!("interface {index}")),
                None => "no interface".to_string(),
            };
            return Ok(Some((net.trunc(), name)));
        }
    }
    Ok(None)
}

/// Brings loopback up (a new namespace starts with it down).
pub async fn loopback_up(inside: &Handle) -> Result<(), LinkError> {
    let lo = find(inside, "lo")
        .await?
        .ok_or_else(|| LinkError::Socket(std::io::Error::other("no loopback interface")))?;
    inside
        .link()
        .set(LinkUnspec::new_with_index(lo.header.index).up().build())
        .execute()
        .await
        .map_err(nl("bringing lo up"))
}
