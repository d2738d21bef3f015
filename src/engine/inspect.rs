//! What listings and `inspect` report: records joined with liveness, as typed facts. The
//! front ends decide how they look (`cli/view.rs` makes table rows and JSON of them).

use super::{container, firewall, Ctx};
use crate::model::{Endpoint, EndpointState, Labels, Mac, Network, PortMapping, Result};
use std::net::Ipv4Addr;

/// A container's state as a listing reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Removing,
    /// Its namespace is gone (a reboot, or removed from outside): the next `gc` (or the first
    /// command after a boot) retires it.
    Dead,
    Running,
    /// Its process ended; the namespace stays until it is removed (as Docker).
    Exited,
    /// A namespace podnet did not make, wired with `attach`: no process of podnet's.
    Attached,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Removing => "removing",
            Status::Dead => "dead",
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Attached => "attached",
        }
    }
}

pub fn status(ep: &Endpoint) -> Status {
    status_given(ep, || ns_gone(ep))
}

/// [`status`], with whether its namespace is gone answered by `ns_gone` (asked only of a
/// ready record): `podnet graph` opens every namespace anyway, and opening each twice cost
/// ~5 % of a graph at 1,000 containers (docs/decisions/2026-12-02-graph-speed.md).
pub fn status_given(ep: &Endpoint, ns_gone: impl FnOnce() -> bool) -> Status {
    match ep.state {
        EndpointState::Creating => Status::Creating,
        EndpointState::Removing => Status::Removing,
        EndpointState::Ready if ns_gone() => Status::Dead,
        EndpointState::Ready => match ep.pid {
            Some(_) if container::is_running(ep) => Status::Running,
            Some(_) => Status::Exited,
            None => Status::Attached,
        },
    }
}

fn ns_gone(ep: &Endpoint) -> bool {
    ep.netns
        .as_deref()
        .is_some_and(|p| crate::kernel::netns::open(p.as_ref()).is_err())
}

/// Everything `inspect` says about a container.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub endpoint: Endpoint,
    pub status: Status,
    /// Its network's gateway (bridge networks).
    pub gateway: Option<Ipv4Addr>,
    /// Its network's IPv6 gateway (dual-stack networks).
    pub gateway6: Option<std::net::Ipv6Addr>,
    /// eth0's MAC on a bridge network: the only source MAC its bridge port lets through.
    pub mac: Option<Mac>,
    pub labels: Labels,
    pub ports: Vec<PortMapping>,
    /// The container runtime's record when one made it (CNI, netavark: `engine::runtime`).
    pub runtime: Option<crate::store::RuntimeRecord>,
    /// Every bridge network it is on: its first (eth0), then those it was connected to.
    pub networks: Vec<Attachment>,
}

/// A container's interface on one network.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub network: String,
    pub ifname: String,
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<std::net::Ipv6Addr>,
    pub mac: Option<Mac>,
    pub gateway: Option<Ipv4Addr>,
    pub gateway6: Option<std::net::Ipv6Addr>,
    pub host_veth: Option<String>,
    pub aliases: Vec<String>,
    /// `creating`, `ready` or `removing` (a connect or disconnect in progress).
    pub state: &'static str,
}

fn attachment(ctx: &Ctx, ep: &Endpoint, net: Option<&Network>) -> Result<Option<Attachment>> {
    let crate::model::Mode::Bridge(n) = &ep.mode else {
        return Ok(None);
    };
    Ok(Some(Attachment {
        network: n.clone(),
        ifname: ep.ifname().to_string(),
        ip: ep.ip,
        ip6: ep.ip6,
        mac: firewall::guard_of(ep).map(|g| g.mac),
        gateway: net.map(|n| n.gateway),
        gateway6: net.and_then(|n| n.gateway6),
        host_veth: ep.host_veth.clone(),
        aliases: ctx.store.aliases_of(ep.id)?,
        state: ep.state.as_str(),
    }))
}

pub fn container(ctx: &Ctx, ep: &Endpoint) -> Result<ContainerInfo> {
    let net = match &ep.mode {
        crate::model::Mode::Bridge(n) => ctx.store.network(n)?,
        _ => None,
    };
    let mut networks: Vec<Attachment> = attachment(ctx, ep, net.as_ref())?.into_iter().collect();
    for m in ctx.store.members_of(ep.id)? {
        if let Some(mep) = ctx.store.endpoint_by_id(m.endpoint_id)? {
            let mnet = match &mep.mode {
                crate::model::Mode::Bridge(n) => ctx.store.network(n)?,
                _ => None,
            };
            networks.extend(attachment(ctx, &mep, mnet.as_ref())?);
        }
    }
    Ok(ContainerInfo {
        networks,
        endpoint: ep.clone(),
        status: status(ep),
        gateway: net.as_ref().map(|n| n.gateway),
        gateway6: net.as_ref().and_then(|n| n.gateway6),
        mac: firewall::guard_of(ep).map(|g| g.mac),
        labels: ctx.store.labels_of(ep.id)?,
        ports: ctx.store.ports_of(ep.id)?,
        runtime: super::runtime::record_of(ctx, ep.id)?,
    })
}

/// Every container, oldest first.
pub fn containers(ctx: &Ctx) -> Result<Vec<ContainerInfo>> {
    // A container's later networks are shown with it, not as containers.
    let members: std::collections::HashSet<i64> = ctx.store.member_ids()?.into_iter().collect();
    ctx.store
        .endpoints()?
        .iter()
        .filter(|e| !members.contains(&e.id))
        .map(|e| container(ctx, e))
        .collect()
}

/// A network with the number of containers on it (`network ls`).
pub fn networks(ctx: &Ctx) -> Result<Vec<(Network, usize)>> {
    ctx.store
        .networks()?
        .into_iter()
        .map(|n| {
            let users = ctx.store.network_users(n.id)?.len();
            Ok((n, users))
        })
        .collect()
}

/// Everything `network inspect` says about a network.
#[derive(Debug, Clone)]
pub struct NetworkInfo {
    pub network: Network,
    /// Whether the host forwards IPv4 (podnet turns it on for non-internal networks).
    pub ip_forward: bool,
    /// Whether the host forwards IPv6 (dual-stack networks only; podnet turns it on for
    /// non-internal ones).
    pub ip6_forward: Option<bool>,
    /// Its containers with their addresses (IPv4, IPv6), oldest first.
    pub members: Vec<(String, Option<Ipv4Addr>, Option<std::net::Ipv6Addr>)>,
}

pub fn network(ctx: &Ctx, network: Network) -> Result<NetworkInfo> {
    let mut members = Vec::new();
    for name in ctx.store.network_users(network.id)? {
        let ep = ctx.store.endpoint(&name)?;
        let (ip, ip6) = (ep.as_ref().and_then(|e| e.ip), ep.and_then(|e| e.ip6));
        members.push((name, ip, ip6));
    }
    let ip6_forward = network.subnet6.map(|_| {
        crate::kernel::sysctl::get("net.ipv6.conf.all.forwarding").as_deref() == Some("1")
    });
    Ok(NetworkInfo {
        network,
        ip_forward: crate::kernel::sysctl::get("net.ipv4.ip_forward").as_deref() == Some("1"),
        ip6_forward,
        members,
    })
}

/// A container's published ports (`podnet ports`).
pub fn ports(ctx: &Ctx, ep: &Endpoint) -> Result<Vec<PortMapping>> {
    ctx.store.ports_of(ep.id)
}
