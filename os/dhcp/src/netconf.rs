//! Applying a configuration to the interface over rtnetlink: link up,
//! the one IPv4 address, the default route.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("netlink: {0}")]
    Connect(std::io::Error),
    #[error("no interface named {0}")]
    NoInterface(String),
    #[error("{what} on {interface}: {source}")]
    Netlink {
        what: &'static str,
        interface: String,
        source: rtnetlink::Error,
    },
}

/// One interface, addressed over an rtnetlink connection.
pub struct Interface {
    handle: Handle,
    pub name: String,
    pub index: u32,
    pub mac: Vec<u8>,
}

impl Interface {
    /// Looks the interface up (must run inside a tokio runtime).
    pub async fn open(name: &str) -> Result<Self, NetError> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(NetError::Connect)?;
        tokio::spawn(connection);
        let mut links = handle.link().get().match_name(name.to_string()).execute();
        let link = match links.try_next().await {
            Ok(Some(link)) => link,
            Ok(None) | Err(rtnetlink::Error::NetlinkError(_)) => {
                return Err(NetError::NoInterface(name.into()))
            }
            Err(source) => {
                return Err(NetError::Netlink {
                    what: "get link",
                    interface: name.into(),
                    source,
                })
            }
        };
        let mac = link
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::Address(mac) => Some(mac.clone()),
                _ => None,
            })
            .unwrap_or_default();
        Ok(Self {
            handle,
            name: name.to_string(),
            index: link.header.index,
            mac,
        })
    }

    fn err(&self, what: &'static str) -> impl FnOnce(rtnetlink::Error) -> NetError + '_ {
        move |source| NetError::Netlink {
            what,
            interface: self.name.clone(),
            source,
        }
    }

    pub async fn up(&self) -> Result<(), NetError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(self.index).up().build())
            .execute()
            .await
            .map_err(self.err("set link up"))
    }

    /// Makes `address/prefix` the interface's only IPv4 address.
    pub async fn set_address(&self, address: Ipv4Addr, prefix: u8) -> Result<(), NetError> {
        self.handle
            .address()
            .add(self.index, IpAddr::V4(address), prefix)
            .replace()
            .execute()
            .await
            .map_err(self.err("add address"))?;
        self.remove_addresses(Some((address, prefix))).await
    }

    /// Removes IPv4 addresses, except `keep`.
    pub async fn remove_addresses(&self, keep: Option<(Ipv4Addr, u8)>) -> Result<(), NetError> {
        let mut addrs = self
            .handle
            .address()
            .get()
            .set_link_index_filter(self.index)
            .execute();
        let mut stale = Vec::new();
        while let Some(msg) = addrs.try_next().await.map_err(self.err("list addresses"))? {
            if msg.header.family != AddressFamily::Inet {
                continue;
            }
            let addr = msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(IpAddr::V4(a))
                | AddressAttribute::Address(IpAddr::V4(a)) => Some(*a),
                _ => None,
            });
            if addr.map(|a| (a, msg.header.prefix_len)) != keep {
                stale.push(msg);
            }
        }
        for msg in stale {
            self.handle
                .address()
                .del(msg)
                .execute()
                .await
                .map_err(self.err("delete address"))?;
        }
        Ok(())
    }

    /// The default route via `gateway` on this interface (replacing one).
    pub async fn set_default_route(&self, gateway: Ipv4Addr) -> Result<(), NetError> {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .output_interface(self.index)
            .gateway(gateway)
            .build();
        self.handle
            .route()
            .add(route)
            .replace()
            .execute()
            .await
            .map_err(self.err("add default route"))
    }
}
