//! Store facts + kernel facts → the typed [`Graph`]. Pure: objects come from the store
//! (what podnet made and why), their live details from the kernel (interfaces, addresses,
//! routes, the overlay's remote nodes), and [`super::diff`] flags where the two disagree.

use super::diff;
use super::facts::{ContainerFacts, KernelFacts, NsFacts, StoreFacts};
use super::ids;
use super::model::*;
use crate::kernel::route::Route as KRoute;
use std::collections::HashMap;
use std::net::IpAddr;

pub fn build(store: &StoreFacts, kernel: &KernelFacts) -> Graph {
    let mut g = Graph {
        version: VERSION,
        nodes: Vec::new(),
        edges: Vec::new(),
        flags: diff::flags(store, kernel),
    };
    let host = &kernel.host;
    let overlay_dev = store.overlay.as_ref().map(|o| o.device.as_str());
    let podnet_dev = |index: u32| {
        host.link_name(index).is_some_and(|n| {
            Some(n) == overlay_dev || store.networks.iter().any(|net| net.bridge == n)
        })
    };
    let mut host_routes: Vec<Route> = host
        .routes
        .iter()
        .filter(|r| r.oif.is_some_and(podnet_dev))
        .map(|r| route(r, host))
        .collect();
    host_routes.sort();
    g.nodes.push(Node {
        id: ids::HOST.into(),
        name: "host".into(),
        body: Body::Host {
            routes: host_routes,
        },
    });
    for n in &store.networks {
        let m = n.macvlan.as_ref();
        g.nodes.push(Node {
            id: ids::network(&n.name),
            name: n.name.clone(),
            body: Body::Network(NetworkNode {
                driver: if m.is_some() { "macvlan" } else { "bridge" }.into(),
                bridge: n.bridge.clone(),
                subnet: n.subnet.to_string(),
                gateway: n.gateway.to_string(),
                subnet6: n.subnet6.map(|s| s.to_string()),
                gateway6: n.gateway6.map(|s| s.to_string()),
                internal: n.internal,
                icc: n.icc,
                present: host.link(m.map_or(&n.bridge, |m| &m.parent)).is_some(),
                parent: m.map(|m| m.parent.clone()),
                macvlan_mode: m.map(|m| m.mode.as_str().to_string()),
                ip_range: m.map(|m| m.range.to_string()),
                host_access: m.map(|m| m.host_access),
            }),
        });
        let Some(m) = m else {
            g.edges.push(edge(
                ids::HOST.into(),
                ids::network(&n.name),
                EdgeKind::Bridge,
                Some(n.bridge.clone()),
            ));
            continue;
        };
        // No bridge: the parent carries the network; the shim hangs off the parent.
        g.edges.push(edge(
            ids::HOST.into(),
            ids::network(&n.name),
            EdgeKind::Parent,
            Some(format!(
                "{} ({} mode, range {})",
                m.parent,
                m.mode.as_str(),
                m.range
            )),
        ));
        if m.host_access {
            g.edges.push(edge(
                ids::HOST.into(),
                ids::network(&n.name),
                EdgeKind::Shim,
                Some(format!("{} on {}", n.bridge, m.parent)),
            ));
        }
    }
    for c in &store.containers {
        container(&mut g, c, kernel, store);
    }
    for c in &store.containers {
        for m in &c.ports {
            let id = ids::port(m);
            let to = c.attachments.iter().find_map(|a| a.ip);
            g.nodes.push(Node {
                id: id.clone(),
                name: format!("{}:{}/{}", ids::host_ip(m), m.host_port, m.proto),
                body: Body::Port(PortNode {
                    host_ip: ids::host_ip(m),
                    host_port: m.host_port,
                    proto: m.proto.to_string(),
                    container_port: m.container_port,
                }),
            });
            let detail = match to {
                Some(ip) => format!("{ip}:{}", m.container_port),
                None => m.container_port.to_string(),
            };
            g.edges.push(edge(
                id,
                ids::container(&c.name),
                EdgeKind::Publishes,
                Some(detail),
            ));
        }
    }
    let owners = owners(store);
    for s in &store.services {
        let id = ids::service(&s.name);
        g.nodes.push(Node {
            id: id.clone(),
            name: s.name.clone(),
            body: Body::Service(ServiceNode {
                vip: s.vip.map(|v| v.to_string()),
                vip6: s.vip6.map(|v| v.to_string()),
                ports: s.ports.clone(),
            }),
        });
        let mut seen = std::collections::BTreeSet::new();
        for (ip, port) in &s.backends {
            let Some(owner) = owners.get(ip) else {
                continue;
            };
            // A dual-stack backend is one container: one edge, its IPv4 address named.
            if !seen.insert(owner.name.clone()) {
                continue;
            }
            let detail = match port {
                Some(p) => format!("{ip}:{p}"),
                None => ip.to_string(),
            };
            g.edges.push(edge(
                id.clone(),
                ids::container(&owner.name),
                EdgeKind::Backend,
                Some(detail),
            ));
        }
    }
    if let Some(o) = &store.overlay {
        let dev = host.link(&o.device);
        let id = ids::vxlan(&o.device);
        g.nodes.push(Node {
            id: id.clone(),
            name: o.device.clone(),
            body: Body::Vxlan {
                vni: o.vni,
                subnet: o.subnet.to_string(),
                pod_cidr: o.pod_cidr.to_string(),
                present: dev.is_some(),
            },
        });
        g.edges
            .push(edge(ids::HOST.into(), id.clone(), EdgeKind::Overlay, None));
        if let Some(dev) = dev {
            for r in host.routes.iter().filter(|r| r.oif == Some(dev.index)) {
                let Some(vtep) = r.gateway else { continue };
                let mac = kernel
                    .neighbours
                    .iter()
                    .find(|(i, ip, _)| *i == dev.index && *ip == vtep)
                    .map(|n| n.2);
                let underlay = mac.and_then(|mac| {
                    kernel
                        .fdb
                        .iter()
                        .find(|f| f.ifindex == dev.index && f.mac == mac)
                        .and_then(|f| f.dst)
                });
                let subnet = r.dst.to_string();
                g.nodes.push(Node {
                    id: ids::remote_node(&subnet),
                    name: subnet.clone(),
                    body: Body::RemoteNode {
                        subnet: subnet.clone(),
                        vtep: vtep.to_string(),
                        underlay: underlay.map(|u| u.to_string()),
                    },
                });
                g.edges.push(edge(
                    id.clone(),
                    ids::remote_node(&subnet),
                    EdgeKind::Tunnel,
                    None,
                ));
            }
        }
    }
    for name in diff::orphans(store, kernel) {
        let Some(l) = host.link(&name) else { continue };
        let master = l.master.and_then(|m| host.link_name(m));
        let id = ids::link(&name);
        g.nodes.push(Node {
            id: id.clone(),
            name: name.clone(),
            body: Body::Link {
                link_kind: l.kind.clone(),
                master: master.map(str::to_string),
                up: l.up,
            },
        });
        let to = match store
            .networks
            .iter()
            .find(|n| Some(n.bridge.as_str()) == master)
        {
            Some(n) => ids::network(&n.name),
            None => ids::HOST.into(),
        };
        g.edges
            .push(edge(id, to, EdgeKind::Enslaved, master.map(str::to_string)));
    }
    g
}

