//! Reads the two sides: the store's records ([`store_facts`]) and the kernel's links,
//! addresses and routes in the host and in every namespace podnet records
//! ([`kernel_facts`]: one rtnetlink socket per namespace, opened from inside it on this
//! thread and closed after its three dumps).

use super::facts::*;
use crate::engine::{inspect, overlay, Ctx};
use crate::kernel::{self, netns, Rtnl};
use crate::model::{Endpoint, Mode, Result};
use std::collections::HashMap;
use std::net::IpAddr;

pub fn store_facts(ctx: &Ctx) -> Result<StoreFacts> {
    let s = &ctx.store;
    let endpoints = s.endpoints()?;
    // Later networks of a container: endpoint id → (container id).
    let mut members: HashMap<i64, i64> = HashMap::new();
    for id in s.member_ids()? {
        if let Some(m) = s.member(id)? {
            members.insert(id, m.container_id);
        }
    }
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
            status: inspect::status(e).as_str().to_string(),
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
    Ok(StoreFacts {
        store_id: s.id().to_string(),
        networks: s.networks()?,
        containers,
        services,
        overlay,
    })
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
/// the store names.
pub fn kernel_facts(ctx: &mut Ctx, store: &StoreFacts) -> Result<KernelFacts> {
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
    for c in store.containers.iter().filter(|c| c.shares.is_none()) {
        let Some(path) = &c.netns else { continue };
        if k.namespaces.contains_key(path) {
            continue;
        }
        // A namespace that cannot be read is what the diff flags, not an error.
        let facts = netns::open(path.as_ref())
            .and_then(|f| netns::rtnl_in(&f))
            .and_then(|mut r| ns_facts(&mut r))
            .ok();
        k.namespaces.insert(path.clone(), facts);
    }
    Ok(k)
}

fn ns_facts(r: &mut Rtnl) -> Result<NsFacts> {
    let mut addrs: Vec<(u32, IpAddr, u8)> = kernel::addr::list(r)?
        .into_iter()
        .map(|(i, a, p)| (i, IpAddr::V4(a), p))
        .collect();
    addrs.extend(
        kernel::addr::list6(r)?
            .into_iter()
            .map(|(i, a, p)| (i, IpAddr::V6(a), p)),
    );
    Ok(NsFacts {
        links: kernel::link::list(r)?,
        addrs,
        routes: kernel::route::list(r)?,
    })
}
