//! `table bridge podnet`: anti-spoofing on container ports, and `--icc=false` (frames between
//! ports of one bridge), for IPv4 and, while a dual-stack network exists, IPv6.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::kernel::nft::{
    icmp6, Chain, ChainType, CmpOp, DataType, Family, Hook, Rule, Sel, Set, Stmt, Table, Value,
    Verdict, ARP_ETHERNET_IPV4, IPPROTO_ICMPV6,
};
use crate::plan::family::{is_v6, AddrFamily};
use DataType::{EtherAddr, IfName};
use Sel::*;

use super::{
    in_concat, in_set, meta_protocol, meta_protocol_of, not_in_set, verdict, CONTAINER_PORTS,
    NOICC_SUBNETS, NOICC_SUBNETS6, PORT_SOURCES, PORT_SOURCES6, TABLE,
};

pub fn bridge_table() -> Table {
    Table::new(Family::Bridge, TABLE)
}

/// The family's `noicc_subnets` set.
fn noicc<A: AddrFamily>() -> &'static str {
    if is_v6::<A>() {
        NOICC_SUBNETS6
    } else {
        NOICC_SUBNETS
    }
}

/// The family's `port_sources` set: `port . MAC . address`, the sources each container port
/// may use (a dual-stack container's IPv6 address and its link-local one).
fn sources<A: AddrFamily>() -> &'static str {
    if is_v6::<A>() {
        PORT_SOURCES6
    } else {
        PORT_SOURCES
    }
}

fn family_sets<A: AddrFamily>() -> [Set; 2] {
    [
        Set::plain(noicc::<A>(), vec![A::ADDR]).interval(),
        Set::plain(sources::<A>(), vec![IfName, EtherAddr, A::ADDR]),
    ]
}

/// `v6`: with the IPv6 sets (a dual-stack network exists).
pub fn bridge_sets(v6: bool) -> Vec<Set> {
    let [noicc4, sources4] = family_sets::<Ipv4Addr>();
    let mut sets = vec![
        noicc4,
        // The bridge ports of podnet's containers (host ends of their veths): frames arriving
        // on one of these are checked against `port_sources`; on any other port (the host's
        // own frames never pass prerouting) they are not.
        Set::plain(CONTAINER_PORTS, vec![IfName]),
        sources4,
    ];
    if v6 {
        sets.extend(family_sets::<Ipv6Addr>());
    }
    sets
}

/// Before br_netfilter's own bridge forward hook (priority 0), which would
/// otherwise skip same-priority chains for the IPv4 frames it takes over.
pub const BRIDGE_FORWARD_PRIORITY: i32 = -200;

/// Before br_netfilter's prerouting hook (priority 0), which hands IPv4 frames to the ip
/// family's hooks (conntrack, DNAT): a forged frame must never get that far. The bridge
/// learns source MACs only after this hook, so a dropped frame cannot move a neighbour's MAC
/// to the spoofer's port either.
pub const BRIDGE_PREROUTING_PRIORITY: i32 = -200;

