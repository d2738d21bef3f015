//! `table ip podnet` and its twin `table ip6 podnet` (present only while a dual-stack network
//! exists): NAT, published ports, forward isolation and the loopback guards, one layout over
//! either address family.

use std::net::Ipv4Addr;

use crate::kernel::nft::{
    ct_state, ct_status, Chain, ChainType, CmpOp, DataType, Hook, NatKind, Rule, Sel, Set, Stmt,
    Table, TableDef, Value, Verdict,
};
use crate::plan::family::{is_v6, AddrFamily};
use DataType::{IfName, InetProto, InetService};
use Sel::*;

use super::netdev::LOOPBACK_REPLY_MARK;
use super::{
    ct_dnat, fib_local, in_concat, in_set, not_from_lo, not_in_set, verdict, BRIDGES,
    INTERNAL_BRIDGES, MASQ_SUBNETS, PORTS, PORTS_ANY, SAME_BRIDGE, SUBNETS, TABLE,
};

/// `table ip podnet` / `table ip6 podnet`.
pub fn inet_table<A: AddrFamily>() -> Table {
    Table::new(A::FAMILY, TABLE)
}

/// The table of family `A` without elements.
pub(super) fn table_def<A: AddrFamily>() -> TableDef {
    let mut t = TableDef::new(inet_table::<A>());
    t.sets = sets::<A>();
    t.chains = chains::<A>();
    t.rules = rules::<A>();
    t
}

pub fn sets<A: AddrFamily>() -> Vec<Set> {
    let backend = vec![A::ADDR, InetService];
    vec![
        Set::plain(BRIDGES, vec![IfName]),
        Set::plain(SUBNETS, vec![A::ADDR]).interval(),
        // Networks that are not internal; over IPv6 only those with NAT66 (`--ipv6-nat`, the
        // default): a routed one (`--ipv6-nat=false`) is in `subnets` only.
        Set::plain(MASQ_SUBNETS, vec![A::ADDR]).interval(),
        Set::plain(INTERNAL_BRIDGES, vec![IfName]),
        // `iifname . oifname` of traffic that stays inside one bridge
        // (bridged traffic is seen here when br_netfilter is active).
        Set::plain(SAME_BRIDGE, vec![IfName, IfName]),
        Set::map(
            PORTS,
            vec![A::ADDR, InetProto, InetService],
            backend.clone(),
        ),
        Set::map(PORTS_ANY, vec![InetProto, InetService], backend),
    ]
}

pub fn chains<A: AddrFamily>() -> Vec<Chain> {
    let mut chains = vec![
        Chain::base("guard", ChainType::Filter, Hook::Prerouting, -300),
        Chain::base("prerouting", ChainType::Nat, Hook::Prerouting, -100),
    ];
    if is_v6::<A>() {
        // Right after the de-NAT of a reply (nat prerouting, -100).
        chains.push(Chain::base(
            "loopback_replies",
            ChainType::Filter,
            Hook::Prerouting,
            -99,
        ));
    }
    chains.extend([
        Chain::base("output", ChainType::Nat, Hook::Output, -100),
        Chain::base("postrouting", ChainType::Nat, Hook::Postrouting, 100),
        Chain::base("forward", ChainType::Filter, Hook::Forward, 0),
    ]);
    if !is_v6::<A>() {
        chains.push(Chain::base("input", ChainType::Filter, Hook::Input, 0));
    }
    chains
}

fn dnat_via(key: Vec<Sel>, map: &str) -> Stmt {
    Stmt::NatMap {
        kind: NatKind::Dnat,
        key,
        map: map.into(),
        with_port: true,
    }
}

/// The two published-port lookups: a specific host address first, then any.
fn publish<A: AddrFamily>(chain: &str) -> Vec<Rule> {
    vec![
        Rule::new(
            chain,
            vec![
                fib_local(),
                dnat_via(vec![A::DADDR, L4Proto, ThDport], PORTS),
            ],
        ),
        Rule::new(
            chain,
            vec![fib_local(), dnat_via(vec![L4Proto, ThDport], PORTS_ANY)],
        ),
    ]
}

