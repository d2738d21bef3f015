//! What the plugin prints: info, the completed network for `create`, the status block for
//! `setup`, and the error shape.

use ipnet::{IpNet, Ipv4Net};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

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

/// What podnet settled for a new network (its free subnet, gateway and bridge name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub bridge: String,
}

/// `create`'s answer: the network as received (name, ID, driver and unknown fields untouched)
/// with podnet's subnet, gateway and bridge, DNS off (podnet serves none) and Podman's IPAM off.
pub fn created(input: &Network, s: &Settled) -> Network {
    let mut n = input.clone();
    n.network_interface = Some(s.bridge.clone());
    n.subnets = Some(vec![Subnet {
        subnet: IpNet::V4(s.subnet),
        gateway: Some(IpAddr::V4(s.gateway)),
        lease_range: None,
    }]);
    n.ipv6_enabled = false;
    n.dns_enabled = false;
    n.ipam_options
        .get_or_insert_with(BTreeMap::new)
        .insert("driver".into(), IPAM_DRIVER.into());
    n
}

/// `setup`'s answer for one container interface.
pub fn status_block(
    ifname: &str,
    mac: Mac,
    address: IpNet,
    gateway: Option<IpAddr>,
) -> StatusBlock {
    StatusBlock {
        dns_search_domains: Vec::new(),
        dns_server_ips: Vec::new(),
        interfaces: BTreeMap::from([(
            ifname.to_owned(),
            NetInterface {
                mac_address: mac.to_string(),
                subnets: vec![NetAddress {
                    gateway,
                    ipnet: address,
                }],
            },
        )]),
    }
}

pub fn error(msg: impl Into<String>) -> ErrorReply {
    ErrorReply { error: msg.into() }
}
