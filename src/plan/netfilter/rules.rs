//! The fixed part of podnet's ruleset: tables, chains, sets and rules. None
//! of it depends on how many networks, containers or ports exist; all of
//! that lives in the set and map elements (see `elements`).

use std::net::Ipv4Addr;

use crate::kernel::nft::{
    ct_state, ct_status, Chain, ChainType, CmpOp, DataType, Family, Hook, NatKind, Rule, Sel, Set,
    Stmt, Table, TableDef, Value, Verdict, ARP_ETHERNET_IPV4, RTN_LOCAL,
};
use DataType::{EtherAddr, IfName, InetProto, InetService, Ipv4Addr as V4};
use Sel::*;

pub const TABLE: &str = "podnet";

/// `table ip podnet`: NAT, forward isolation and the loopback guards.
pub fn ip_table() -> Table {
    Table::new(Family::Ip, TABLE)
}

/// `table bridge podnet`: anti-spoofing on container ports, and `--icc=false` (frames
/// between ports of one bridge).
pub fn bridge_table() -> Table {
    Table::new(Family::Bridge, TABLE)
}

// Set and map names (one place, used by rules and elements alike).
pub const BRIDGES: &str = "bridges";
pub const SUBNETS: &str = "subnets";
pub const MASQ_SUBNETS: &str = "masq_subnets";
pub const INTERNAL_BRIDGES: &str = "internal_bridges";
pub const SAME_BRIDGE: &str = "same_bridge";
pub const PORTS: &str = "ports";
pub const PORTS_ANY: &str = "ports_any";
pub const NOICC_SUBNETS: &str = "noicc_subnets";
pub const CONTAINER_PORTS: &str = "container_ports";
pub const PORT_SOURCES: &str = "port_sources";

pub fn ip_sets() -> Vec<Set> {
    let backend = vec![V4, InetService];
    vec![
        Set::plain(BRIDGES, vec![IfName]),
        Set::plain(SUBNETS, vec![V4]).interval(),
        Set::plain(MASQ_SUBNETS, vec![V4]).interval(),
        Set::plain(INTERNAL_BRIDGES, vec![IfName]),
        // `iifname . oifname` of traffic that stays inside one bridge
        // (bridged IPv4 is seen here when br_netfilter is active).
        Set::plain(SAME_BRIDGE, vec![IfName, IfName]),
        Set::map(PORTS, vec![V4, InetProto, InetService], backend.clone()),
        Set::map(PORTS_ANY, vec![InetProto, InetService], backend),
    ]
}

/// `v6`: with the IPv6 sets (a dual-stack network exists).
pub fn bridge_sets(v6: bool) -> Vec<Set> {
    let mut sets = vec![
        Set::plain(NOICC_SUBNETS, vec![V4]).interval(),
        // The bridge ports of podnet's containers (host ends of their veths): frames arriving
        // on one of these are checked against `port_sources`; on any other port (the host's
        // own frames never pass prerouting) they are not.
        Set::plain(CONTAINER_PORTS, vec![IfName]),
        // `port . MAC . IPv4`: the one source each container port may use.
        Set::plain(PORT_SOURCES, vec![IfName, EtherAddr, V4]),
    ];
    if v6 {
        sets.extend(super::rules6::bridge_sets6());
    }
    sets
}

pub(super) fn in_set(sel: Sel, set: &str) -> Stmt {
    Stmt::InSet {
        key: vec![sel],
        set: set.into(),
        invert: false,
    }
}

pub(super) fn not_in_set(sel: Sel, set: &str) -> Stmt {
    Stmt::InSet {
        key: vec![sel],
        set: set.into(),
        invert: true,
    }
}

fn loopback(sel: Sel) -> Stmt {
    Stmt::Prefix {
        sel,
        addr: Ipv4Addr::new(127, 0, 0, 0),
        len: 8,
        negate: false,
    }
}

pub(super) fn verdict(v: Verdict) -> Stmt {
    Stmt::Verdict(v)
}

pub(super) fn fib_local() -> Stmt {
    Stmt::Cmp {
        sel: FibDaddrType,
        op: CmpOp::Eq,
        value: Value::Mark(RTN_LOCAL),
    }
}

pub(super) fn ct_dnat() -> Stmt {
    Stmt::AnyBits {
        sel: CtStatus,
        mask: ct_status::DNAT,
    }
}

pub(super) fn dnat_via(key: Vec<Sel>, map: &str) -> Stmt {
    Stmt::NatMap {
        kind: NatKind::Dnat,
        key,
        map: map.into(),
        with_port: true,
    }
}

/// The two published-port lookups: a specific host address first, then any.
fn publish(chain: &str) -> Vec<Rule> {
    vec![
        Rule::new(
            chain,
            vec![
                fib_local(),
                dnat_via(vec![IpDaddr, L4Proto, ThDport], PORTS),
            ],
        ),
        Rule::new(
            chain,
            vec![fib_local(), dnat_via(vec![L4Proto, ThDport], PORTS_ANY)],
        ),
    ]
}

