//! Joining the cluster: a node's subnet and VTEP bound to an etcd lease its agent renews.
//!
//! The subnet is taken with one compare-and-swap transaction: "the node key and the subnet
//! key are both absent → put both, bound to my lease". A node prefers the subnet it held
//! before (from its state root), but only if that key is free: a node cut off past its TTL
//! whose subnet went to another node gets a new one and says so (flannel#1289), instead of
//! reclaiming it. A name held by another live lease is refused.
//!
//! TTL: 10 s by default. A dead node's routes stay at most that long on its peers; renewals
//! every TTL/3 (3.3 s) mean two can be lost before the lease goes, and 1,000 nodes cost
//! etcd 300 renewals/s, far below what one member serves. Shorter TTLs would make a busy
//! etcd's pauses (an election is ~1 s) drop healthy nodes.

use super::config::ClusterConfig;
use super::etcd::{Compare, Etcd, EtcdError, Op};
use super::node::{self, node_key, subnet_key, subnet_of_key, Moved, SUBNETS};
use crate::model::{Mac, NodeLease};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const DEFAULT_TTL: u64 = 10;

/// What a node asks for.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    pub name: String,
    pub underlay: IpAddr,
    pub vtep_mac: Mac,
    pub ttl: u64,
    /// The subnet it held before (taken back if still free).
    pub prefer: Option<Ipv4Net>,
    /// The lease it held before: if the node's keys are still bound to it (the agent
    /// restarted within the TTL), it is renewed and kept.
    pub prior_lease: Option<i64>,
}

/// What it got.
#[derive(Clone, Debug)]
pub struct Joined {
    pub node: NodeLease,
    pub lease: i64,
    /// Set when the preferred subnet belonged to another node: says which, and what was
    /// taken instead.
    pub moved: Option<String>,
}

#[derive(Debug)]
pub enum JoinError {
    Etcd(EtcdError),
    /// Another live lease holds the name.
    NameInUse {
        name: String,
        subnet: String,
    },
    /// Every subnet of the pod CIDR is taken.
    Full(Ipv4Net),
}

impl JoinError {
    /// Whether trying again later may succeed (etcd unreachable, electing, overloaded);
    /// a name in use and a full pod CIDR need someone to act.
    pub fn is_transient(&self) -> bool {
        matches!(self, JoinError::Etcd(e) if e.is_transient())
    }
}

impl From<EtcdError> for JoinError {
    fn from(e: EtcdError) -> Self {
        JoinError::Etcd(e)
    }
}

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinError::Etcd(e) => write!(f, "{e}"),
            JoinError::NameInUse { name, subnet } => write!(
                f,
                "node name {name:?} is held by a live node (subnet {subnet}): choose another --node, or stop that node's agent and wait for its lease to expire"
            ),
            JoinError::Full(cidr) => write!(
                f,
                "every node subnet of the pod CIDR {cidr} is taken: remove nodes or re-create the cluster with a larger --pod-cidr"
            ),
        }
    }
}

/// Joins as `req` says, in one attempt. On error the lease granted here is revoked, so
/// nothing of this node is left in etcd — unless etcd went away in the middle: then the
/// lease expires by itself, and a retry that finds it still holding this node's keys takes
/// it back (see [`resume`]) rather than calling the name taken.
pub fn join(etcd: &Etcd, cfg: &ClusterConfig, req: &JoinRequest) -> Result<Joined, JoinError> {
    let key = node_key(&req.name);
    if let Some(joined) = resume(etcd, req)? {
        return Ok(joined);
    }
    let lease = etcd.grant(req.ttl)?;
    let r = take_subnet(etcd, cfg, req, &key, lease);
    if r.is_err() {
        let _ = etcd.revoke(lease);
    }
    r
}

