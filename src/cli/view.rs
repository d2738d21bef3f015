//! How containers, networks and ports look in listings and `inspect`: the engine's typed facts
//! (`engine::inspect`) as rows for a table or JSON. The JSON field names are a stable output.

use crate::engine::inspect::{self, ContainerInfo, NetworkInfo};
use crate::engine::Ctx;
use crate::model::filter::{PsFacts, PsFilter};
use crate::model::{Endpoint, Mode, Network, PortMapping, Result};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ContainerRow {
    pub name: String,
    pub mode: &'static str,
    pub network: Option<String>,
    pub ip: Option<String>,
    /// The IPv6 address on a dual-stack network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip6: Option<String>,
    /// eth0's MAC on a bridge network (derived from `ip`; the only source MAC its port lets
    /// through).
    pub mac: Option<String>,
    pub gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<String>,
    pub host_veth: Option<String>,
    pub netns: Option<String>,
    pub pid: Option<i32>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<String>,
    /// Published ports as `HOSTIP:HOSTPORT->CPORT/PROTO`.
    pub ports: Vec<String>,
    pub labels: crate::model::Labels,
    /// The container runtime that made the attachment (CNI, netavark), with its key and pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeView>,
    /// Every bridge network it is on, its first (`eth0`, the default route) first.
    pub networks: Vec<AttachmentView>,
}

/// A container's interface on one network.
#[derive(Debug, Serialize)]
pub struct AttachmentView {
    pub network: String,
    pub ifname: String,
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip6: Option<String>,
    pub mac: Option<String>,
    pub gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<String>,
    pub host_veth: Option<String>,
    pub aliases: Vec<String>,
    pub state: &'static str,
}

