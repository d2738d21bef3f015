//! The fixed part of podnet's ruleset: tables, chains, sets and rules. None
//! of it depends on how many networks, containers or ports exist; all of
//! that lives in the set and map elements (see `elements`).
//!
//! One layout per table, generic over the address family ([`AddrFamily`]) where IPv4 and
//! IPv6 have a twin: [`inet`] (`ip podnet` and `ip6 podnet`), [`bridge`] (`bridge podnet`,
//! its IPv6 rules only while a dual-stack network exists) and [`netdev`] (`netdev podnet`,
//! dual-stack only). Why each IPv6 rule differs from its IPv4 twin:
//! `docs/decisions/2026-12-01-ipv6-netfilter.md`.

pub mod bridge;
pub mod inet;
pub mod netdev;
pub mod overlay;

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::kernel::nft::{ct_status, CmpOp, Sel, Stmt, TableDef, Value, Verdict, RTN_LOCAL};
use crate::plan::family::AddrFamily;
use Sel::*;

pub use bridge::{bridge_sets, bridge_table, link_local, NOICC_PORT_GROUP};
pub use inet::inet_table;
pub use netdev::{loopback_chain, loopback_rule, netdev_table, LOOPBACK_REPLY_MARK};

pub const TABLE: &str = "podnet";

// Set and map names (one place, used by rules and elements alike). `ip podnet` and
// `ip6 podnet` use the same names (the table tells them apart); in `bridge podnet` the
// IPv6 sets end in 6.
pub const BRIDGES: &str = "bridges";
pub const SUBNETS: &str = "subnets";
pub const MASQ_SUBNETS: &str = "masq_subnets";
pub const INTERNAL_BRIDGES: &str = "internal_bridges";
pub const SAME_BRIDGE: &str = "same_bridge";
pub const PORTS: &str = "ports";
pub const PORTS_ANY: &str = "ports_any";
pub const NOICC_SUBNETS: &str = "noicc_subnets";
pub const NOICC_SUBNETS6: &str = "noicc_subnets6";
pub const CONTAINER_PORTS: &str = "container_ports";
pub const PORT_SOURCES: &str = "port_sources";
pub const PORT_SOURCES6: &str = "port_sources6";

pub(super) fn in_set(sel: Sel, set: &str) -> Stmt {
    in_concat(vec![sel], set)
}

pub(super) fn not_in_set(sel: Sel, set: &str) -> Stmt {
    Stmt::InSet {
        key: vec![sel],
        set: set.into(),
        invert: true,
    }
}

pub(super) fn in_concat(key: Vec<Sel>, set: &str) -> Stmt {
    Stmt::InSet {
        key,
        set: set.into(),
        invert: false,
    }
}

pub(super) fn verdict(v: Verdict) -> Stmt {
    Stmt::Verdict(v)
}

fn not_from_lo() -> Stmt {
    Stmt::Cmp {
        sel: IifName,
        op: CmpOp::Neq,
        value: Value::IfName("lo".into()),
    }
}

fn fib_local() -> Stmt {
    Stmt::Cmp {
        sel: FibDaddrType,
        op: CmpOp::Eq,
        value: Value::Mark(RTN_LOCAL),
    }
}

fn ct_dnat() -> Stmt {
    Stmt::AnyBits {
        sel: CtStatus,
        mask: ct_status::DNAT,
    }
}

/// `meta protocol` (the ethertype, in network order like a port).
fn meta_protocol(ethertype: u16) -> Stmt {
    Stmt::Cmp {
        sel: Protocol,
        op: CmpOp::Eq,
        value: Value::Port(ethertype),
    }
}

fn meta_protocol_of<A: AddrFamily>() -> Stmt {
    meta_protocol(A::ETHERTYPE)
}

/// The tables without elements: `ip podnet` and `bridge podnet`, and with `v6` (a
/// dual-stack network exists) IPv6 in the bridge table and `ip6 podnet` (third).
pub fn tables(v6: bool) -> Vec<TableDef> {
    tables_with(v6, false)
}

/// [`tables`], and with `overlay` the cluster overlay's sets and rules in `ip podnet`
/// ([`overlay`]).
pub fn tables_with(v6: bool, with_overlay: bool) -> Vec<TableDef> {
    let mut br = TableDef::new(bridge_table());
    br.sets = bridge_sets(v6);
    br.chains = bridge::chains();
    br.rules = bridge::rules(v6);
    let mut ip = inet::table_def::<Ipv4Addr>();
    if with_overlay {
        overlay::extend(&mut ip);
    }
    let mut out = vec![ip, br];
    if v6 {
        out.push(inet::table_def::<Ipv6Addr>());
    }
    out
}