pub fn ip_chains() -> Vec<Chain> {
    vec![
        Chain::base("guard", ChainType::Filter, Hook::Prerouting, -300),
        Chain::base("prerouting", ChainType::Nat, Hook::Prerouting, -100),
        Chain::base("output", ChainType::Nat, Hook::Output, -100),
        Chain::base("postrouting", ChainType::Nat, Hook::Postrouting, 100),
        Chain::base("forward", ChainType::Filter, Hook::Forward, 0),
        Chain::base("input", ChainType::Filter, Hook::Input, 0),
    ]
}

pub fn ip_rules() -> Vec<Rule> {
    let mut rules = vec![
        // CVE-2020-8558: nothing from outside may reach 127.0.0.0/8 (and so
        // never a port published on 127.0.0.1), whatever route_localnet says.
        Rule::new(
            "guard",
            vec![
                Stmt::Cmp {
                    sel: IifName,
                    op: CmpOp::Neq,
                    value: Value::IfName("lo".into()),
                },
                loopback(IpDaddr),
                verdict(Verdict::Drop),
            ],
        ),
        // Ports on 127.0.0.1 are for the host's own use, via `output` only.
        Rule::new(
            "prerouting",
            vec![loopback(IpDaddr), verdict(Verdict::Return)],
        ),
    ];
    rules.extend(publish("prerouting"));
    rules.extend(publish("output"));
    rules.extend([
        // Hairpin: a container reaching a published port (its own or a
        // neighbour's) through a host address; the reply must come back
        // through the host, so the source becomes the bridge address.
        Rule::new(
            "postrouting",
            vec![
                ct_dnat(),
                in_set(OifName, BRIDGES),
                in_set(IpSaddr, SUBNETS),
                Stmt::Masquerade,
            ],
        ),
        // The host's own 127.0.0.1:PORT, DNAT'ed to a container: a
        // loopback source must not leave on the bridge.
        Rule::new(
            "postrouting",
            vec![
                loopback(IpSaddr),
                in_set(OifName, BRIDGES),
                Stmt::Masquerade,
            ],
        ),
        // Outbound from non-internal networks.
        Rule::new(
            "postrouting",
            vec![
                in_set(IpSaddr, MASQ_SUBNETS),
                not_in_set(OifName, BRIDGES),
                Stmt::Masquerade,
            ],
        ),
        Rule::new(
            "forward",
            vec![
                Stmt::AnyBits {
                    sel: CtState,
                    mask: ct_state::ESTABLISHED | ct_state::RELATED,
                },
                verdict(Verdict::Accept),
            ],
        ),
        // Within one network with icc (only those are in `same_bridge`).
        // With br_netfilter every bridged IPv4 frame between two containers
        // passes here as pn0 -> pn0, so without this the rules below would
        // cut all container-to-container traffic. For an icc=false network
        // the last rule drops it instead: both bridged frames (with
        // br_netfilter) and frames routed back out through the gateway,
        // which the bridge table never sees.
        Rule::new(
            "forward",
            vec![
                Stmt::InSet {
                    key: vec![IifName, OifName],
                    set: SAME_BRIDGE.into(),
                    invert: false,
                },
                verdict(Verdict::Accept),
            ],
        ),
        Rule::new(
            "forward",
            vec![in_set(IifName, INTERNAL_BRIDGES), verdict(Verdict::Drop)],
        ),
        Rule::new(
            "forward",
            vec![in_set(OifName, INTERNAL_BRIDGES), verdict(Verdict::Drop)],
        ),
        // Published ports, from anywhere (other networks included).
        Rule::new("forward", vec![ct_dnat(), verdict(Verdict::Accept)]),
        // Isolation between networks, and icc=false within one.
        Rule::new(
            "forward",
            vec![
                in_set(IifName, BRIDGES),
                in_set(OifName, BRIDGES),
                verdict(Verdict::Drop),
            ],
        ),
        // route_localnet=1 on podnet bridges lets 127.0.0.0/8 in from them.
        // Containers must not reach the host's loopback services (the guard
        // already drops their packets; this holds if the guard is gone), but
        // the replies of the host's own 127.0.0.1:PORT connections do arrive
        // here with a loopback destination after de-NAT: `ct direction
        // original` spares them.
        Rule::new(
            "input",
            vec![
                in_set(IifName, BRIDGES),
                loopback(IpDaddr),
                Stmt::Cmp {
                    sel: CtDirection,
                    op: CmpOp::Eq,
                    value: Value::Proto(0),
                },
                verdict(Verdict::Drop),
            ],
        ),
    ]);
    rules
}

/// Before br_netfilter's own bridge forward hook (priority 0), which would
/// otherwise skip same-priority chains for the IPv4 frames it takes over.
pub const BRIDGE_FORWARD_PRIORITY: i32 = -200;

/// Before br_netfilter's prerouting hook (priority 0), which hands IPv4 frames to the ip
/// family's hooks (conntrack, DNAT): a forged frame must never get that far. The bridge
/// learns source MACs only after this hook, so a dropped frame cannot move a neighbour's MAC
/// to the spoofer's port either.
pub const BRIDGE_PREROUTING_PRIORITY: i32 = -200;

