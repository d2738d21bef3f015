//! The fixed part of table `ip podnet-svc` (and of its IPv6 twin `ip6 podnet-svc`, the same
//! layout over IPv6 addresses: see [`crate::plan::family`]) and the chains made per backend
//! count (`bucket_N`) and per affinity timeout (`affinity_Ts`). Nothing here
//! depends on how many services exist: services are map elements.

use std::time::Duration;

use super::SvcAddr;
use crate::kernel::nft::{
    ct_state, ct_status, Chain, ChainType, CmpOp, DataType, DynsetOp, Hook, NatKind, Reject, Rule,
    Sel, Set, Stmt, Table, Value, Verdict, RTN_LOCAL,
};
use crate::model::Proto;
use std::net::Ipv4Addr;
use DataType::{InetProto, InetService, Mark};
use Sel::*;

pub const TABLE: &str = "podnet-svc";

/// `table ip podnet-svc`: apart from `ip podnet`, so that re-creating one
/// never wipes the other.
pub fn table() -> Table {
    table_of::<Ipv4Addr>()
}

/// `table ip podnet-svc` or `table ip6 podnet-svc`.
pub fn table_of<A: SvcAddr>() -> Table {
    Table::new(A::FAMILY, TABLE)
}

/// `vip . l4proto . port : goto bucket_N | goto no_endpoints`.
pub const SERVICE_IPS: &str = "service_ips";
/// `vip . l4proto . port . slot : backend . port`, slots 0..N-1.
pub const EPS: &str = "eps";
/// `l4proto . node port : goto np_bucket_N | goto no_endpoints` (host addresses only).
pub const NODE_PORTS: &str = "node_ports";
/// `l4proto . node port . slot : backend . port`.
pub const NP_EPS: &str = "np_eps";
/// Learned ClientIP affinity: `client . dst . l4proto . dport : backend . port`.
pub const AFFINITY: &str = "affinity";
/// Live endpoints of affinity services, `vip . l4proto . port . backend . port`:
/// a connection sent by a stale affinity entry elsewhere is dropped.
pub const AFFINITY_EPS: &str = "affinity_eps";
/// The same for node ports, `l4proto . node port . backend . port`.
pub const AFFINITY_NP_EPS: &str = "affinity_np_eps";
/// Service ports with affinity, `vip . l4proto . port : goto affinity_Ts`.
pub const AFFINITY_SVCS: &str = "affinity_svcs";
/// Node ports with affinity, `l4proto . node port : goto np_affinity_Ts`.
pub const AFFINITY_NPS: &str = "affinity_node_ports";
/// Zero backends: TCP reset, otherwise ICMP port unreachable.
pub const NO_ENDPOINTS: &str = "no_endpoints";

/// Most affinity entries (client × service port) held at once.
pub const AFFINITY_SIZE: u32 = 1 << 20;

pub fn bucket(n: usize) -> String {
    format!("bucket_{n}")
}

pub fn np_bucket(n: usize) -> String {
    format!("np_bucket_{n}")
}

pub fn learn(timeout_secs: u32) -> String {
    format!("affinity_{timeout_secs}s")
}

pub fn np_learn(timeout_secs: u32) -> String {
    format!("np_affinity_{timeout_secs}s")
}

pub fn sets<A: SvcAddr>() -> Vec<Set> {
    let vip = vec![A::ADDR, InetProto, InetService];
    let np = vec![InetProto, InetService];
    let backend = vec![A::ADDR, InetService];
    let cat = |a: &[DataType], b: &[DataType]| [a, b].concat();
    vec![
        Set::vmap(SERVICE_IPS, vip.clone()),
        Set::map(EPS, cat(&vip, &[Mark]), backend.clone()),
        Set::vmap(NODE_PORTS, np.clone()),
        Set::map(NP_EPS, cat(&np, &[Mark]), backend.clone()),
        Set::map(
            AFFINITY,
            vec![A::ADDR, A::ADDR, InetProto, InetService],
            backend.clone(),
        )
        .dynamic()
        .default_timeout(Duration::from_secs(10800))
        .size(AFFINITY_SIZE),
        Set::plain(AFFINITY_EPS, cat(&vip, &backend)),
        Set::plain(AFFINITY_NP_EPS, cat(&np, &backend)),
        Set::vmap(AFFINITY_SVCS, vip),
        Set::vmap(AFFINITY_NPS, np),
    ]
}

