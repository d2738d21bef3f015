//! The cluster's services (issue 11): the same bucket-chain layout as `ip podnet-svc`, in a
//! table of their own, `ip podnet-csvc`, rendered by each node's agent from etcd. A table of
//! its own because its owner is another one: the single-host engine re-creates or deletes
//! `ip podnet-svc` from its SQLite store (`gc`, the agent's repair), which knows nothing of
//! the cluster's services and would wipe them.
//!
//! One addition to the layout: a node port whose backend is on another node. The packet from
//! an outside client is DNAT'ed here and forwarded into the overlay; without a source NAT the
//! backend would answer the client directly through its own node, whose conntrack never saw
//! the connection (kube-proxy's `externalTrafficPolicy: Cluster` masquerade). So a DNAT'ed
//! packet leaving through the overlay device with a source outside the pod CIDR takes the
//! overlay device's address (the node's subnet address, routed back here by every peer).
//! Pod-to-service traffic keeps its pod source (no NAT between pods).

use super::{canonical, ruleset_in, BackendOf, ServiceOf};
use crate::kernel::nft::{
    ct_status, Batch, Chain, ChainType, DataType, Element, Family, Hook, Ruleset, Sel, Set, Stmt,
    Table, Value,
};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

pub const TABLE: &str = "podnet-csvc";
/// The node's VXLAN device(s).
pub const OVERLAY_DEVS: &str = "overlay_devs";
/// The cluster's pod CIDR.
pub const POD_CIDR: &str = "pod_cidr";

pub fn table() -> Table {
    Table::new(Family::Ip, TABLE)
}

/// What the node-port masquerade needs to know about the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFacts {
    /// The overlay device (`podnet.<vni>`).
    pub overlay_dev: String,
    pub pod_cidr: Ipv4Net,
}

/// The whole table: every service with its backends, and the overlay masquerade.
pub fn ruleset(
    facts: &ClusterFacts,
    services: &[(ServiceOf<Ipv4Addr>, Vec<BackendOf<Ipv4Addr>>)],
) -> Ruleset {
    let mut rs = ruleset_in(table(), services);
    let t = &mut rs.tables[0];
    t.sets
        .push(Set::plain(OVERLAY_DEVS, vec![DataType::IfName]));
    t.sets
        .push(Set::plain(POD_CIDR, vec![DataType::Ipv4Addr]).interval());
    t.chains.push(Chain::base(
        "postrouting",
        ChainType::Nat,
        Hook::Postrouting,
        100,
    ));
    t.rules.push(crate::kernel::nft::Rule::new(
        "postrouting",
        vec![
            Stmt::AnyBits {
                sel: Sel::CtStatus,
                mask: ct_status::DNAT,
            },
            Stmt::InSet {
                key: vec![Sel::OifName],
                set: OVERLAY_DEVS.into(),
                invert: false,
            },
            Stmt::InSet {
                key: vec![Sel::IpSaddr],
                set: POD_CIDR.into(),
                invert: true,
            },
            Stmt::Masquerade,
        ],
    ));
    t.elements.push((
        OVERLAY_DEVS.into(),
        vec![Element::new(vec![Value::IfName(facts.overlay_dev.clone())])],
    ));
    t.elements.push((
        POD_CIDR.into(),
        vec![Element::ipv4_net(facts.pod_cidr.trunc())],
    ));
    rs
}

/// Atomically (re)creates `ip podnet-csvc`.
pub fn full(
    facts: &ClusterFacts,
    services: &[(ServiceOf<Ipv4Addr>, Vec<BackendOf<Ipv4Addr>>)],
) -> Batch {
    ruleset(facts, services).replace_batch()
}

/// Removes `ip podnet-csvc` (absent is no error).
pub fn delete() -> Batch {
    let t = table();
    let mut b = Batch::new();
    b.add_table(&t);
    b.delete_table(&t);
    b
}

/// What one service is programmed as.
pub type Programmed = (ServiceOf<Ipv4Addr>, Vec<BackendOf<Ipv4Addr>>);

/// The element changes from `old` to `new` for one service name (either side absent: the
/// service appears or goes), in table `ip podnet-csvc`; `sizes` the bucket chains that exist,
/// grown by what this batch creates. A changed spec (ports, VIP, affinity) is a remove and an
/// add in the same transaction.
pub fn change(
    old: Option<&Programmed>,
    new: Option<&Programmed>,
    sizes: &mut std::collections::BTreeSet<usize>,
) -> Batch {
    let t = table();
    let mut b = Batch::new();
    match (old, new) {
        (None, None) => {}
        (Some((s, o)), Some((s2, n))) if s == s2 => {
            b.append(super::set_backends_in(&t, s, o, n, sizes));
        }
        (old, new) => {
            if let Some((s, o)) = old {
                b.append(super::remove_service_in(&t, s, o));
            }
            if let Some((s, n)) = new {
                b.append(super::add_service_in(&t, s, n, sizes));
            }
        }
    }
    if let Some((_, n)) = new {
        let n = canonical(n).len();
        if n > 0 {
            sizes.insert(n);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Proto, ServicePort};

    fn svc(vip: u8) -> ServiceOf<Ipv4Addr> {
        ServiceOf {
            name: "web".into(),
            vip: Ipv4Addr::new(10, 43, 0, vip),
            ports: vec![ServicePort {
                port: 80,
                target_port: 8080,
                proto: Proto::Tcp,
                node_port: Some(30080),
            }],
            affinity_timeout: None,
        }
    }

    fn be(last: u8) -> BackendOf<Ipv4Addr> {
        BackendOf::new(Ipv4Addr::new(10, 244, last, 2))
    }

    #[test]
    fn the_table_is_the_service_layout_plus_the_overlay_masquerade() {
        let facts = ClusterFacts {
            overlay_dev: "podnet.1".into(),
            pod_cidr: "10.244.0.0/16".parse().unwrap(),
        };
        let rs = ruleset(&facts, &[(svc(1), vec![be(1), be(2)])]);
        let t = &rs.tables[0];
        assert_eq!(t.table.name, TABLE);
        assert!(t.chains.iter().any(|c| c.name == "bucket_2"));
        assert!(t.chains.iter().any(|c| c.name == "postrouting"));
        let masq = t.rules.iter().filter(|r| r.chain == "postrouting").count();
        assert_eq!(masq, 1);
        let eps = t
            .elements
            .iter()
            .find(|(n, _)| n == super::super::rules::EPS);
        assert_eq!(eps.map(|(_, e)| e.len()), Some(2));
    }

    #[test]
    fn a_change_is_empty_when_nothing_changed_and_grows_the_bucket_sizes() {
        let mut sizes = Default::default();
        let p = (svc(1), vec![be(1)]);
        assert!(change(Some(&p), Some(&p), &mut sizes).is_empty());
        assert!(change(None, None, &mut sizes).is_empty());
        let p2 = (svc(1), vec![be(1), be(2), be(3)]);
        assert!(!change(Some(&p), Some(&p2), &mut sizes).is_empty());
        assert!(sizes.contains(&3));
        // A new VIP: the old elements out, the new in.
        let moved = (svc(2), vec![be(1)]);
        let b = change(Some(&p2), Some(&moved), &mut sizes);
        assert!(b.len() >= 2);
    }
}
