//! [`NodesLab`]: cluster nodes on one underlay, for the overlay's kernel tests — every node
//! a thread-held network namespace (never the machine's own), with pods of its own.
//!
//! ```text
//!  wire: bridge ul0 ─┬─ n1: ul 192.168.60.1/24   cbr0 10.244.1.1/24 ── n1p1 .2, n1p2 .3 …
//!                    ├─ n2: ul 192.168.60.2/24   cbr0 10.244.2.1/24 ── n2p1 .2, n2p2 .3 …
//!                    └─ …
//! ```
//! Nodes forward (`ip_forward=1`); nothing connects the nodes' pod subnets until an overlay
//! is installed. Pods are namespaces with `eth0` on their node's `cbr0` and a default route
//! through it, as podnet's engine would make them.

use super::ThreadLab;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

pub struct NodesLab {
    pub lab: ThreadLab,
    pub nodes: usize,
    pub pods: usize,
}

/// The pod bridge on every node.
pub const POD_BRIDGE: &str = "cbr0";
/// The underlay interface on every node.
pub const UNDERLAY_DEV: &str = "ul";

impl NodesLab {
    /// `nodes` nodes (at most 250) with `pods` pods each (at most 250).
    pub fn new(nodes: usize, pods: usize) -> NodesLab {
        assert!((1..=250).contains(&nodes) && pods <= 250);
        let mut lab = ThreadLab::empty();
        lab.add_netns("wire");
        lab.sh(
            "wire",
            "ip link set lo up && ip link add ul0 type bridge && ip link set ul0 up",
        );
        for i in 1..=nodes {
            let n = Self::node(i);
            lab.add_netns(&n);
            lab.sh(
                "wire",
                &format!(
                    "ip link add uw{i} type veth peer name {UNDERLAY_DEV} netns {tid} \
                     && ip link set uw{i} master ul0 up",
                    tid = lab.tid(&n)
                ),
            );
            let mut cmds = vec![
                "ip link set lo up".to_string(),
                "sysctl -qw net.ipv4.ip_forward=1".into(),
                format!("ip addr add {}/24 dev {UNDERLAY_DEV}", Self::underlay(i)),
                format!("ip link set {UNDERLAY_DEV} up"),
                format!("ip link add {POD_BRIDGE} type bridge"),
                format!(
                    "ip addr add {}/{} dev {POD_BRIDGE}",
                    Self::gateway(i),
                    Self::subnet(i).prefix_len()
                ),
                format!("ip link set {POD_BRIDGE} up"),
            ];
            for j in 1..=pods {
                let p = Self::pod(i, j);
                lab.add_netns(&p);
                cmds.push(format!(
                    "ip link add v{j} type veth peer name eth0 netns {}",
                    lab.tid(&p)
                ));
                cmds.push(format!("ip link set v{j} master {POD_BRIDGE} up"));
            }
            lab.sh(&n, &cmds.join(" && "));
            for j in 1..=pods {
                lab.sh(
                    &Self::pod(i, j),
                    &format!(
                        "ip link set lo up && ip addr add {}/24 dev eth0 && ip link set eth0 up \
                         && ip route add default via {}",
                        Self::pod_ip(i, j),
                        Self::gateway(i)
                    ),
                );
            }
        }
        NodesLab { lab, nodes, pods }
    }

    /// The namespace name of node `i` (from 1).
    pub fn node(i: usize) -> String {
        format!("n{i}")
    }

    /// The namespace name of pod `j` of node `i` (both from 1).
    pub fn pod(i: usize, j: usize) -> String {
        format!("n{i}p{j}")
    }

    /// Node `i`'s underlay address.
    pub fn underlay(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(192, 168, 60, i as u8)
    }

    /// Node `i`'s pod subnet, leased from the cluster CIDR [`NodesLab::cluster`].
    pub fn subnet(i: usize) -> Ipv4Net {
        Ipv4Net::new(Ipv4Addr::new(10, 244, i as u8, 0), 24).unwrap()
    }

    /// The cluster's pod CIDR.
    pub fn cluster() -> Ipv4Net {
        "10.244.0.0/16".parse().unwrap()
    }

    /// The pod bridge's address on node `i` (its pods' gateway).
    pub fn gateway(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 244, i as u8, 1)
    }

    /// Pod `j`'s address on node `i`.
    pub fn pod_ip(i: usize, j: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 244, i as u8, j as u8 + 1)
    }

    /// Every pod as (node, pod) indices.
    pub fn all_pods(&self) -> Vec<(usize, usize)> {
        (1..=self.nodes)
            .flat_map(|i| (1..=self.pods).map(move |j| (i, j)))
            .collect()
    }
}