/// nat prerouting and output at -100 (as `ip podnet`), the affinity
/// learning filters right after DNAT (-99), and the reject chain.
pub fn chains() -> Vec<Chain> {
    vec![
        Chain::base("prerouting", ChainType::Nat, Hook::Prerouting, -100),
        Chain::base("output", ChainType::Nat, Hook::Output, -100),
        Chain::base("learn_prerouting", ChainType::Filter, Hook::Prerouting, -99),
        Chain::base("learn_output", ChainType::Filter, Hook::Output, -99),
        Chain::regular(NO_ENDPOINTS),
    ]
}

fn fib_local() -> Stmt {
    Stmt::Cmp {
        sel: FibDaddrType,
        op: CmpOp::Eq,
        value: Value::Mark(RTN_LOCAL),
    }
}

fn vmap(key: Vec<Sel>, map: &str) -> Stmt {
    Stmt::Vmap {
        key,
        map: map.into(),
    }
}

fn dispatch<A: SvcAddr>(chain: &str) -> Vec<Rule> {
    vec![
        // A pinned client goes to its backend (entries of removed backends
        // are dropped by the learn chains, see `learn_chains`).
        Rule::new(
            chain,
            vec![Stmt::NatMap {
                kind: NatKind::Dnat,
                key: vec![A::SADDR, A::DADDR, L4Proto, ThDport],
                map: AFFINITY.into(),
                with_port: true,
            }],
        ),
        Rule::new(
            chain,
            vec![vmap(vec![A::DADDR, L4Proto, ThDport], SERVICE_IPS)],
        ),
        Rule::new(
            chain,
            vec![fib_local(), vmap(vec![L4Proto, ThDport], NODE_PORTS)],
        ),
    ]
}

fn new_dnat() -> Vec<Stmt> {
    vec![
        Stmt::AnyBits {
            sel: CtState,
            mask: ct_state::NEW,
        },
        Stmt::AnyBits {
            sel: CtStatus,
            mask: ct_status::DNAT,
        },
    ]
}

/// Entry to learning: a new connection DNAT'ed to a service with affinity.
fn learning<A: SvcAddr>(chain: &str) -> Vec<Rule> {
    let with = |key: Vec<Sel>, map: &str| {
        let mut s = new_dnat();
        s.push(vmap(key, map));
        Rule::new(chain, s)
    };
    vec![
        with(
            vec![A::CT_ORIG_DADDR, L4Proto, CtOrigProtoDst],
            AFFINITY_SVCS,
        ),
        with(vec![L4Proto, CtOrigProtoDst], AFFINITY_NPS),
    ]
}

pub fn rules<A: SvcAddr>() -> Vec<Rule> {
    let mut r = dispatch::<A>("prerouting");
    r.extend(dispatch::<A>("output"));
    r.extend(learning::<A>("learn_prerouting"));
    r.extend(learning::<A>("learn_output"));
    r.push(Rule::new(
        NO_ENDPOINTS,
        vec![
            Stmt::Cmp {
                sel: L4Proto,
                op: CmpOp::Eq,
                value: Value::Proto(Proto::Tcp.number()),
            },
            Stmt::Reject(Reject::TcpReset),
        ],
    ));
    // ICMP port unreachable (type 3 code 3; ICMPv6 type 1 code 4).
    r.push(Rule::new(
        NO_ENDPOINTS,
        vec![Stmt::Reject(Reject::Icmp(A::PORT_UNREACHABLE))],
    ));
    r
}

