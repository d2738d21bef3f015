//! Real traffic over the overlay (issue 11): three nodes on one underlay, two pods each
//! ([`NodesLab`]); the overlay reconciled on every node from the others' leases. Asserted
//! with TCP between every pair of pods (the server answers with the source address it saw)
//! and with `bridge -j fdb` / `ip -j` on every node.

use ipnet::Ipv4Net;
use podnet::engine::overlay::{self, OverlayConfig};
use podnet::kernel::Rtnl;
use podnet::model::NodeLease;
use podnet::plan::netfilter::{self as nf, NetFacts, OverlayFacts};
use podnet::testbed::thread_netns::NodesLab;
use serde_json::Value;

const NODES: usize = 3;
const PODS: usize = 2;
const PORT: u16 = 7070;

fn cfg(i: usize) -> OverlayConfig {
    OverlayConfig::new(1, NodesLab::underlay(i))
}

/// Installs the overlay on node `i` for `leases`; returns its own lease.
fn reconcile(l: &NodesLab, i: usize, leases: &[NodeLease]) -> NodeLease {
    let leases = leases.to_vec();
    l.lab.run(&NodesLab::node(i), move || {
        let mut rtnl = Rtnl::open().unwrap();
        let c = cfg(i);
        let out = overlay::reconcile(&mut rtnl, &c, NodesLab::subnet(i), &leases);
        assert!(out.errors.is_empty(), "node {i}: {:?}", out.errors);
        overlay::local_lease(
            &NodesLab::node(i),
            NodesLab::subnet(i),
            &c,
            &out.device.unwrap(),
        )
    })
}

/// Every node's own lease (its device made), then every node reconciled with all of them.
fn converge(l: &NodesLab, nodes: &[usize]) -> Vec<NodeLease> {
    let leases: Vec<NodeLease> = nodes.iter().map(|&i| reconcile(l, i, &[])).collect();
    for &i in nodes {
        reconcile(l, i, &leases);
    }
    leases
}

fn servers(l: &mut NodesLab) {
    for (i, j) in l.all_pods() {
        l.lab.tcp_server(&NodesLab::pod(i, j), PORT, "pod");
    }
}

/// TCP from every pod of `from` nodes to every pod of `to` nodes (not itself): each must
/// answer and must have seen the client's own address (no NAT between pods).
fn all_pairs(l: &NodesLab, from: &[usize], to: &[usize]) {
    let mut failures = Vec::new();
    let mut count = 0;
    for (i, j) in l.all_pods().into_iter().filter(|(i, _)| from.contains(i)) {
        for (k, m) in l.all_pods().into_iter().filter(|(k, _)| to.contains(k)) {
            if (i, j) == (k, m) {
                continue;
            }
            count += 1;
            let dst = format!("{}:{PORT}", NodesLab::pod_ip(k, m));
            match l.lab.tcp(&NodesLab::pod(i, j), &dst) {
                Ok(r) if r == format!("pod {}", NodesLab::pod_ip(i, j)) => {}
                other => failures.push(format!("{} -> {dst}: {other:?}", NodesLab::pod(i, j))),
            }
        }
    }
    assert!(count > 0);
    assert!(
        failures.is_empty(),
        "{} of {count} failed: {failures:#?}",
        failures.len()
    );
}

fn json(l: &NodesLab, i: usize, cmd: &str) -> Value {
    serde_json::from_str(&l.lab.sh(&NodesLab::node(i), cmd)).unwrap()
}

/// The FDB of node `i`'s device as (MAC, VTEP) pairs, sorted.
fn fdb(l: &NodesLab, i: usize) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = json(l, i, "bridge -j fdb show dev podnet.1")
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["mac"].as_str().unwrap().into(),
                f["dst"].as_str().unwrap_or("-").into(),
            )
        })
        .collect();
    v.sort();
    v
}