pub(super) fn chains() -> Vec<Chain> {
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

const ETH_P_ARP: u16 = 0x0806;

/// A packet of family `A` from the port's own MAC and address passes.
fn own_source<A: AddrFamily>() -> Rule {
    Rule::new(
        "prerouting",
        vec![
            meta_protocol_of::<A>(),
            in_concat(vec![IifName, EtherSaddr, A::SADDR], sources::<A>()),
            verdict(Verdict::Accept),
        ],
    )
}

fn icmp6_type(t: u8) -> [Stmt; 2] {
    [
        Stmt::Cmp {
            sel: L4Proto,
            op: CmpOp::Eq,
            value: Value::Proto(IPPROTO_ICMPV6),
        },
        Stmt::Cmp {
            sel: Icmp6Type,
            op: CmpOp::Eq,
            value: Value::Proto(t),
        },
    ]
}

/// IPv6 from a container's port, before the final drop:
/// - a Neighbor Advertisement may only announce one of the container's own addresses
///   (its source is checked by the last rule);
/// - from `::` only Duplicate Address Detection of one of its own addresses (a Neighbor
///   Solicitation whose target is its own): never a probe that would make a neighbour
///   give up its tentative address;
/// - anything else only from its own IPv6 or link-local address, with its own MAC.
fn prerouting6() -> [Rule; 3] {
    let v6 = meta_protocol_of::<Ipv6Addr>;
    let mut na = vec![v6()];
    na.extend(icmp6_type(icmp6::ND_NEIGHBOR_ADVERT));
    na.extend([
        Stmt::InSet {
            key: vec![IifName, EtherSaddr, NdTarget],
            set: PORT_SOURCES6.into(),
            invert: true,
        },
        verdict(Verdict::Drop),
    ]);
    let mut dad = vec![
        v6(),
        Stmt::Prefix6 {
            sel: Ip6Saddr,
            addr: Ipv6Addr::UNSPECIFIED,
            len: 128,
            negate: false,
        },
    ];
    dad.extend(icmp6_type(icmp6::ND_NEIGHBOR_SOLICIT));
    dad.extend([
        in_concat(vec![IifName, EtherSaddr, NdTarget], PORT_SOURCES6),
        verdict(Verdict::Accept),
    ]);
    [
        Rule::new("prerouting", na),
        Rule::new("prerouting", dad),
        own_source::<Ipv6Addr>(),
    ]
}

/// Anti-spoofing: a frame from a container's port passes only if it is IPv4 or ARP from
/// that container's own MAC and IPv4 address (or, with `v6`, IPv6 as [`prerouting6`] says);
/// everything else from those ports is dropped. One lookup per frame in a hashed set,
/// whatever the number of containers.
fn prerouting(v6: bool) -> Vec<Rule> {
    let mut rules = vec![
        Rule::new(
            "prerouting",
            vec![
                not_in_set(IifName, CONTAINER_PORTS),
                verdict(Verdict::Accept),
            ],
        ),
        own_source::<Ipv4Addr>(),
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
        rules.extend(prerouting6());
    }
    rules.push(Rule::new("prerouting", vec![verdict(Verdict::Drop)]));
    rules
}

/// `--icc=false` for frames of family `A` between ports of one bridge (hosts without
/// br_netfilter; with it, the forward chain of `ip podnet` / `ip6 podnet` drops them too,
/// IPv6 link-local included).
fn icc_drops<A: AddrFamily>() -> Vec<Rule> {
    [A::SADDR, A::DADDR]
        .into_iter()
        .map(|sel| {
            Rule::new(
                "forward",
                vec![
                    meta_protocol_of::<A>(),
                    in_set(sel, noicc::<A>()),
                    verdict(Verdict::Drop),
                ],
            )
        })
        .collect()
}

pub(super) fn rules(v6: bool) -> Vec<Rule> {
    let mut rules = prerouting(v6);
    // Hairpin to a neighbour through a host address: with br_netfilter
    // the DNAT'ed packet is bridged (not routed) back out, and it is the
    // only kind of forwarded frame still marked for the host. (`ct status
    // dnat` would say it better, but this kernel has no conntrack
    // expressions in the bridge family.)
    rules.push(Rule::new(
        "forward",
        vec![
            Stmt::Cmp {
                sel: PktType,
                op: CmpOp::Eq,
                value: Value::Proto(0),
            },
            verdict(Verdict::Accept),
        ],
    ));
    rules.extend(icc_drops::<Ipv4Addr>());
    if v6 {
        rules.extend(icc_drops::<Ipv6Addr>());
    }
    rules
}

/// The link-local address the kernel gives an interface with this MAC (EUI-64, RFC 4291
/// appendix A: `addr_gen_mode` 0, the default in a new namespace).
pub fn link_local(mac: [u8; 6]) -> Ipv6Addr {
    let [a, b, c, d, e, f] = mac;
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([a ^ 0x02, b]),
        u16::from_be_bytes([c, 0xff]),
        u16::from_be_bytes([0xfe, d]),
        u16::from_be_bytes([e, f]),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn link_local_is_eui64() {
        let ll = super::link_local([0x02, 0x50, 0x0a, 0x58, 0x00, 0x02]);
        assert_eq!(
            ll,
            "fe80::50:aff:fe58:2".parse::<std::net::Ipv6Addr>().unwrap()
        );
    }
}