/// `bucket_N` and `np_bucket_N`: pick slot `numgen random mod N`.
pub fn bucket_chains<A: SvcAddr>(n: usize) -> Vec<(Chain, Rule)> {
    let dnat = |chain: String, key: Vec<Sel>, map: &str| {
        let rule = Rule::new(
            chain.clone(),
            vec![Stmt::NatMap {
                kind: NatKind::Dnat,
                key,
                map: map.into(),
                with_port: true,
            }],
        );
        (Chain::regular(chain), rule)
    };
    let m = NumgenRandom(n as u32);
    vec![
        dnat(bucket(n), vec![A::DADDR, L4Proto, ThDport, m], EPS),
        dnat(np_bucket(n), vec![L4Proto, ThDport, m], NP_EPS),
    ]
}

/// `affinity_Ts` (service ports) and `np_affinity_Ts` (node ports), for
/// new connections DNAT'ed to a port with affinity timeout T:
///
/// 1. If the backend it was sent to is no longer a live endpoint (only a
///    stale affinity entry can do that), forget the entry and drop the
///    packet: the client's retransmission (TCP: after its initial RTO,
///    1 s) is balanced afresh. nft cannot check liveness before the
///    affinity DNAT (no lookup result inside a key in nft syntax; the
///    kernel would take it, but `nft list` 1.0.6 then aborts).
/// 2. Otherwise remember `client . original dst . l4proto . original dport ->
///    backend . port` for T seconds, refreshed by each new connection.
///
/// `th dport` needs a concrete protocol (DESIGN §3), so both per protocol.
pub fn learn_chains<A: SvcAddr>(timeout_secs: u32) -> Vec<(Chain, Vec<Rule>)> {
    let fwd = [A::CT_ORIG_DADDR, L4Proto, CtOrigProtoDst];
    let to = [A::DADDR, ThDport];
    [
        (learn(timeout_secs), &fwd[..], AFFINITY_EPS),
        (np_learn(timeout_secs), &fwd[1..], AFFINITY_NP_EPS),
    ]
    .into_iter()
    .map(|(name, svc, live)| {
        let key = vec![A::SADDR, A::CT_ORIG_DADDR, L4Proto, CtOrigProtoDst];
        let mut rules = vec![];
        for p in [Proto::Tcp, Proto::Udp, Proto::Sctp] {
            let proto = Stmt::Cmp {
                sel: L4Proto,
                op: CmpOp::Eq,
                value: Value::Proto(p.number()),
            };
            // A map's dynset needs a data register even to delete.
            rules.push(Rule::new(
                name.clone(),
                vec![
                    proto.clone(),
                    Stmt::InSet {
                        key: [svc, &to[..]].concat(),
                        set: live.into(),
                        invert: true,
                    },
                    Stmt::Dynset {
                        op: DynsetOp::Delete,
                        set: AFFINITY.into(),
                        key: key.clone(),
                        data: to.to_vec(),
                        timeout: None,
                    },
                    Stmt::Verdict(Verdict::Drop),
                ],
            ));
            rules.push(Rule::new(
                name.clone(),
                vec![
                    proto,
                    Stmt::Dynset {
                        op: DynsetOp::Update,
                        set: AFFINITY.into(),
                        key: key.clone(),
                        data: to.to_vec(),
                        timeout: Some(Duration::from_secs(u64::from(timeout_secs))),
                    },
                ],
            ));
        }
        (Chain::regular(name), rules)
    })
    .collect()
}

/// Verdict for a service port with `n` backends.
pub fn to_bucket(n: usize) -> Verdict {
    if n == 0 {
        Verdict::Goto(NO_ENDPOINTS.into())
    } else {
        Verdict::Goto(bucket(n))
    }
}

/// Verdict for a node port with `n` backends.
pub fn to_np_bucket(n: usize) -> Verdict {
    if n == 0 {
        Verdict::Goto(NO_ENDPOINTS.into())
    } else {
        Verdict::Goto(np_bucket(n))
    }
}