/// The parent interface of network `name` when it is a macvlan network.
pub(super) fn macvlan_parent<'a>(store: &'a StoreFacts, name: &str) -> Option<&'a str> {
    store
        .networks
        .iter()
        .find(|n| n.name == name)
        .and_then(|n| n.macvlan.as_ref())
        .map(|m| m.parent.as_str())
}

fn container(g: &mut Graph, c: &ContainerFacts, kernel: &KernelFacts, store: &StoreFacts) {
    let id = ids::container(&c.name);
    // A sharer's interfaces are its owner's: shown once, on the owner.
    let ns = match (&c.netns, &c.shares) {
        (Some(p), None) => kernel.namespaces.get(p).and_then(|n| n.as_ref()),
        _ => None,
    };
    let interfaces = ns.map_or_else(Vec::new, |ns| {
        ns.links
            .iter()
            .map(|l| {
                let mut addresses: Vec<(bool, String)> = ns
                    .addrs
                    .iter()
                    .filter(|(i, _, _)| *i == l.index)
                    .map(|(_, a, p)| (a.is_ipv6(), format!("{a}/{p}")))
                    .collect();
                addresses.sort();
                Interface {
                    name: l.name.clone(),
                    addresses: addresses.into_iter().map(|a| a.1).collect(),
                    up: l.up,
                }
            })
            .collect()
    });
    let routes = ns.map_or_else(Vec::new, |ns| {
        ns.routes.iter().map(|r| route(r, ns)).collect()
    });
    g.nodes.push(Node {
        id: id.clone(),
        name: c.name.clone(),
        body: Body::Container(ContainerNode {
            mode: c.mode.clone(),
            status: c.status.clone(),
            netns: c.netns.clone(),
            pid: c.pid,
            interfaces,
            routes,
        }),
    });
    for a in &c.attachments {
        let parent = macvlan_parent(store, &a.network);
        let (kind, detail) = match parent {
            Some(p) => (EdgeKind::Macvlan, Some(format!("{} on {p}", a.ifname))),
            None => (
                EdgeKind::Veth,
                a.host_veth.as_ref().map(|v| format!("{v} - {}", a.ifname)),
            ),
        };
        g.edges
            .push(edge(ids::network(&a.network), id.clone(), kind, detail));
    }
    if let Some(owner) = &c.shares {
        g.edges.push(edge(
            id.clone(),
            ids::container(owner),
            EdgeKind::Shares,
            None,
        ));
    }
    if c.mode == "host" {
        g.edges
            .push(edge(id, ids::HOST.into(), EdgeKind::HostMode, None));
    }
}