/// What node `i` must hold for `others`: their MACs at their VTEPs, their subnets routed.
fn expect_only(l: &NodesLab, i: usize, others: &[&NodeLease]) {
    let mut want: Vec<(String, String)> = others
        .iter()
        .map(|n| (n.vtep_mac.to_string(), n.underlay.to_string()))
        .collect();
    want.sort();
    assert_eq!(fdb(l, i), want, "FDB of node {i}");
    let mut routes: Vec<String> = json(l, i, "ip -j route show dev podnet.1")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dst"].as_str().unwrap().to_string())
        .collect();
    routes.sort();
    let mut want: Vec<String> = others.iter().map(|n| n.subnet.to_string()).collect();
    want.sort();
    assert_eq!(routes, want, "routes of node {i}");
    let mut neigh: Vec<String> = json(l, i, "ip -4 -j neigh show dev podnet.1")
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{} {}",
                n["dst"].as_str().unwrap(),
                n["lladdr"].as_str().unwrap()
            )
        })
        .collect();
    neigh.sort();
    let mut want: Vec<String> = others
        .iter()
        .map(|n| format!("{} {}", n.subnet.network(), n.vtep_mac))
        .collect();
    want.sort();
    assert_eq!(neigh, want, "neighbours of node {i}");
}

fn subnets_unreachable(l: &NodesLab, from: usize, to: Ipv4Net) {
    let r = l
        .lab
        .sh(&NodesLab::node(from), &format!("ip -j route show {to}"));
    assert!(
        !r.contains("podnet.1"),
        "node {from} still routes {to} over the overlay: {r}"
    );
}

#[test]
fn pods_on_every_node_reach_each_other_with_their_own_addresses() {
    let mut l = NodesLab::new(NODES, PODS);
    servers(&mut l);
    let all = [1, 2, 3];
    // Before the overlay, no pod reaches another node's pods: the test can fail.
    assert!(l
        .lab
        .tcp(
            &NodesLab::pod(1, 1),
            &format!("{}:{PORT}", NodesLab::pod_ip(2, 1))
        )
        .is_err());
    let leases = converge(&l, &all);
    all_pairs(&l, &all, &all);
    for i in all {
        let others: Vec<&NodeLease> = leases
            .iter()
            .filter(|n| n.name != NodesLab::node(i))
            .collect();
        expect_only(&l, i, &others);
    }

    // Node 3 leaves: the others drop its entries, and still reach each other.
    let two = &leases[..2];
    for i in [1, 2] {
        reconcile(&l, i, two);
        expect_only(
            &l,
            i,
            &two.iter()
                .filter(|n| n.name != NodesLab::node(i))
                .collect::<Vec<_>>(),
        );
        subnets_unreachable(&l, i, NodesLab::subnet(3));
    }
    all_pairs(&l, &[1, 2], &[1, 2]);

    // Node 3 comes back with its device re-created (a reboot: a new MAC).
    let old_mac = leases[2].vtep_mac;
    l.lab.run(&NodesLab::node(3), || {
        let mut rtnl = Rtnl::open().unwrap();
        assert!(overlay::remove(&mut rtnl, &cfg(3)).unwrap());
    });
    let mut leases = leases;
    leases[2] = reconcile(&l, 3, &leases);
    assert_ne!(
        leases[2].vtep_mac, old_mac,
        "a re-created device has a new MAC"
    );
    for i in all {
        reconcile(&l, i, &leases);
    }
    all_pairs(&l, &all, &all);
    for i in all {
        let others: Vec<&NodeLease> = leases
            .iter()
            .filter(|n| n.name != NodesLab::node(i))
            .collect();
        expect_only(&l, i, &others);
        assert!(
            fdb(&l, i).iter().all(|(m, _)| *m != old_mac.to_string()),
            "stale FDB entry of the old MAC on node {i}"
        );
    }
}

/// flannel#1036 from the other side: a node whose peer re-created its device but that has
/// not reconciled yet cannot reach it (the old MAC is gone); one reconcile with the new
/// lease fixes it, without the node having seen the peer leave.
#[test]
fn a_peer_with_a_new_mac_is_reached_again_after_one_reconcile() {
    let mut l = NodesLab::new(2, 1);
    servers(&mut l);
    let mut leases = converge(&l, &[1, 2]);
    all_pairs(&l, &[1, 2], &[1, 2]);
    l.lab.run(&NodesLab::node(2), || {
        let mut rtnl = Rtnl::open().unwrap();
        overlay::remove(&mut rtnl, &cfg(2)).unwrap();
    });
    leases[1] = reconcile(&l, 2, &leases);
    let to2 = format!("{}:{PORT}", NodesLab::pod_ip(2, 1));
    assert!(
        l.lab.tcp(&NodesLab::pod(1, 1), &to2).is_err(),
        "node 1 still has the old MAC: unreachable"
    );
    reconcile(&l, 1, &leases);
    all_pairs(&l, &[1, 2], &[1, 2]);
}