/// A reply to the host's own `[::1]:PORT`, now addressed to `::1` on a bridge: marked for
/// the bridge's ingress chain, which passes it to `lo` (with br_netfilter the kernel would
/// drop it there as a loopback address on a non-loopback device). Only replies of DNAT'ed
/// connections: never a new packet a container addresses to `::1`.
fn loopback_reply<A: AddrFamily>() -> Rule {
    Rule::new(
        "loopback_replies",
        vec![
            not_from_lo(),
            A::loopback(A::DADDR),
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
    )
}

/// CVE-2020-8558: nothing from outside may reach the loopback range (and so never a port
/// published on `127.0.0.1` or `[::1]`), whatever route_localnet says. Over IPv6 the kernel
/// itself drops a packet to or from `::1` arriving on any device but `lo` (`ip6_rcv_core`,
/// RFC 4291), but with br_netfilter a bridged frame passes the ip6 prerouting hooks first.
pub fn rules<A: AddrFamily>() -> Vec<Rule> {
    let mut rules = vec![
        Rule::new(
            "guard",
            vec![not_from_lo(), A::loopback(A::DADDR), verdict(Verdict::Drop)],
        ),
        // Ports on the loopback address are for the host's own use, via `output` only.
        Rule::new(
            "prerouting",
            vec![A::loopback(A::DADDR), verdict(Verdict::Return)],
        ),
    ];
    rules.extend(publish::<A>("prerouting"));
    rules.extend(publish::<A>("output"));
    if is_v6::<A>() {
        rules.push(loopback_reply::<A>());
    }
    rules.extend([
        // Hairpin: a container reaching a published port (its own or a
        // neighbour's) through a host address; the reply must come back
        // through the host, so the source becomes the bridge address.
        Rule::new(
            "postrouting",
            vec![
                ct_dnat(),
                in_set(OifName, BRIDGES),
                in_set(A::SADDR, SUBNETS),
                Stmt::Masquerade,
            ],
        ),
        // The host's own loopback `:PORT`, DNAT'ed to a container: a loopback source must
        // not leave on the bridge (a container drops a packet from `::1`).
        Rule::new(
            "postrouting",
            vec![
                A::loopback(A::SADDR),
                in_set(OifName, BRIDGES),
                Stmt::Masquerade,
            ],
        ),
        // Outbound from non-internal networks (NAT66 for those that want it).
        Rule::new(
            "postrouting",
            vec![
                in_set(A::SADDR, MASQ_SUBNETS),
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
        // With br_netfilter every bridged frame between two containers
        // passes here as pn0 -> pn0 (`bridge-nf-call-iptables` /
        // `-ip6tables`), so without this the rules below would cut all
        // container-to-container traffic. For an icc=false network
        // the last rule drops it instead: both bridged frames (with
        // br_netfilter) and frames routed back out through the gateway,
        // which the bridge table never sees.
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
        // Published ports, from anywhere (other networks included).
        Rule::new("forward", vec![ct_dnat(), verdict(Verdict::Accept)]),
    ]);
    if is_v6::<A>() {
        rules.push(isolation6());
    } else {
        rules.extend(isolation4());
    }
    rules
}

/// Isolation between networks, and icc=false within one; and the input guard.
fn isolation4() -> [Rule; 2] {
    [
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
                Ipv4Addr::loopback(IpDaddr),
                Stmt::Cmp {
                    sel: CtDirection,
                    op: CmpOp::Eq,
                    value: Value::Proto(0),
                },
                verdict(Verdict::Drop),
            ],
        ),
    ]
}

/// Nothing else enters a podnet network: not another network (isolation, icc=false), and
/// not the outside either. A routed subnet (`--ipv6-nat=false`) is reachable by address from
/// anywhere its route is known, so only replies and published ports come in; a NAT66 subnet
/// gets the same protection, which `ip podnet` leaves to the subnet being unroutable.
fn isolation6() -> Rule {
    Rule::new(
        "forward",
        vec![in_set(OifName, BRIDGES), verdict(Verdict::Drop)],
    )
}
