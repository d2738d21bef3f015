//! The CNI success result, held in one version-neutral form (a superset: 1.1.0's fields) that
//! is read from a `prevResult` or a delegated IPAM plugin of any version ([`parse`]) and
//! rendered in the request's version ([`render`]).

mod build;
mod parse;
mod render;

pub use build::{add_result, Attached, Link};
pub use parse::parse;
pub use render::render;

use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CniResult {
    pub interfaces: Vec<Interface>,
    pub ips: Vec<IpConfig>,
    pub routes: Vec<Route>,
    pub dns: Dns,
}

/// An interface the attachment made. `sandbox` is the namespace path for one inside the
/// container, `None` on the host. `mtu`, `socket_path` and `pci_id` exist from 1.1.0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interface {
    pub name: String,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
    pub sandbox: Option<String>,
    pub socket_path: Option<String>,
    pub pci_id: Option<String>,
}

/// An address with its prefix (`address` keeps the host bits: 10.1.0.5/16), the subnet's
/// gateway, and the index into `interfaces` of the interface holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfig {
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
    pub interface: Option<usize>,
}

/// A route; everything but `dst` and `gw` exists from 1.1.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
    pub mtu: Option<u32>,
    pub advmss: Option<u32>,
    pub priority: Option<u32>,
    pub table: Option<u32>,
    pub scope: Option<u32>,
}

impl Route {
    pub fn new(dst: IpNet, gw: Option<IpAddr>) -> Route {
        Route {
            dst,
            gw,
            mtu: None,
            advmss: None,
            priority: None,
            table: None,
            scope: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dns {
    pub nameservers: Vec<String>,
    pub domain: Option<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl Dns {
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_none()
            && self.search.is_empty()
            && self.options.is_empty()
    }
}

impl CniResult {
    /// The addresses of the interface named `ifname` inside a sandbox (what CHECK compares and
    /// what runtimes report as the pod's IPs).
    pub fn sandbox_ips(&self, ifname: &str) -> Vec<IpNet> {
        self.ips
            .iter()
            .filter(|ip| {
                ip.interface
                    .and_then(|i| self.interfaces.get(i))
                    .is_some_and(|i| i.name == ifname && i.sandbox.is_some())
            })
            .map(|ip| ip.address)
            .collect()
    }
}
