//! The IPv6 half of podnet's ruleset, present only while a dual-stack network exists:
//! `table ip6 podnet` (the twin of `ip podnet`) and the IPv6 anti-spoofing and `--icc=false`
//! rules of `table bridge podnet`. Fixed like the IPv4 part: every network, container and
//! port is an element. Why each rule differs from its IPv4 twin:
//! `docs/decisions/2026-12-01-ipv6-netfilter.md`.

use std::net::Ipv6Addr;

use crate::kernel::nft::{
    ct_state, ct_status, icmp6, Chain, ChainType, CmpOp, DataType, Family, Hook, Rule, Sel, Set,
    Stmt, Table, Value, Verdict, IPPROTO_ICMPV6,
};
use DataType::{EtherAddr, IfName, InetProto, InetService, Ipv6Addr as V6};
use Sel::*;

use super::rules::{
    ct_dnat, dnat_via, fib_local, in_concat, in_set, meta_protocol, not_in_set, verdict, BRIDGES,
    INTERNAL_BRIDGES, MASQ_SUBNETS, PORTS, PORTS_ANY, SAME_BRIDGE, SUBNETS, TABLE,
};

/// `table ip6 podnet`: NAT66, published ports over IPv6, forward isolation.
pub fn ip6_table() -> Table {
    Table::new(Family::Ip6, TABLE)
}

/// `table netdev podnet`: one ingress chain per dual-stack bridge, which hands the host's
/// own de-NATed `[::1]` replies to `lo` (see [`loopback_rule`]).
pub fn netdev_table() -> Table {
    Table::new(Family::Netdev, TABLE)
}

/// The packet-mark bit that tells a bridge's ingress chain "a reply to the host's own
/// `[::1]:PORT`, de-NATed by br_netfilter": set in `ip6 podnet` prerouting, cleared before
/// the packet is handed to `lo`. One bit, kept clear of the bits kube-proxy (0x4000, 0x8000)
/// and Calico (0xffff0000) use.
pub const LOOPBACK_REPLY_MARK: u32 = 0x0010_0000;

/// `lo` is interface 1 in every network namespace.
const LO_IFINDEX: u32 = 1;

// Bridge-table sets of the IPv6 part.
pub const NOICC_SUBNETS6: &str = "noicc_subnets6";
pub const PORT_SOURCES6: &str = "port_sources6";

/// The same set names as `ip podnet` (the table tells them apart), IPv6-keyed.
pub fn ip6_sets() -> Vec<Set> {
    let backend = vec![V6, InetService];
    vec![
        Set::plain(BRIDGES, vec![IfName]),
        Set::plain(SUBNETS, vec![V6]).interval(),
        // Dual-stack networks with NAT66 (`--ipv6-nat`, the default) and not internal; a
        // routed network (`--ipv6-nat=false`) is in `subnets` only.
        Set::plain(MASQ_SUBNETS, vec![V6]).interval(),
        Set::plain(INTERNAL_BRIDGES, vec![IfName]),
        Set::plain(SAME_BRIDGE, vec![IfName, IfName]),
        Set::map(PORTS, vec![V6, InetProto, InetService], backend.clone()),
        Set::map(PORTS_ANY, vec![InetProto, InetService], backend),
    ]
}

pub fn ip6_chains() -> Vec<Chain> {
    vec![
        Chain::base("guard", ChainType::Filter, Hook::Prerouting, -300),
        Chain::base("prerouting", ChainType::Nat, Hook::Prerouting, -100),
        // Right after the de-NAT of a reply (nat prerouting, -100).
        Chain::base("loopback_replies", ChainType::Filter, Hook::Prerouting, -99),
        Chain::base("output", ChainType::Nat, Hook::Output, -100),
        Chain::base("postrouting", ChainType::Nat, Hook::Postrouting, 100),
        Chain::base("forward", ChainType::Filter, Hook::Forward, 0),
    ]
}

