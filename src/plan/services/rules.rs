//! The fixed part of table `ip podnet-svc` and the chains made per backend
//! count (`bucket_N`) and per affinity timeout (`affinity_Ts`). Nothing here
//! depends on how many services exist: services are map elements.

use std::time::Duration;

use crate::kernel::nft::{
    ct_state, ct_status, Chain, ChainType, CmpOp, DataType, DynsetOp, Expr, Family, Hook, NatKind,
    Reject, Rule, Sel, Set, Stmt, Table, Value, Verdict, RTN_LOCAL,
};
use crate::model::Proto;
use DataType::{InetProto, InetService, Ipv4Addr as V4, Mark};
use Sel::*;

pub const TABLE: &str = "podnet-svc";

/// `table ip podnet-svc`: apart from `ip podnet`, so that re-creating one
/// never wipes the other.
pub fn table() -> Table {
    Table::new(Family::Ip, TABLE)
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
/// an affinity entry is only used while its endpoint is in here.
pub const AFFINITY_EPS: &str = "affinity_eps";
/// The same for node ports, `l4proto . node port . backend . port`.
pub const AFFINITY_NP_EPS: &str = "affinity_np_eps";
/// Service ports with affinity, `vip . l4proto . port : goto affinity_Ts`.
pub const AFFINITY_SVCS: &str = "affinity_svcs";
/// Node ports with affinity, `l4proto . node port : goto affinity_Ts`.
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

pub fn sets() -> Vec<Set> {
    let vip = vec![V4, InetProto, InetService];
    let np = vec![InetProto, InetService];
    let backend = vec![V4, InetService];
    let cat = |a: &[DataType], b: &[DataType]| [a, b].concat();
    vec![
        Set::vmap(SERVICE_IPS, vip.clone()),
        Set::map(EPS, cat(&vip, &[Mark]), backend.clone()),
        Set::vmap(NODE_PORTS, np.clone()),
        Set::map(NP_EPS, cat(&np, &[Mark]), backend.clone()),
        Set::map(
            AFFINITY,
            vec![V4, V4, InetProto, InetService],
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

/// nft register of 32-bit slot `k` (as `stmt::slot_reg`).
fn reg(k: u32) -> u32 {
    if k % 4 == 0 {
        1 + k / 4
    } else {
        8 + k
    }
}

fn loads(out: &mut Vec<Expr>, key: &[Sel], first_slot: u32) {
    for (i, s) in key.iter().enumerate() {
        out.push(s.load(reg(first_slot + i as u32)));
    }
}

/// DNAT to the backend this client is pinned to, if that endpoint is still
/// live. nft has no syntax for a lookup result inside another key, so this
/// is built from kernel expressions:
///
/// ```text
/// saddr . daddr . l4proto . dport -> slots 4..7; lookup @affinity -> slots 3,4 (backend . port)
/// <live_key> -> slots from `first`; lookup @live (key ends with slots 3,4)
/// dnat ip to slot 3 : slot 4
/// ```
fn affinity_dnat(live_key: &[Sel], live: &str) -> Stmt {
    let mut e = vec![];
    loads(&mut e, &[IpSaddr, IpDaddr, L4Proto, ThDport], 4);
    e.push(Expr::Lookup {
        set: AFFINITY.into(),
        set_id: None,
        sreg: reg(4),
        dreg: Some(reg(3)),
        invert: false,
    });
    let first = 3 - live_key.len() as u32;
    loads(&mut e, live_key, first);
    e.push(Expr::Lookup {
        set: live.into(),
        set_id: None,
        sreg: reg(first),
        dreg: None,
        invert: false,
    });
    e.push(Expr::Nat {
        kind: NatKind::Dnat,
        nfproto: 2,
        addr: Some(reg(3)),
        proto: Some(reg(4)),
        flags: 0,
    });
    Stmt::Raw(e)
}

fn dispatch(chain: &str) -> Vec<Rule> {
    vec![
        Rule::new(
            chain,
            vec![affinity_dnat(&[IpDaddr, L4Proto, ThDport], AFFINITY_EPS)],
        ),
        Rule::new(
            chain,
            vec![vmap(vec![IpDaddr, L4Proto, ThDport], SERVICE_IPS)],
        ),
        Rule::new(
            chain,
            vec![
                fib_local(),
                affinity_dnat(&[L4Proto, ThDport], AFFINITY_NP_EPS),
            ],
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
fn learning(chain: &str) -> Vec<Rule> {
    let with = |key: Vec<Sel>, map: &str| {
        let mut s = new_dnat();
        s.push(vmap(key, map));
        Rule::new(chain, s)
    };
    vec![
        with(vec![CtOrigIpDaddr, L4Proto, CtOrigProtoDst], AFFINITY_SVCS),
        with(vec![L4Proto, CtOrigProtoDst], AFFINITY_NPS),
    ]
}

pub fn rules() -> Vec<Rule> {
    let mut r = dispatch("prerouting");
    r.extend(dispatch("output"));
    r.extend(learning("learn_prerouting"));
    r.extend(learning("learn_output"));
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
    // ICMP port unreachable (type 3 code 3).
    r.push(Rule::new(NO_ENDPOINTS, vec![Stmt::Reject(Reject::Icmp(3))]));
    r
}

/// `bucket_N` and `np_bucket_N`: pick slot `numgen random mod N`.
pub fn bucket_chains(n: usize) -> Vec<(Chain, Rule)> {
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
        dnat(bucket(n), vec![IpDaddr, L4Proto, ThDport, m], EPS),
        dnat(np_bucket(n), vec![L4Proto, ThDport, m], NP_EPS),
    ]
}

/// `affinity_Ts`: remember `client . original dst . l4proto . original
/// dport -> backend . port` for T seconds (refreshed by each new connection).
/// A dynset needs a concrete protocol for `th dport`, so one rule each.
pub fn learn_chain(timeout_secs: u32) -> (Chain, Vec<Rule>) {
    let name = learn(timeout_secs);
    let rules = [Proto::Tcp, Proto::Udp, Proto::Sctp]
        .iter()
        .map(|p| {
            Rule::new(
                name.clone(),
                vec![
                    Stmt::Cmp {
                        sel: L4Proto,
                        op: CmpOp::Eq,
                        value: Value::Proto(p.number()),
                    },
                    Stmt::Dynset {
                        op: DynsetOp::Update,
                        set: AFFINITY.into(),
                        key: vec![IpSaddr, CtOrigIpDaddr, L4Proto, CtOrigProtoDst],
                        data: vec![IpDaddr, ThDport],
                        timeout: Some(Duration::from_secs(u64::from(timeout_secs))),
                    },
                ],
            )
        })
        .collect();
    (Chain::regular(name), rules)
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
