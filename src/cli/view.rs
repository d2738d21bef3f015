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
    /// eth0's MAC on a bridge network (derived from `ip`; the only source MAC its port lets
    /// through).
    pub mac: Option<String>,
    pub gateway: Option<String>,
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
            mac: c.mac.map(|m| m.to_string()),
            gateway: c.gateway.map(|g| g.to_string()),
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
            filter.matches(&PsFacts {
                name: &r.name,
                network: r.network.as_deref(),
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
    pub mtu: u32,
    pub internal: bool,
    pub icc: bool,
}

impl From<&Network> for NetworkFacts {
    fn from(n: &Network) -> Self {
        NetworkFacts {
            name: n.name.clone(),
            bridge: n.bridge.clone(),
            subnet: n.subnet.to_string(),
            gateway: n.gateway.to_string(),
            mtu: n.mtu,
            internal: n.internal,
            icc: n.icc,
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
}

#[derive(Debug, Serialize)]
pub struct NetworkDetail {
    #[serde(flatten)]
    pub facts: NetworkFacts,
    /// Whether the host forwards IPv4 (podnet turns it on for non-internal networks).
    pub ip_forward: bool,
    pub containers: Vec<Member>,
}

impl From<NetworkInfo> for NetworkDetail {
    fn from(n: NetworkInfo) -> Self {
        NetworkDetail {
            facts: (&n.network).into(),
            ip_forward: n.ip_forward,
            containers: n
                .members
                .into_iter()
                .map(|(name, ip)| Member {
                    name,
                    ip: ip.map(|i| i.to_string()),
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