/// podnet's netfilter tables on every node, with `overlay`'s part or without it.
fn firewall(l: &NodesLab, overlay: bool, extra: &[(usize, NetFacts)]) {
    for i in 1..=NODES {
        let mut nets = vec![NetFacts {
            bridge: podnet::testbed::thread_netns::nodes::POD_BRIDGE.into(),
            subnet: NodesLab::subnet(i),
            internal: false,
            icc: true,
            subnet6: None,
            nat6: false,
        }];
        nets.extend(
            extra
                .iter()
                .filter(|(n, _)| *n == i)
                .map(|(_, f)| f.clone()),
        );
        let o = OverlayFacts {
            device: cfg(i).device,
            cluster: NodesLab::cluster(),
        };
        let batch = nf::full_with(&nets, &[], &[], overlay.then_some(&o));
        l.lab.run(&NodesLab::node(i), move || {
            podnet::kernel::nft::NftSocket::open()
                .and_then(|mut s| s.apply(&batch))
                .unwrap()
        });
    }
}

/// With podnet's firewall on the nodes (the pod networks masqueraded on the way out), the
/// overlay part keeps pod addresses between nodes; without it every cross-node connection
/// would arrive from the sending node's VXLAN address. And another podnet network on a node
/// stays unreachable from the overlay, as it is from other networks.
#[test]
fn the_firewall_keeps_pod_addresses_and_isolates_other_networks() {
    let mut l = NodesLab::new(NODES, PODS);
    servers(&mut l);
    converge(&l, &[1, 2, 3]);
    // Another network on node 2 (pn9, 10.99.2.0/24, one pod), and node 1 told to route it
    // over the overlay as a misbehaving peer would.
    l.lab.add_netns("n2x");
    let tid = l.lab.tid("n2x");
    l.lab.sh(
        &NodesLab::node(2),
        &format!(
        "ip link add pn9 type bridge && ip addr add 10.99.2.1/24 dev pn9 && ip link set pn9 up \
         && ip link add vx9 type veth peer name eth0 netns {tid} && ip link set vx9 master pn9 up"),
    );
    l.lab.sh(
        "n2x",
        "ip link set lo up && ip addr add 10.99.2.2/24 dev eth0 && ip link set eth0 up \
        && ip route add default via 10.99.2.1",
    );
    l.lab.tcp_server("n2x", PORT, "other");
    l.lab.sh(
        &NodesLab::node(1),
        "ip route add 10.99.2.0/24 via 10.244.2.0 dev podnet.1 onlink",
    );
    let pn9 = (
        2,
        NetFacts {
            bridge: "pn9".into(),
            subnet: "10.99.2.0/24".parse().unwrap(),
            internal: false,
            icc: true,
            subnet6: None,
            nat6: false,
        },
    );
    let extra = [pn9];
    let to_other = format!("10.99.2.2:{PORT}");
    let to_pod = format!("{}:{PORT}", NodesLab::pod_ip(2, 1));

    // Without the overlay part: masqueraded between nodes, and the other network open.
    firewall(&l, false, &extra);
    assert_eq!(
        l.lab.tcp(&NodesLab::pod(1, 1), &to_pod),
        Ok("pod 10.244.1.0".into())
    );
    assert!(l.lab.tcp(&NodesLab::pod(1, 1), &to_other).is_ok());

    firewall(&l, true, &extra);
    all_pairs(&l, &[1, 2, 3], &[1, 2, 3]);
    let r = l.lab.tcp(&NodesLab::pod(1, 1), &to_other);
    assert!(
        r.is_err(),
        "another network reached over the overlay: {r:?}"
    );
}
