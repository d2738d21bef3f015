//! What listings and inspect show: records joined with liveness, ready to print as a table or
//! JSON. No formatting here, only the facts.

use super::{container, Ctx};
use crate::model::filter::{PsFacts, PsFilter};
use crate::model::{Endpoint, EndpointState, Mode, Network, Result};
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

pub fn status(ep: &Endpoint) -> &'static str {
    match ep.state {
        EndpointState::Creating => "creating",
        EndpointState::Removing => "removing",
        // A namespace that is gone (a reboot, or removed from outside) means the container is
        // dead: the next `podnet gc` (or the first command after a boot) retires it.
        EndpointState::Ready if ns_gone(ep) => "dead",
        EndpointState::Ready => match ep.pid {
            Some(_) if container::is_running(ep) => "running",
            Some(_) => "exited",
            None => "attached",
        },
    }
}

fn ns_gone(ep: &Endpoint) -> bool {
    ep.netns
        .as_deref()
        .is_some_and(|p| crate::kernel::netns::open(p.as_ref()).is_err())
}

pub fn container_row(ctx: &Ctx, ep: &Endpoint) -> Result<ContainerRow> {
    let network = match &ep.mode {
        Mode::Bridge(n) => Some(n.clone()),
        _ => None,
    };
    let gateway = match &network {
        Some(n) => ctx.store.network(n)?.map(|n| n.gateway.to_string()),
        None => None,
    };
    Ok(ContainerRow {
        name: ep.name.clone(),
        mode: ep.mode.kind(),
        network,
        ip: ep.ip.map(|i| i.to_string()),
        mac: super::firewall::guard_of(ep).map(|g| g.mac.to_string()),
        gateway,
        host_veth: ep.host_veth.clone(),
        netns: ep.netns.clone(),
        pid: ep.pid.map(|p| p.0),
        status: status(ep),
        labels: ctx.store.labels_of(ep.id)?,
        ports: ctx
            .store
            .ports_of(ep.id)?
            .iter()
            .map(|m| {
                let ip = m
                    .host_ip
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into());
                format!("{ip}:{}->{}/{}", m.host_port, m.container_port, m.proto)
            })
            .collect(),
        shares: match &ep.mode {
            Mode::Container(o) => Some(o.clone()),
            _ => None,
        },
        runtime: super::runtime::record_of(ctx, ep.id)?.map(|r| RuntimeView {
            runtime: r.runtime,
            container_id: r.container_id,
            ifname: r.ifname,
            k8s_namespace: r.k8s_namespace,
            k8s_name: r.k8s_name,
        }),
    })
}

pub fn containers(ctx: &Ctx) -> Result<Vec<ContainerRow>> {
    ctx.store
        .endpoints()?
        .iter()
        .map(|e| container_row(ctx, e))
        .collect()
}

/// The containers `ps` shows with `filter` (-a, --filter).
pub fn containers_matching(ctx: &Ctx, filter: &PsFilter) -> Result<Vec<ContainerRow>> {
    Ok(containers(ctx)?
        .into_iter()
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

pub fn networks(ctx: &Ctx) -> Result<Vec<NetworkRow>> {
    ctx.store
        .networks()?
        .iter()
        .map(|n| {
            Ok(NetworkRow {
                facts: n.into(),
                containers: ctx.store.network_users(n.id)?.len(),
            })
        })
        .collect()
}

pub fn network_detail(ctx: &Ctx, n: Network) -> Result<NetworkDetail> {
    let mut containers = Vec::new();
    for name in ctx.store.network_users(n.id)? {
        let ip = ctx
            .store
            .endpoint(&name)?
            .and_then(|e| e.ip)
            .map(|i| i.to_string());
        containers.push(Member { name, ip });
    }
    Ok(NetworkDetail {
        facts: (&n).into(),
        ip_forward: crate::kernel::sysctl::get("net.ipv4.ip_forward").as_deref() == Some("1"),
        containers,
    })
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
    Ok(ctx
        .store
        .ports_of(ep.id)?
        .into_iter()
        .map(|m| PortRow {
            host_ip: m
                .host_ip
                .map(|i| i.to_string())
                .unwrap_or_else(|| "0.0.0.0".into()),
            host_port: m.host_port,
            container_ip: ep.ip.map(|i| i.to_string()).unwrap_or_default(),
            container_port: m.container_port,
            proto: m.proto.to_string(),
        })
        .collect())
}
