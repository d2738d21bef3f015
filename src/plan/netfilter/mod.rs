//! podnet's netfilter plan: masquerade, published ports and isolation, as
//! nftables changes. Pure: builds [`Batch`]es, never sends them.
//!
//! Two tables of podnet's own, `ip podnet` and `bridge podnet`, and a third,
//! `ip6 podnet`, only while a dual-stack network exists (with the bridge table's IPv6
//! rules: [`rules::bridge`]); nothing else in the ruleset is read or changed. Without a
//! dual-stack network every batch is exactly what it was before IPv6 existed. The chains and rules are fixed (see
//! [`rules`]); every network, container and port is a set or map element,
//! so attaching the 1,000th container costs what the first did and every
//! change is one atomic transaction:
//!
//! | event | call | what it sends |
//! |---|---|---|
//! | first network, or repair after a flush / reboot | [`full`] | both tables re-created with all elements |
//! | another network | [`add_network`] / [`remove_network`] | elements only |
//! | container attached / removed (its port, source and `-p` ports) | [`add_endpoint`] / [`remove_endpoint`] | elements only |
//! | published ports alone | [`add_ports`] / [`remove_ports`] | elements only |
//! | last network removed | [`delete_all`] | both tables deleted |
//!
//! The element-only batches need the tables to exist (they fail whole,
//! with ENOENT, otherwise); the engine then applies [`full`] instead.
//!
//! What the kernel must be told besides (the engine's part):
//! `net.ipv4.ip_forward=1`, `net.ipv4.conf.<bridge>.route_localnet=1` on
//! each podnet bridge (for the host's own `127.0.0.1:PORT`), and `hairpin on`
//! on each container's bridge port (with br_netfilter, a container reaching
//! its own published port is bridged back out the port it came from).
//! Why the layout is as it is, with measurements:
//! `docs/decisions/2026-11-27-netfilter-layout.md`; anti-spoofing on container ports:
//! `docs/decisions/2026-12-01-anti-spoofing.md`.

pub mod rules;
mod text;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use crate::kernel::nft::{Batch, Element, Ruleset, Set, Table, TableDef, Value};
use crate::model::{Mac, PortMapping};
use rules::inet::sets;
use rules::*;

pub use text::describe;

/// What the plan needs to know about one podnet network.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetFacts {
    /// The bridge's interface name.
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// `--internal`: no traffic to or from outside the network (no masquerade).
    pub internal: bool,
    /// Inter-container communication on the same bridge (`--icc`, default true).
    pub icc: bool,
    /// The IPv6 subnet of a dual-stack network.
    pub subnet6: Option<Ipv6Net>,
    /// Masquerade its IPv6 egress (NAT66); false: routed, containers' own addresses go out.
    pub nat6: bool,
}

/// One published port of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortFacts {
    pub container_ip: Ipv4Addr,
    /// The container's IPv6 address (dual-stack): a mapping without a host address, or with
    /// an IPv6 one, is published over IPv6 to it.
    pub container_ip6: Option<Ipv6Addr>,
    pub mapping: PortMapping,
}

/// A container's port on a podnet bridge, and the one source MAC and IPv4 address the frames
/// arriving on it may carry (anti-spoofing).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GuardFacts {
    /// The bridge port: the host end of the container's veth.
    pub port: String,
    pub mac: Mac,
    pub ip: Ipv4Addr,
    /// A dual-stack container's IPv6 address: it may send from that and from the
    /// link-local address its MAC gives it.
    pub ip6: Option<Ipv6Addr>,
}

/// The node's part of a cluster overlay (issue 11): its VXLAN device and the cluster's pod
/// CIDR. The cluster network is the podnet network whose subnet lies in the CIDR.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OverlayFacts {
    pub device: String,
    pub cluster: Ipv4Net,
}

/// Elements by table and set, in a stable order.
#[derive(Default)]
struct Elems {
    ip: BTreeMap<&'static str, Vec<Element>>,
    ip6: BTreeMap<&'static str, Vec<Element>>,
    bridge: BTreeMap<&'static str, Vec<Element>>,
}

fn push(m: &mut BTreeMap<&'static str, Vec<Element>>, set: &'static str, e: Element) {
    let v = m.entry(set).or_default();
    if !v.contains(&e) {
        v.push(e);
    }
}

