//! The result of podnet's ADD, from what the engine made. Like the reference bridge plugin it
//! lists the bridge, the host end of the veth and the container's interface (with its
//! namespace as `sandbox`), and the addresses on the container's interface (IPv4, then IPv6
//! on a dual-stack network).

use ipnet::IpNet;
use std::net::IpAddr;

use super::{CniResult, Dns, Interface, IpConfig, Route};
use crate::model::Mac;

/// One link the attachment uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    pub mac: Option<Mac>,
    pub mtu: Option<u32>,
}

/// What the engine made for one ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The network's bridge (listed first, as the bridge plugin does); `None` leaves it out.
    pub bridge: Option<Link>,
    /// The veth end on the host (an empty name: none, a macvlan network's endpoint).
    pub host: Link,
    /// The container's interface (named CNI_IFNAME).
    pub container: Link,
    /// CNI_NETNS, as given.
    pub sandbox: String,
    /// The container's address with the subnet's prefix.
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
    /// On a dual-stack network: the container's IPv6 address with the IPv6 subnet's prefix,
    /// listed after the IPv4 one on the same interface.
    pub address6: Option<IpNet>,
    pub gateway6: Option<IpAddr>,
    pub routes: Vec<Route>,
    pub dns: Dns,
}

/// The result to print: `prev` (when the plugin runs after others in a chain) with podnet's
/// interfaces and address appended, routes it did not have added, and podnet's DNS when it
/// had none.
pub fn add_result(prev: Option<&CniResult>, a: &Attached) -> CniResult {
    let mut r = prev.cloned().unwrap_or_default();
    let iface = |l: &Link, sandbox: Option<&str>| Interface {
        name: l.name.clone(),
        mac: l.mac.map(|m| m.to_string()),
        mtu: l.mtu,
        sandbox: sandbox.map(str::to_owned),
        ..Interface::default()
    };
    if let Some(b) = &a.bridge {
        r.interfaces.push(iface(b, None));
    }
    if !a.host.name.is_empty() {
        r.interfaces.push(iface(&a.host, None));
    }
    r.interfaces.push(iface(&a.container, Some(&a.sandbox)));
    r.ips.push(IpConfig {
        address: a.address,
        gateway: a.gateway,
        interface: Some(r.interfaces.len() - 1),
    });
    if let Some(a6) = a.address6 {
        r.ips.push(IpConfig {
            address: a6,
            gateway: a.gateway6,
            interface: Some(r.interfaces.len() - 1),
        });
    }
    for rt in &a.routes {
        if !r.routes.contains(rt) {
            r.routes.push(rt.clone());
        }
    }
    if r.dns.is_empty() {
        r.dns = a.dns.clone();
    }
    r
}