pub fn bridge_chains() -> Vec<Chain> {
    vec![
        Chain::base(
            "prerouting",
            ChainType::Filter,
            Hook::Prerouting,
            BRIDGE_PREROUTING_PRIORITY,
        ),
        Chain::base(
            "forward",
            ChainType::Filter,
            Hook::Forward,
            BRIDGE_FORWARD_PRIORITY,
        ),
    ]
}

/// The ethertypes `meta protocol` compares with, in network order like a port.
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;

pub(super) fn meta_protocol(ethertype: u16) -> Stmt {
    Stmt::Cmp {
        sel: Protocol,
        op: CmpOp::Eq,
        value: Value::Port(ethertype),
    }
}

fn meta_protocol_ip() -> Stmt {
    meta_protocol(ETH_P_IP)
}

pub(super) fn in_concat(key: Vec<Sel>, set: &str) -> Stmt {
    Stmt::InSet {
        key,
        set: set.into(),
        invert: false,
    }
}

/// Anti-spoofing: a frame from a container's port passes only if it is IPv4 or ARP from
/// that container's own MAC and IPv4 address (or, with `v6`, IPv6 as `rules6` says);
/// everything else from those ports is dropped. One lookup per frame in a hashed set,
/// whatever the number of containers.
fn prerouting_rules(v6: bool) -> Vec<Rule> {
    let mut rules = vec![
        Rule::new(
            "prerouting",
            vec![
                not_in_set(IifName, CONTAINER_PORTS),
                verdict(Verdict::Accept),
            ],
        ),
        Rule::new(
            "prerouting",
            vec![
                meta_protocol_ip(),
                in_concat(vec![IifName, EtherSaddr, IpSaddr], PORT_SOURCES),
                verdict(Verdict::Accept),
            ],
        ),
        // ARP for Ethernet/IPv4 only (other formats would put the fields elsewhere). The two
        // lookups in the port's one element make the frame's source MAC, the ARP sender MAC
        // and the ARP sender address all the container's own: no gratuitous ARP or reply
        // can claim a neighbour's or the gateway's address, and no probe from 0.0.0.0.
        Rule::new(
            "prerouting",
            vec![
                meta_protocol(ETH_P_ARP),
                Stmt::RawEq {
                    sel: ArpFormat,
                    data: ARP_ETHERNET_IPV4.to_vec(),
                },
                in_concat(vec![IifName, EtherSaddr, ArpSpa], PORT_SOURCES),
                in_concat(vec![IifName, ArpSha, ArpSpa], PORT_SOURCES),
                verdict(Verdict::Accept),
            ],
        ),
    ];
    if v6 {
        rules.extend(super::rules6::bridge_prerouting6());
    }
    rules.push(Rule::new("prerouting", vec![verdict(Verdict::Drop)]));
    rules
}

pub fn bridge_rules(v6: bool) -> Vec<Rule> {
    let mut rules = prerouting_rules(v6);
    rules.extend([
        // Hairpin to a neighbour through a host address: with br_netfilter
        // the DNAT'ed packet is bridged (not routed) back out, and it is the
        // only kind of forwarded frame still marked for the host. (`ct status
        // dnat` would say it better, but this kernel has no conntrack
        // expressions in the bridge family.)
        Rule::new(
            "forward",
            vec![
                Stmt::Cmp {
                    sel: PktType,
                    op: CmpOp::Eq,
                    value: Value::Proto(0),
                },
                verdict(Verdict::Accept),
            ],
        ),
        Rule::new(
            "forward",
            vec![
                meta_protocol_ip(),
                in_set(IpSaddr, NOICC_SUBNETS),
                verdict(Verdict::Drop),
            ],
        ),
        Rule::new(
            "forward",
            vec![
                meta_protocol_ip(),
                in_set(IpDaddr, NOICC_SUBNETS),
                verdict(Verdict::Drop),
            ],
        ),
    ]);
    if v6 {
        rules.extend(super::rules6::bridge_forward6());
    }
    rules
}

/// The tables without elements: `ip podnet` and `bridge podnet`, and with `v6` (a
/// dual-stack network exists) IPv6 in the bridge table and `ip6 podnet` (third).
pub fn tables(v6: bool) -> Vec<TableDef> {
    let mut ip = TableDef::new(ip_table());
    ip.sets = ip_sets();
    ip.chains = ip_chains();
    ip.rules = ip_rules();
    let mut br = TableDef::new(bridge_table());
    br.sets = bridge_sets(v6);
    br.chains = bridge_chains();
    br.rules = bridge_rules(v6);
    let mut out = vec![ip, br];
    if v6 {
        let mut ip6 = TableDef::new(super::rules6::ip6_table());
        ip6.sets = super::rules6::ip6_sets();
        ip6.chains = super::rules6::ip6_chains();
        ip6.rules = super::rules6::ip6_rules();
        out.push(ip6);
    }
    out
}
