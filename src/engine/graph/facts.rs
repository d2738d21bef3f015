//! The two sides the graph is drawn from, as plain data: what the store records
//! ([`StoreFacts`]) and what the kernel has ([`KernelFacts`]). `collect.rs` reads them;
//! `build.rs` and `diff.rs` are pure functions of them (unit-tested without a kernel).

use crate::kernel::fdb::FdbEntry;
use crate::kernel::link::Link;
use crate::kernel::route::Route;
use crate::model::{Network, PortMapping};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Default)]
pub struct StoreFacts {
    /// The store's identity: links podnet made carry `podnet:<id>` as their alias.
    pub store_id: String,
    pub networks: Vec<Network>,
    /// Containers (a container's later networks are attachments of it, not containers).
    pub containers: Vec<ContainerFacts>,
    pub services: Vec<ServiceFacts>,
    /// Cluster mode: the node's overlay.
    pub overlay: Option<OverlayFacts>,
}

#[derive(Debug, Clone)]
pub struct ContainerFacts {
    pub name: String,
    /// `bridge`, `host`, `none`, `container`.
    pub mode: String,
    /// The container whose namespace it shares (`container:NAME`).
    pub shares: Option<String>,
    pub status: String,
    pub netns: Option<String>,
    pub pid: Option<i32>,
    /// Only a ready record is judged against the kernel (others are mid-operation).
    pub ready: bool,
    /// Its bridge attachments: its first network, then later ones.
    pub attachments: Vec<AttachmentFacts>,
    pub ports: Vec<PortMapping>,
}

#[derive(Debug, Clone)]
pub struct AttachmentFacts {
    pub network: String,
    pub ifname: String,
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub host_veth: Option<String>,
    pub ready: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceFacts {
    pub name: String,
    pub vip: Option<Ipv4Addr>,
    pub vip6: Option<Ipv6Addr>,
    /// `PORT[:TARGET]/PROTO`.
    pub ports: Vec<String>,
    /// Backends as last programmed into the kernel (address, port override).
    pub backends: Vec<(IpAddr, Option<u16>)>,
}

#[derive(Debug, Clone)]
pub struct OverlayFacts {
    pub device: String,
    pub vni: u32,
    pub subnet: ipnet::Ipv4Net,
    pub pod_cidr: ipnet::Ipv4Net,
}

/// One namespace's links, addresses and IPv4 main-table routes.
#[derive(Debug, Clone, Default)]
pub struct NsFacts {
    pub links: Vec<Link>,
    /// (link index, address, prefix length), both families.
    pub addrs: Vec<(u32, IpAddr, u8)>,
    pub routes: Vec<Route>,
}

impl NsFacts {
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }
    pub fn link_name(&self, index: u32) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.index == index)
            .map(|l| l.name.as_str())
    }
    pub fn has_addr(&self, index: u32, ip: IpAddr) -> bool {
        self.addrs.iter().any(|(i, a, _)| *i == index && *a == ip)
    }
}

#[derive(Debug, Clone, Default)]
pub struct KernelFacts {
    pub host: NsFacts,
    /// Each recorded namespace path; `None` when it cannot be opened.
    pub namespaces: HashMap<String, Option<NsFacts>>,
    /// The host's FDB entries and IPv4 neighbours (cluster mode: remote VTEPs).
    pub fdb: Vec<FdbEntry>,
    pub neighbours: Vec<(u32, Ipv4Addr, [u8; 6])>,
}
