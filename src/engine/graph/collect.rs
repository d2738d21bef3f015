//! Reads the two sides: the store's records ([`store_facts`], a handful of queries) and
//! the kernel's links, addresses and routes in the host and in every namespace podnet
//! records ([`kernel_facts`]; the namespaces on a few threads, `namespaces.rs`).

use super::facts::*;
use super::namespaces::{self, ns_facts};
use crate::engine::{inspect, overlay, Ctx};
use crate::kernel;
use crate::model::{Endpoint, Mode, Result};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// The store's side, and each container's own endpoint (`[i]` is `containers[i]`'s), whose
/// status [`set_status`] fills in once the kernel's side is read.
pub fn store_facts(ctx: &Ctx) -> Result<(StoreFacts, Vec<Endpoint>)> {
    let s = &ctx.store;
    let mut endpoints = s.endpoints()?;
    // Later networks of a container: endpoint id → (container id).
    let members: HashMap<i64, i64> = s
        .members()?
        .into_iter()
        .map(|m| (m.endpoint_id, m.container_id))
        .collect();
    let mut ports: HashMap<i64, Vec<crate::model::PortMapping>> = HashMap::new();
    let by_ip: HashMap<std::net::Ipv4Addr, i64> = endpoints
        .iter()
        .filter_map(|e| Some((e.ip?, e.id)))
        .collect();
    for (ip, m) in s.all_ports()? {
        if let Some(id) = by_ip.get(&ip) {
            ports.entry(*id).or_default().push(m);
        }
    }
    let mut containers: Vec<ContainerFacts> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for e in endpoints.iter().filter(|e| !members.contains_key(&e.id)) {
        index.insert(e.id, containers.len());
        containers.push(ContainerFacts {
            name: e.name.clone(),
            mode: e.mode.kind().to_string(),
            shares: match &e.mode {
                Mode::Container(o) => Some(o.clone()),
                _ => None,
            },
            // Filled by `set_status`, with what reading the namespace found.
            status: String::new(),
            netns: e.netns.clone(),
            pid: e.pid.map(|p| p.0),
            ready: e.state == crate::model::EndpointState::Ready,
            attachments: attachment(e).into_iter().collect(),
            ports: ports.remove(&e.id).unwrap_or_default(),
        });
    }
    for e in endpoints.iter() {
        let Some(c) = members.get(&e.id).and_then(|c| index.get(c)) else {
            continue;
        };
        containers[*c].attachments.extend(attachment(e));
        containers[*c]
            .ports
            .extend(ports.remove(&e.id).unwrap_or_default());
    }
    let services = s
        .services()?
        .into_iter()
        .map(|r| ServiceFacts {
            name: r.service.name.clone(),
            vip: r.service.vip,
            vip6: r.service.vip6,
            ports: r.service.ports.iter().map(|p| p.to_string()).collect(),
            backends: r
                .programmed
                .iter()
                .map(|b| (IpAddr::V4(b.ip), b.port))
                .chain(r.programmed6.iter().map(|b| (IpAddr::V6(b.ip), b.port)))
                .collect(),
        })
        .collect();
    let overlay = overlay::network::joined(&ctx.root).map(|j| OverlayFacts {
        device: overlay::device_name(j.vni),
        vni: j.vni,
        subnet: j.subnet,
        pod_cidr: j.pod_cidr,
    });
    let facts = StoreFacts {
        store_id: s.id().to_string(),
        networks: s.networks()?,
        containers,
        services,
        overlay,
    };
    endpoints.retain(|e| !members.contains_key(&e.id));
    Ok((facts, endpoints))
}

/// Each container's status (`own[i]` is `containers[i]`'s endpoint), as `inspect` says it,
/// except that a namespace the kernel side read already is not opened again.
pub fn set_status(store: &mut StoreFacts, own: &[Endpoint], opened: &HashMap<String, bool>) {
    for (c, e) in store.containers.iter_mut().zip(own) {
        let known = e.netns.as_ref().and_then(|p| opened.get(p));
        c.status = match known {
            Some(opened) => inspect::status_given(e, || !opened),
            None => inspect::status(e),
        }
        .as_str()
        .to_string();
    }
}

fn attachment(e: &Endpoint) -> Option<AttachmentFacts> {
    let Mode::Bridge(n) = &e.mode else {
        return None;
    };
    Some(AttachmentFacts {
        network: n.clone(),
        ifname: e.ifname().to_string(),
        ip: e.ip,
        ip6: e.ip6,
        host_veth: e.host_veth.clone(),
        ready: e.state == crate::model::EndpointState::Ready,
    })
}

/// The kernel's side: the host namespace (through the context's socket) and each namespace
/// the store names — only those of containers on `network` when one is asked (the graph
/// keeps no other container). Also, for [`set_status`], whether each namespace read opened.
pub fn kernel_facts(
    ctx: &mut Ctx,
    store: &StoreFacts,
    network: Option<&str>,
) -> Result<(KernelFacts, HashMap<String, bool>)> {
    let mut seen = HashSet::new();
    let paths: Vec<String> = store
        .containers
        .iter()
        // A sharer's namespace is its owner's, read with the owner.
        .filter(|c| c.shares.is_none())
        .filter(|c| network.is_none_or(|n| c.attachments.iter().any(|a| a.network == n)))
        .filter_map(|c| c.netns.clone())
        .filter(|p| seen.insert(p.clone()))
        .collect();
    let (host, read) = namespaces::read_all(&paths, || host_facts(ctx, store));
    let mut k = host?;
    let mut opened = HashMap::new();
    // A namespace that cannot be read is what the diff flags, not an error.
    for (path, read) in read {
        opened.insert(path.clone(), read.opened);
        k.namespaces.insert(path, read.facts);
    }
    Ok((k, opened))
}

/// The host's links, addresses and routes; in cluster mode also its FDB and neighbours.
fn host_facts(ctx: &mut Ctx, store: &StoreFacts) -> Result<KernelFacts> {
    let host = ctx.host()?;
    let mut k = KernelFacts {
        host: ns_facts(host)?,
        ..Default::default()
    };
    if store.overlay.is_some() {
        k.fdb = kernel::fdb::list(host)?;
        k.neighbours = kernel::neigh::list(host)?
            .into_iter()
            .filter_map(|n| Some((n.ifindex, n.ip, n.mac?)))
            .collect();
    }
    Ok(k)
}