impl Elems {
    fn ip(&mut self, set: &'static str, e: Element) {
        push(&mut self.ip, set, e);
    }

    fn ip6(&mut self, set: &'static str, e: Element) {
        push(&mut self.ip6, set, e);
    }

    fn bridge(&mut self, set: &'static str, e: Element) {
        push(&mut self.bridge, set, e);
    }

    fn network(&mut self, n: &NetFacts) {
        self.inet_network(n, false, Element::ipv4_net(n.subnet.trunc()), true);
        if let Some(s6) = n.subnet6 {
            self.inet_network(n, true, Element::ipv6_net(s6.trunc()), n.nat6);
        }
    }

    /// One family of a network: `ip podnet` (or with `v6`, `ip6 podnet`) and its bridge-table
    /// `--icc=false` set. `masq`: masqueraded egress unless internal (NAT66 is optional).
    fn inet_network(&mut self, n: &NetFacts, v6: bool, subnet: Element, masq: bool) {
        let name = || Value::IfName(n.bridge.clone());
        let (table, noicc) = if v6 {
            (&mut self.ip6, NOICC_SUBNETS6)
        } else {
            (&mut self.ip, NOICC_SUBNETS)
        };
        push(table, BRIDGES, Element::new(vec![name()]));
        push(table, SUBNETS, subnet.clone());
        if n.internal {
            push(table, INTERNAL_BRIDGES, Element::new(vec![name()]));
        } else if masq {
            push(table, MASQ_SUBNETS, subnet.clone());
        }
        if n.icc {
            push(table, SAME_BRIDGE, Element::new(vec![name(), name()]));
        } else {
            push(&mut self.bridge, noicc, subnet);
        }
    }

    /// A mapping without a host address goes to both families when the container has
    /// both; one with a host address only to that address's family (`0.0.0.0` and `::`:
    /// every address of that family).
    fn port(&mut self, p: &PortFacts) {
        let m = &p.mapping;
        let proto = Value::Proto(m.proto.number());
        let port = Value::Port(m.host_port);
        let to = vec![Value::Ipv4(p.container_ip), Value::Port(m.container_port)];
        let any = || Element::new(vec![proto.clone(), port.clone()]);
        let on = |ip: Value| Element::new(vec![ip, proto.clone(), port.clone()]);
        let to6 = p
            .container_ip6
            .map(|c| vec![Value::Ipv6(c), Value::Port(m.container_port)]);
        match (m.host_ip, to6) {
            (None, to6) => {
                self.ip(PORTS_ANY, any().to_value(to));
                if let Some(to6) = to6 {
                    self.ip6(PORTS_ANY, any().to_value(to6));
                }
            }
            (Some(IpAddr::V4(a)), _) if a.is_unspecified() => {
                self.ip(PORTS_ANY, any().to_value(to))
            }
            (Some(IpAddr::V4(a)), _) => self.ip(PORTS, on(Value::Ipv4(a)).to_value(to)),
            (Some(IpAddr::V6(a)), Some(to6)) if a.is_unspecified() => {
                self.ip6(PORTS_ANY, any().to_value(to6))
            }
            (Some(IpAddr::V6(a)), Some(to6)) => self.ip6(PORTS, on(Value::Ipv6(a)).to_value(to6)),
            // Refused before it is recorded (the container has no IPv6 address).
            (Some(IpAddr::V6(_)), None) => {}
        }
    }

    /// The port is a guarded one: only what [`Elems::source`] allows passes.
    fn guarded(&mut self, g: &GuardFacts) {
        self.bridge(
            CONTAINER_PORTS,
            Element::new(vec![Value::IfName(g.port.clone())]),
        );
    }

    fn source(&mut self, g: &GuardFacts) {
        let key = vec![
            Value::IfName(g.port.clone()),
            Value::Ether(g.mac.0),
            Value::Ipv4(g.ip),
        ];
        self.bridge(PORT_SOURCES, Element::new(key));
        if let Some(ip6) = g.ip6 {
            for addr in [ip6, link_local(g.mac.0)] {
                let key = vec![
                    Value::IfName(g.port.clone()),
                    Value::Ether(g.mac.0),
                    Value::Ipv6(addr),
                ];
                self.bridge(PORT_SOURCES6, Element::new(key));
            }
        }
    }