impl ContainerRow {
    /// Every network's name, comma-separated (the first alone for a single network).
    pub fn network_cell(&self) -> Option<String> {
        match self.networks.len() {
            0 | 1 => self.network.clone(),
            _ => Some(
                self.networks
                    .iter()
                    .map(|n| n.network.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }

    /// Every address, comma-separated, in the order of [`network_cell`](Self::network_cell).
    pub fn ip_cell(&self) -> Option<String> {
        match self.networks.len() {
            0 | 1 => both(&self.ip, &self.ip6),
            _ => Some(
                self.networks
                    .iter()
                    .filter_map(|n| both(&n.ip, &n.ip6))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }
}

/// A runtime attachment's own facts (see `engine::runtime`).
#[derive(Debug, Serialize)]
pub struct RuntimeView {
    pub runtime: String,
    pub container_id: String,
    pub ifname: String,
    pub k8s_namespace: Option<String>,
    pub k8s_name: Option<String>,
}

impl RuntimeView {
    /// `NAMESPACE/NAME` of the pod (or the name alone, as Podman 4 gives it).
    pub fn pod(&self) -> Option<String> {
        match (&self.k8s_namespace, &self.k8s_name) {
            (Some(ns), Some(n)) => Some(format!("{ns}/{n}")),
            (None, Some(n)) => Some(n.clone()),
            _ => None,
        }
    }
}

fn host_ip(m: &PortMapping) -> String {
    m.host_ip
        .map(|i| i.to_string())
        .unwrap_or_else(|| "0.0.0.0".into())
}

impl From<ContainerInfo> for ContainerRow {
    fn from(c: ContainerInfo) -> Self {
        let ep = c.endpoint;
        ContainerRow {
            mode: ep.mode.kind(),
            network: match &ep.mode {
                Mode::Bridge(n) => Some(n.clone()),
                _ => None,
            },
            ip: ep.ip.map(|i| i.to_string()),
            ip6: ep.ip6.map(|i| i.to_string()),
            mac: c.mac.map(|m| m.to_string()),
            gateway: c.gateway.map(|g| g.to_string()),
            gateway6: c.gateway6.map(|g| g.to_string()),
            host_veth: ep.host_veth,
            netns: ep.netns,
            pid: ep.pid.map(|p| p.0),
            status: c.status.as_str(),
            labels: c.labels,
            ports: c
                .ports
                .iter()
                .map(|m| {
                    format!(
                        "{}:{}->{}/{}",
                        m.host_ip
                            .map(crate::model::host_ip_text)
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        m.host_port,
                        m.container_port,
                        m.proto
                    )
                })
                .collect(),
            shares: match &ep.mode {
                Mode::Container(o) => Some(o.clone()),
                _ => None,
            },
            runtime: c.runtime.map(|r| RuntimeView {
                runtime: r.runtime,
                container_id: r.container_id,
                ifname: r.ifname,
                k8s_namespace: r.k8s_namespace,
                k8s_name: r.k8s_name,
            }),
            networks: c
                .networks
                .into_iter()
                .map(|a| AttachmentView {
                    network: a.network,
                    ifname: a.ifname,
                    ip: a.ip.map(|i| i.to_string()),
                    ip6: a.ip6.map(|i| i.to_string()),
                    mac: a.mac.map(|m| m.to_string()),
                    gateway: a.gateway.map(|g| g.to_string()),
                    gateway6: a.gateway6.map(|g| g.to_string()),
                    host_veth: a.host_veth,
                    aliases: a.aliases,
                    state: a.state,
                })
                .collect(),
            name: ep.name,
        }
    }
}

pub fn container_row(ctx: &Ctx, ep: &Endpoint) -> Result<ContainerRow> {
    Ok(inspect::container(ctx, ep)?.into())
}

/// The containers `ps` shows with `filter` (-a, --filter).
pub fn containers_matching(ctx: &Ctx, filter: &PsFilter) -> Result<Vec<ContainerRow>> {
    Ok(inspect::containers(ctx)?
        .into_iter()
        .map(ContainerRow::from)
        .filter(|r| {
            let more: Vec<String> = r
                .networks
                .iter()
                .skip(1)
                .map(|n| n.network.clone())
                .collect();
            filter.matches(&PsFacts {
                name: &r.name,
                network: r.network.as_deref(),
                more_networks: &more,
                mode: r.mode,
                labels: &r.labels,
                status: r.status,
            })
        })
        .collect())
}

/// What every view of a network shows.
#[derive(Debug, Serialize)]
pub struct NetworkFacts {
    pub name: String,
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
    /// Dual-stack networks only: the IPv6 subnet, gateway and whether egress is NAT66.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_nat: Option<bool>,
    pub mtu: u32,
    pub internal: bool,
    pub icc: bool,
    /// The agent serves names on the gateway(s).
    pub dns: bool,
    /// Its addresses come from a CNI IPAM plugin (shown only then).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub delegated: bool,
    pub driver: crate::model::Driver,
    /// A macvlan network's parent, mode, range, host access and what the host can reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macvlan: Option<MacvlanFacts>,
}

#[derive(Debug, Serialize)]
pub struct MacvlanFacts {
    pub parent: String,
    pub mode: crate::model::MacvlanMode,
    pub ip_range: String,
    pub host_access: bool,
    /// The host shim's name (with host access).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shim: Option<String>,
    /// Whether and how the host reaches the containers (the kernel never delivers between a
    /// macvlan and its parent).
    pub host_reach: String,
}

impl From<&Network> for NetworkFacts {
    fn from(n: &Network) -> Self {
        NetworkFacts {
            name: n.name.clone(),
            bridge: n.bridge.clone(),
            subnet: n.subnet.to_string(),
            gateway: n.gateway.to_string(),
            subnet6: n.subnet6.map(|s| s.to_string()),
            gateway6: n.gateway6.map(|g| g.to_string()),
            ipv6_nat: n.subnet6.map(|_| n.nat6),
            mtu: n.mtu,
            internal: n.internal,
            icc: n.icc,
            dns: n.dns,
            delegated: n.delegated,
            driver: match n.macvlan {
                Some(_) => crate::model::Driver::Macvlan,
                None => crate::model::Driver::Bridge,
            },
            macvlan: n.macvlan.as_ref().map(|m| MacvlanFacts {
                parent: m.parent.clone(),
                mode: m.mode,
                ip_range: m.range.to_string(),
                host_access: m.host_access,
                shim: m.host_access.then(|| n.bridge.clone()),
                host_reach: m.host_note(&n.bridge),
            }),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct NetworkRow {
    #[serde(flatten)]
    pub facts: NetworkFacts,
    pub containers: usize,
}

#[derive(Debug, Serialize)]
pub struct Member {
    pub name: String,
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip6: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NetworkDetail {
    #[serde(flatten)]
    pub facts: NetworkFacts,
    /// Whether the host forwards IPv4 (podnet turns it on for non-internal networks).
    pub ip_forward: bool,
    /// Whether the host forwards IPv6 (dual-stack networks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip6_forward: Option<bool>,
    pub containers: Vec<Member>,
}

impl From<NetworkInfo> for NetworkDetail {
    fn from(n: NetworkInfo) -> Self {
        NetworkDetail {
            facts: (&n.network).into(),
            ip_forward: n.ip_forward,
            ip6_forward: n.ip6_forward,
            containers: n
                .members
                .into_iter()
                .map(|(name, ip, ip6)| Member {
                    name,
                    ip: ip.map(|i| i.to_string()),
                    ip6: ip6.map(|i| i.to_string()),
                })
                .collect(),
        }
    }
}

pub fn networks(ctx: &Ctx) -> Result<Vec<NetworkRow>> {
    Ok(inspect::networks(ctx)?
        .iter()
        .map(|(n, users)| NetworkRow {
            facts: n.into(),
            containers: *users,
        })
        .collect())
}

pub fn network_detail(ctx: &Ctx, n: Network) -> Result<NetworkDetail> {
    Ok(inspect::network(ctx, n)?.into())
}

#[derive(Debug, Serialize)]
pub struct PortRow {
    pub host_ip: String,
    pub host_port: u16,
    pub container_ip: String,
    pub container_port: u16,
    pub proto: String,
}

/// A container's published ports (`podnet ports`).
pub fn ports(ctx: &Ctx, ep: &Endpoint) -> Result<Vec<PortRow>> {
    Ok(inspect::ports(ctx, ep)?
        .into_iter()
        .map(|m| PortRow {
            host_ip: host_ip(&m),
            host_port: m.host_port,
            container_ip: ep.ip.map(|i| i.to_string()).unwrap_or_default(),
            container_port: m.container_port,
            proto: m.proto.to_string(),
        })
        .collect())
}

/// A table cell for a value that may have an IPv6 twin: `v4,v6` on a dual-stack network,
/// the IPv4 one alone otherwise (IPv4-only tables look as they always did).
pub fn both(v4: &Option<String>, v6: &Option<String>) -> Option<String> {
    match (v4, v6) {
        (Some(a), Some(b)) => Some(format!("{a},{b}")),
        (a, None) => a.clone(),
        (None, b) => b.clone(),
    }
}
