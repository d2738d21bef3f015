//! Issue 11, hostile: a cluster node reboots (its kernel state and /run gone, its store and
//! `cluster.json` kept) and comes back; and `podnet gc` on a joined node while its agent's
//! threads run. Real etcd, agents, VXLAN and TCP on `testbed::Cluster`.

mod common;

use common::*;
use podnet::testbed::cluster_setup::{AGENT_ARGS, WEB_SERVICE};
use podnet::testbed::{self, Cluster};
use std::collections::BTreeSet;

const VIP: &str = "10.43.0.1";

/// Who answered `n` connections to the VIP from container `from` on node `i`; every one
/// must be answered.
fn answers(c: &Cluster, i: usize, from: &str, n: usize) -> BTreeSet<String> {
    c.connect_from(i, from, VIP, 80, n)
        .unwrap_or_else(|e| panic!("{e}\n{}", c.dump()))
        .into_iter()
        .collect()
}

fn wait_backends(c: &Cluster, want: &[&str]) {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    c.wait_csvc_backends(&[0, 1, 2], &want)
        .unwrap_or_else(|e| panic!("{e}\n{}", c.dump()));
}

fn subnet(c: &Cluster, node: &str) -> String {
    common::cluster::node_in_etcd(&c.etcd, node).unwrap_or_default()["subnet"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Three joined nodes, service `web` with a backend on node 1 and node 3, a client c0 on
/// node 1 answered by both.
fn scene(sb: &podnet::testbed::Sandbox) -> (Cluster<'_>, String, String) {
    let c = Cluster::joined(sb, 3).unwrap();
    let b0 = c.serve(0, "b0", &["app=web"], 8080, "b0").unwrap();
    let b2 = c.serve(2, "b2", &["app=web"], 8080, "b2").unwrap();
    c.sleeper(0, "c0").unwrap();
    c.podnet_ok(0, &WEB_SERVICE).unwrap();
    wait_backends(&c, &[&b0, &b2]);
    assert_eq!(answers(&c, 0, "c0", 30), names(&["b0", "b2"]));
    (c, b0, b2)
}

#[test]
fn a_rebooted_node_rejoins_on_its_subnet_and_its_dead_backends_leave_every_node() {
    let sb = sandbox();
    let (mut c, b0, _) = scene(&sb);
    let before = subnet(&c, "node3");
    c.reboot_node(2).unwrap();
    c.join(2, AGENT_ARGS).unwrap();
    assert_eq!(
        subnet(&c, "node3"),
        before,
        "node3's subnet after its reboot"
    );
    // b2 died with the boot: out of the service on every node, node3's own included.
    wait_backends(&c, &[&b0]);
    assert_eq!(answers(&c, 0, "c0", 20), names(&["b0"]));
    let ps = c.podnet_ok(2, &["ps", "-a", "--format", "json"]).unwrap();
    assert!(!ps.contains("\"b2\""), "b2 after the reboot: {ps}");
    // A new backend on the rebooted node serves across the overlay again.
    let b3 = c.serve(2, "b3", &["app=web"], 8080, "b3").unwrap();
    wait_backends(&c, &[&b0, &b3]);
    assert_eq!(answers(&c, 0, "c0", 30), names(&["b0", "b3"]));
}

#[test]
fn gc_on_a_joined_node_leaves_the_overlay_and_the_cluster_services_working() {
    let sb = sandbox();
    let (c, b0, b2) = scene(&sb);
    // Index, name and MAC of every link: a link gc re-made would show a new index.
    let links = |i: usize| testbed::stdout(&c.sh(i, "ip -o link | cut -d' ' -f1,2,17-20"));
    let fdb = |i: usize| {
        let mut l: Vec<String> = testbed::stdout(&c.sh(i, "bridge fdb show | grep dst"))
            .lines()
            .map(String::from)
            .collect();
        l.sort();
        l
    };
    let (before, entries) = (links(0), fdb(0));
    assert!(
        before.contains("podnet.1") && entries.len() == 2,
        "{before} {entries:?}"
    );
    // gc, again and again, while the agent's threads reconcile and render.
    let mut said = String::new();
    for _ in 0..5 {
        said += &c.podnet_ok(0, &["gc"]).unwrap();
    }
    assert_eq!(links(0), before, "links after gc, which said: {said}");
    assert_eq!(fdb(0), entries, "the FDB after gc");
    wait_backends(&c, &[&b0, &b2]);
    assert_eq!(answers(&c, 0, "c0", 30), names(&["b0", "b2"]));
}