fn publish6(chain: &str) -> Vec<Rule> {
    vec![
        Rule::new(
            chain,
            vec![
                fib_local(),
                dnat_via(vec![Ip6Daddr, L4Proto, ThDport], PORTS),
            ],
        ),
        Rule::new(
            chain,
            vec![fib_local(), dnat_via(vec![L4Proto, ThDport], PORTS_ANY)],
        ),
    ]
}

fn ip6_is(sel: Sel, addr: Ipv6Addr, negate: bool) -> Stmt {
    Stmt::Prefix6 {
        sel,
        addr,
        len: 128,
        negate,
    }
}

fn not_from_lo() -> Stmt {
    Stmt::Cmp {
        sel: IifName,
        op: CmpOp::Neq,
        value: Value::IfName("lo".into()),
    }
}

/// The kernel drops a packet to or from `::1` arriving on any device but `lo`
/// (`ip6_rcv_core`, RFC 4291) — but with br_netfilter a bridged frame passes the ip6
/// prerouting hooks first, so a container could otherwise reach a port published on `[::1]`
/// (CVE-2020-8558 for IPv6): the guard and the `return` hold it off as in `ip podnet`.
pub fn ip6_rules() -> Vec<Rule> {
    let mut rules = vec![
        Rule::new(
            "guard",
            vec![
                not_from_lo(),
                ip6_is(Ip6Daddr, Ipv6Addr::LOCALHOST, false),
                verdict(Verdict::Drop),
            ],
        ),
        Rule::new(
            "prerouting",
            vec![
                ip6_is(Ip6Daddr, Ipv6Addr::LOCALHOST, false),
                verdict(Verdict::Return),
            ],
        ),
    ];
    rules.extend(publish6("prerouting"));
    rules.extend(publish6("output"));
    // A reply to the host's own `[::1]:PORT`, now addressed to `::1` on a bridge: marked
    // for the bridge's ingress chain, which passes it to `lo` (with br_netfilter the kernel
    // would drop it there as a loopback address on a non-loopback device). Only replies of
    // DNAT'ed connections: never a new packet a container addresses to `::1`.
    rules.push(Rule::new(
        "loopback_replies",
        vec![
            not_from_lo(),
            ip6_is(Ip6Daddr, Ipv6Addr::LOCALHOST, false),
            Stmt::Cmp {
                sel: CtDirection,
                op: CmpOp::Eq,
                value: Value::Proto(1),
            },
            Stmt::AnyBits {
                sel: CtStatus,
                mask: ct_status::DNAT,
            },
            Stmt::MarkUpdate {
                and: !LOOPBACK_REPLY_MARK,
                xor: LOOPBACK_REPLY_MARK,
            },
        ],
    ));
    rules.extend([
        // Hairpin, as in `ip podnet`.
        Rule::new(
            "postrouting",
            vec![
                ct_dnat(),
                in_set(OifName, BRIDGES),
                in_set(Ip6Saddr, SUBNETS),
                Stmt::Masquerade,
            ],
        ),
        // The host's own `[::1]:PORT`, DNAT'ed to a container in `output`: the source
        // becomes the bridge's address before the packet leaves `lo`'s world (a container
        // drops a packet from `::1`).
        Rule::new(
            "postrouting",
            vec![
                ip6_is(Ip6Saddr, Ipv6Addr::LOCALHOST, false),
                in_set(OifName, BRIDGES),
                Stmt::Masquerade,
            ],
        ),
        // NAT66 for networks that want it.
        Rule::new(
            "postrouting",
            vec![
                in_set(Ip6Saddr, MASQ_SUBNETS),
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
        // Bridged IPv6 between two containers passes here as pn0 -> pn0 with br_netfilter
        // (`bridge-nf-call-ip6tables`), as IPv4 does.
        Rule::new(
            "forward",
            vec![
                in_concat(vec![IifName, OifName], SAME_BRIDGE),
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
        Rule::new("forward", vec![ct_dnat(), verdict(Verdict::Accept)]),
        // Nothing else enters a podnet network: not another network (isolation, icc=false),
        // and not the outside either. A routed subnet (`--ipv6-nat=false`) is reachable by
        // address from anywhere its route is known, so only replies (above) and published
        // ports come in; a NAT66 subnet gets the same protection, which `ip podnet` leaves
        // to the subnet being unroutable.
        Rule::new(
            "forward",
            vec![in_set(OifName, BRIDGES), verdict(Verdict::Drop)],
        ),
    ]);
    rules
}

/// The ingress chain of one dual-stack bridge, named after it.
pub fn loopback_chain(bridge: &str) -> Chain {
    Chain::ingress(format!("lo6_{bridge}"), bridge, 0)
}

/// Its one rule: a marked `::1` reply gets `lo`'s (all-zero) MAC, so that `lo` takes it as
/// its own, loses the mark and goes to `lo`; there it is a loopback packet on the loopback
/// device, routed to the host's socket.
pub fn loopback_rule(bridge: &str) -> Rule {
    Rule::new(
        loopback_chain(bridge).name,
        vec![
            Stmt::AnyBits {
                sel: Mark,
                mask: LOOPBACK_REPLY_MARK,
            },
            meta_protocol(ETH_P_IPV6),
            ip6_is(Ip6Daddr, Ipv6Addr::LOCALHOST, false),
            Stmt::MarkUpdate {
                and: !LOOPBACK_REPLY_MARK,
                xor: 0,
            },
            Stmt::EtherDaddrSet([0; 6]),
            Stmt::Fwd {
                ifindex: LO_IFINDEX,
            },
        ],
    )
}

pub fn bridge_sets6() -> Vec<Set> {
    vec![
        Set::plain(NOICC_SUBNETS6, vec![V6]).interval(),
        // `port . MAC . IPv6`: a dual-stack container's IPv6 address and its link-local one.
        Set::plain(PORT_SOURCES6, vec![IfName, EtherAddr, V6]),
    ]
}

const ETH_P_IPV6: u16 = 0x86dd;

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

/// Anti-spoofing for IPv6 from a container's port, before the final drop of the IPv4 rules:
/// - a Neighbor Advertisement may only announce one of the container's own addresses
///   (its source is checked by the last rule);
/// - from `::` only Duplicate Address Detection of one of its own addresses (a Neighbor
///   Solicitation whose target is its own): never a probe that would make a neighbour
///   give up its tentative address;
/// - anything else only from its own IPv6 or link-local address, with its own MAC.
pub fn bridge_prerouting6() -> Vec<Rule> {
    let mut na = vec![meta_protocol(ETH_P_IPV6)];
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
        meta_protocol(ETH_P_IPV6),
        ip6_is(Ip6Saddr, Ipv6Addr::UNSPECIFIED, false),
    ];
    dad.extend(icmp6_type(icmp6::ND_NEIGHBOR_SOLICIT));
    dad.extend([
        in_concat(vec![IifName, EtherSaddr, NdTarget], PORT_SOURCES6),
        verdict(Verdict::Accept),
    ]);
    vec![
        Rule::new("prerouting", na),
        Rule::new("prerouting", dad),
        Rule::new(
            "prerouting",
            vec![
                meta_protocol(ETH_P_IPV6),
                in_concat(vec![IifName, EtherSaddr, Ip6Saddr], PORT_SOURCES6),
                verdict(Verdict::Accept),
            ],
        ),
    ]
}

/// `--icc=false` for IPv6 frames between ports of one bridge (hosts without br_netfilter;
/// with it, `ip6 podnet`'s forward chain drops them too, link-local included).
pub fn bridge_forward6() -> Vec<Rule> {
    [Ip6Saddr, Ip6Daddr]
        .into_iter()
        .map(|sel| {
            Rule::new(
                "forward",
                vec![
                    meta_protocol(ETH_P_IPV6),
                    in_set(sel, NOICC_SUBNETS6),
                    verdict(Verdict::Drop),
                ],
            )
        })
        .collect()
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