    fn overlay(&mut self, o: &OverlayFacts, nets: &[NetFacts]) {
        use rules::overlay::{CLUSTER_SUBNETS, OVERLAY_DEVS};
        let dev = || Value::IfName(o.device.clone());
        self.ip(OVERLAY_DEVS, Element::new(vec![dev()]));
        self.ip(CLUSTER_SUBNETS, Element::ipv4_net(o.cluster.trunc()));
        for n in nets {
            self.overlay_network(o, n);
        }
    }

    /// The overlay and network `n`'s bridge forward to each other when `n` is the cluster's.
    fn overlay_network(&mut self, o: &OverlayFacts, n: &NetFacts) {
        if !o.cluster.contains(&n.subnet) {
            return;
        }
        let (dev, br) = (
            || Value::IfName(o.device.clone()),
            || Value::IfName(n.bridge.clone()),
        );
        let links = rules::overlay::OVERLAY_LINKS;
        self.ip(links, Element::new(vec![dev(), br()]));
        self.ip(links, Element::new(vec![br(), dev()]));
    }

    fn guard(&mut self, g: &GuardFacts) {
        self.guarded(g);
        self.source(g);
    }

    fn into_batch(self, delete: bool) -> Batch {
        let mut b = Batch::new();
        // The overlay's sets exist only in a cluster; looking them up costs nothing otherwise.
        let mut ip_sets = sets::<Ipv4Addr>();
        ip_sets.extend(rules::overlay::sets());
        let groups = [
            (inet_table::<Ipv4Addr>(), ip_sets, self.ip),
            (inet_table::<Ipv6Addr>(), sets::<Ipv6Addr>(), self.ip6),
            (bridge_table(), bridge_sets(true), self.bridge),
        ];
        for (table, sets, elems) in groups {
            for (name, list) in elems {
                let set = find(&sets, name);
                if delete {
                    b.delete_elements(&table, set, &list);
                } else {
                    b.add_elements(&table, set, &list);
                }
            }
        }
        b
    }
}

fn find<'a>(sets: &'a [Set], name: &str) -> &'a Set {
    sets.iter()
        .find(|s| s.name == name)
        .expect("element for a set the plan defines")
}

fn put(t: &mut TableDef, elems: BTreeMap<&'static str, Vec<Element>>) {
    t.elements = elems.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
}

/// Whether the IPv6 part of the ruleset is wanted: some network is dual-stack.
pub fn wants_ipv6(nets: &[NetFacts]) -> bool {
    nets.iter().any(|n| n.subnet6.is_some())
}

/// The whole desired state as data: both tables with every element, and `ip6 podnet`
/// (third) when a network is dual-stack.
pub fn ruleset(nets: &[NetFacts], guards: &[GuardFacts], ports: &[PortFacts]) -> Ruleset {
    ruleset_with(nets, guards, ports, None)
}

/// [`ruleset`], with the cluster overlay's part when the node is in a cluster.
pub fn ruleset_with(
    nets: &[NetFacts],
    guards: &[GuardFacts],
    ports: &[PortFacts],
    overlay: Option<&OverlayFacts>,
) -> Ruleset {
    let mut e = Elems::default();
    nets.iter().for_each(|n| e.network(n));
    guards.iter().for_each(|g| e.guard(g));
    ports.iter().for_each(|p| e.port(p));
    if let Some(o) = overlay {
        e.overlay(o, nets);
    }
    let v6 = wants_ipv6(nets);
    let mut tables = rules::tables_with(v6, overlay.is_some());
    put(&mut tables[0], e.ip);
    put(&mut tables[1], e.bridge);
    if v6 {
        put(&mut tables[2], e.ip6);
        tables.push(netdev(nets));
    }
    Ruleset { tables }
}

/// `netdev podnet`: the `[::1]` reply chain of each dual-stack bridge.
fn netdev(nets: &[NetFacts]) -> TableDef {
    let mut t = TableDef::new(netdev_table());
    for n in nets.iter().filter(|n| n.subnet6.is_some()) {
        t.chains.push(loopback_chain(&n.bridge));
        t.rules.push(loopback_rule(&n.bridge));
    }
    t
}

