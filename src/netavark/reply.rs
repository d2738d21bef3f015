//! What the plugin prints: info, the completed network for `create`, the status block for
//! `setup`, and the error shape.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::types::{ErrorReply, Info, NetAddress, NetInterface, Network, StatusBlock, Subnet};
use crate::model::Mac;

/// The plugin API version podnet implements.
pub const API_VERSION: &str = "1.0.0";

/// What podnet's `create` writes as `ipam_options.driver`: Podman then allocates no address
/// itself (it would for `host-local`) and passes `--ip` through as `static_ips`.
pub const IPAM_DRIVER: &str = "none";

pub fn info() -> Info {
    Info {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        api_version: API_VERSION.to_owned(),
    }
}

/// What podnet settled for a new network (its free subnet, gateway and bridge name; the
/// IPv6 subnet and gateway of a dual-stack one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub v6: Option<(Ipv6Net, Ipv6Addr)>,
    pub bridge: String,
    /// The network has DNS (a podnet network made with it, e.g. by `podnet network create`).
    pub dns: bool,
}

/// `create`'s answer: the network as received (name, ID, driver and unknown fields untouched)
/// with podnet's subnet, gateway and bridge, DNS as the podnet network has it (a network this
/// plugin makes has none; one made by `podnet network create` has the agent's) and Podman's
/// IPAM off.
pub fn created(input: &Network, s: &Settled) -> Network {
    let mut n = input.clone();
    n.network_interface = Some(s.bridge.clone());
    let mut subnets = vec![Subnet {
        subnet: IpNet::V4(s.subnet),
        gateway: Some(IpAddr::V4(s.gateway)),
        lease_range: None,
    }];
    if let Some((s6, g6)) = s.v6 {
        subnets.push(Subnet {
            subnet: IpNet::V6(s6),
            gateway: Some(IpAddr::V6(g6)),
            lease_range: None,
        });
    }
    n.subnets = Some(subnets);
    n.ipv6_enabled = s.v6.is_some();
    n.dns_enabled = s.dns;
    n.ipam_options
        .get_or_insert_with(BTreeMap::new)
        .insert("driver".into(), IPAM_DRIVER.into());
    n
}

/// The DNS a container is told of (Podman writes its resolv.conf from it): the servers (none
/// on a network without DNS) and search domains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsBlock {
    pub servers: Vec<IpAddr>,
    pub search: Vec<String>,
}

/// `setup`'s answer for one container interface: its addresses (IPv4, then IPv6 on a
/// dual-stack network) with their gateways, and the network's DNS.
pub fn status_block(
    ifname: &str,
    mac: Mac,
    addresses: &[(IpNet, Option<IpAddr>)],
    dns: &DnsBlock,
) -> StatusBlock {
    StatusBlock {
        dns_search_domains: dns.search.clone(),
        dns_server_ips: dns.servers.clone(),
        interfaces: BTreeMap::from([(
            ifname.to_owned(),
            NetInterface {
                mac_address: mac.to_string(),
                subnets: addresses
                    .iter()
                    .map(|(ipnet, gateway)| NetAddress {
                        gateway: *gateway,
                        ipnet: *ipnet,
                    })
                    .collect(),
            },
        )]),
    }
}

pub fn error(msg: impl Into<String>) -> ErrorReply {
    ErrorReply { error: msg.into() }
}