/// The agent restarted within its TTL, or an earlier attempt of this join committed but its
/// answer was lost: the node's keys are still bound to a live lease of its own. Renew it and
/// refresh the record (the VTEP may have changed), keeping the subnet.
///
/// The lease is this node's when it is the one its state root names, or when the record
/// has this node's own underlay and VTEP MAC (random per state root, so no other node has
/// it): the latter covers a crash between the join and writing the state root, and a join
/// transaction that timed out after etcd applied it — neither may lock the node out as "in
/// use" until its own lease expires.
fn resume(etcd: &Etcd, req: &JoinRequest) -> Result<Option<Joined>, JoinError> {
    let key = node_key(&req.name);
    let (Some(held), _) = etcd.get(&key)? else {
        return Ok(None);
    };
    let Some(old) = node::decode(&held) else {
        return Err(JoinError::NameInUse {
            name: req.name.clone(),
            subnet: "unknown".into(),
        });
    };
    let same_vtep = old.underlay == req.underlay && old.vtep_mac == req.vtep_mac;
    let ours = held.lease != 0 && (req.prior_lease == Some(held.lease) || same_vtep);
    if !ours || etcd.keepalive(held.lease)? <= 0 {
        if ours {
            return Ok(None); // expired between the read and the renewal
        }
        return Err(JoinError::NameInUse {
            name: req.name.clone(),
            subnet: old.subnet.to_string(),
        });
    }
    let moved = node::moved(&held);
    let node = NodeLease {
        underlay: req.underlay,
        vtep_mac: req.vtep_mac,
        ..old
    };
    let r = etcd.txn(
        &[
            Compare::LeaseIs(key.clone(), held.lease),
            Compare::LeaseIs(subnet_key(node.subnet), held.lease),
        ],
        &[Op::Put {
            key,
            value: node::encode_moved(&node, moved.as_ref()),
            lease: held.lease,
        }],
        &[],
    )?;
    Ok(r.succeeded.then_some(Joined {
        moved: moved.map(|m| moved_text(&node, &m)),
        node,
        lease: held.lease,
    }))
}

/// What a node says when its subnet moved (its log, `podnet node inspect`).
pub fn moved_text(node: &NodeLease, m: &Moved) -> String {
    format!(
        "node {}: the subnet it held before, {}, now belongs to node {}; it took {} instead",
        node.name, m.from, m.holder, node.subnet
    )
}

fn take_subnet(
    etcd: &Etcd,
    cfg: &ClusterConfig,
    req: &JoinRequest,
    key: &str,
    lease: i64,
) -> Result<Joined, JoinError> {
    let (held, _) = etcd.list(SUBNETS)?;
    let mut owners: BTreeMap<Ipv4Net, String> = held
        .iter()
        .filter_map(|kv| {
            Some((
                subnet_of_key(&kv.key)?,
                String::from_utf8_lossy(&kv.value).into_owned(),
            ))
        })
        .collect();
    let prefer = req.prefer.filter(|p| cfg.subnets().any(|s| s == *p));
    let candidates = prefer.into_iter().chain(cfg.subnets());
    for subnet in candidates {
        if owners.contains_key(&subnet) {
            continue;
        }
        let node = NodeLease {
            name: req.name.clone(),
            subnet,
            underlay: req.underlay,
            vtep_mac: req.vtep_mac,
        };
        let skey = subnet_key(subnet);
        // Said in the record too, so every node's `node inspect` shows it.
        let moved = prefer.filter(|p| *p != subnet).map(|p| Moved {
            from: p,
            holder: owners.get(&p).cloned().unwrap_or_default(),
        });
        let r = etcd.txn(
            &[
                Compare::Absent(key.to_string()),
                Compare::Absent(skey.clone()),
            ],
            &[
                Op::Put {
                    key: skey.clone(),
                    value: req.name.as_bytes().to_vec(),
                    lease,
                },
                Op::Put {
                    key: key.to_string(),
                    value: node::encode_moved(&node, moved.as_ref()),
                    lease,
                },
            ],
            &[Op::Get(key.to_string()), Op::Get(skey)],
        )?;
        if r.succeeded {
            let moved = moved.map(|m| moved_text(&node, &m));
            return Ok(Joined { node, lease, moved });
        }
        if let Some(kv) = r.gets.first().and_then(|g| g.first()) {
            return Err(JoinError::NameInUse {
                name: req.name.clone(),
                subnet: node::decode(kv).map_or("unknown".into(), |n| n.subnet.to_string()),
            });
        }
        // Another node took it between the list and the transaction.
        let owner = r
            .gets
            .get(1)
            .and_then(|g| g.first())
            .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
            .unwrap_or_default();
        owners.insert(subnet, owner);
    }
    Err(JoinError::Full(cfg.pod_cidr))
}