/// Atomically (re)creates podnet's tables with all elements, whether or not
/// they exist; anything else in the ruleset is left alone. Without a dual-stack network
/// `ip6 podnet` is not touched (see [`delete_ip6`]).
pub fn full(nets: &[NetFacts], guards: &[GuardFacts], ports: &[PortFacts]) -> Batch {
    ruleset(nets, guards, ports).replace_batch()
}

/// [`full`] with the cluster overlay's part (`None`: exactly [`full`]).
pub fn full_with(
    nets: &[NetFacts],
    guards: &[GuardFacts],
    ports: &[PortFacts],
    overlay: Option<&OverlayFacts>,
) -> Batch {
    ruleset_with(nets, guards, ports, overlay).replace_batch()
}

/// Element adds only: network `n` added while the node is in a cluster (with
/// [`add_network`]'s batch): its bridge and the overlay forward to each other when it is the
/// cluster's network; an empty batch otherwise.
pub fn add_overlay_network(o: &OverlayFacts, n: &NetFacts) -> Batch {
    let mut e = Elems::default();
    e.overlay_network(o, n);
    e.into_batch(false)
}

/// Removes podnet's `ip` and `bridge` tables (absent ones are no error).
pub fn delete_all() -> Batch {
    Ruleset {
        tables: rules::tables(false),
    }
    .delete_batch()
}

/// Removes `ip6 podnet` and `netdev podnet` (absent ones are no error): appended to
/// [`full`] when no network is dual-stack any more, and to [`delete_all`].
pub fn delete_ip6() -> Batch {
    let mut b = Batch::new();
    for t in [inet_table::<Ipv6Addr>(), netdev_table()] {
        b.add_table(&t);
        b.delete_table(&t);
    }
    b
}

/// Element adds only: a container with published ports attached.
pub fn add_ports(ports: &[PortFacts]) -> Batch {
    let mut e = Elems::default();
    ports.iter().for_each(|p| e.port(p));
    e.into_batch(false)
}

/// Element deletes only: a container with published ports detached.
pub fn remove_ports(ports: &[PortFacts]) -> Batch {
    let mut e = Elems::default();
    ports.iter().for_each(|p| e.port(p));
    e.into_batch(true)
}

/// Element adds only: a container attached to a bridge, with its published ports. Sent
/// before its veth is up, so it never sends an unchecked frame.
pub fn add_endpoint(g: &GuardFacts, ports: &[PortFacts]) -> Batch {
    let mut e = Elems::default();
    e.guard(g);
    ports.iter().for_each(|p| e.port(p));
    e.into_batch(false)
}

/// Element deletes only: a container goes, with its published ports (what [`add_endpoint`]
/// added). The engine takes its port down first, so that nothing it (or anything left in its
/// namespace) sends passes unchecked once these are gone.
pub fn remove_endpoint(g: &GuardFacts, ports: &[PortFacts]) -> Batch {
    let mut e = Elems::default();
    e.guard(g);
    ports.iter().for_each(|p| e.port(p));
    e.into_batch(true)
}

/// Element adds only: one more network (the tables exist); a dual-stack one also gets its
/// bridge's `[::1]` reply chain (made afresh, so a network realized again keeps one rule).
pub fn add_network(n: &NetFacts) -> Batch {
    let mut e = Elems::default();
    e.network(n);
    let mut b = e.into_batch(false);
    if n.subnet6.is_some() {
        let t = netdev_table();
        let c = loopback_chain(&n.bridge);
        b.add_chain(&t, &c);
        b.flush_chain(&t, &c.name);
        b.add_rule(&t, &loopback_rule(&n.bridge));
    }
    b
}

/// Element deletes only: a network goes (its ports are removed first, or in
/// the same batch by the caller), and a dual-stack one's `[::1]` reply chain.
pub fn remove_network(n: &NetFacts) -> Batch {
    let mut e = Elems::default();
    e.network(n);
    let mut b = e.into_batch(true);
    if n.subnet6.is_some() {
        let t = netdev_table();
        let name = loopback_chain(&n.bridge).name;
        b.flush_chain(&t, &name);
        b.delete_chain(&t, &name);
    }
    b
}

/// Every table podnet's netfilter plan may make, for ownership checks (`ip6 podnet` only
/// exists while a network is dual-stack).
pub fn tables() -> [Table; 4] {
    [
        inet_table::<Ipv4Addr>(),
        bridge_table(),
        inet_table::<Ipv6Addr>(),
        netdev_table(),
    ]
}