/// Each attachment address's container (the first to claim it, as a scan would find), to
/// name a service's backends without a scan of every container per backend.
fn owners(store: &StoreFacts) -> HashMap<IpAddr, &ContainerFacts> {
    let mut owners = HashMap::new();
    for c in &store.containers {
        for a in &c.attachments {
            let ips = a.ip.map(IpAddr::V4).into_iter();
            for ip in ips.chain(a.ip6.map(IpAddr::V6)) {
                owners.entry(ip).or_insert(c);
            }
        }
    }
    owners
}

fn edge(from: String, to: String, kind: EdgeKind, detail: Option<String>) -> Edge {
    Edge {
        from,
        to,
        kind,
        detail,
    }
}

fn route(r: &KRoute, ns: &NsFacts) -> Route {
    Route {
        dst: match r.dst.prefix_len() {
            0 => "default".into(),
            _ => r.dst.to_string(),
        },
        via: r.gateway.map(|g| g.to_string()),
        dev: r.oif.and_then(|i| ns.link_name(i)).map(str::to_string),
    }
}

/// Only what concerns network `name`: its bridge, the containers on it (and their sharers),
/// their ports and the services they back, and the flags on those.
pub fn only_network(g: Graph, name: &str) -> Graph {
    use std::collections::HashSet;
    let net = ids::network(name);
    let mut keep: HashSet<String> = [ids::HOST.to_string(), net.clone()].into();
    for e in &g.edges {
        let member = matches!(e.kind, EdgeKind::Veth | EdgeKind::Macvlan);
        if member && e.from == net || e.kind == EdgeKind::Enslaved && e.to == net {
            keep.insert(if member { e.to.clone() } else { e.from.clone() });
        }
    }
    let on_net = keep.clone();
    for e in &g.edges {
        let joins = matches!(
            e.kind,
            EdgeKind::Shares | EdgeKind::Publishes | EdgeKind::Backend
        );
        if joins && on_net.contains(&e.to) {
            keep.insert(e.from.clone());
        }
    }
    Graph {
        version: g.version,
        nodes: g
            .nodes
            .into_iter()
            .filter(|n| keep.contains(&n.id))
            .collect(),
        edges: g
            .edges
            .into_iter()
            .filter(|e| keep.contains(&e.from) && keep.contains(&e.to))
            .collect(),
        flags: g
            .flags
            .into_iter()
            .filter(|f| keep.contains(&f.subject))
            .collect(),
    }
}
