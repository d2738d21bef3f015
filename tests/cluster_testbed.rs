//! Self-test of `testbed::Cluster`: node namespaces on one underlay switch inside one
//! sandbox, each with its own podnet state; etcd reachable from every node; agents started
//! and SIGKILLed by PID.

mod common;

use common::sandbox;
use podnet::testbed::{self, Cluster};
use std::time::Duration;

#[test]
fn nodes_share_an_underlay_and_etcd_but_not_their_state() {
    let sb = sandbox();
    let mut c = Cluster::new(&sb, 2).unwrap();
    // Each node sees only its loopback and its underlay link.
    for i in 0..2 {
        let links = c.sh_ok(i, "ls /proc/sys/net/ipv4/conf").unwrap();
        let mut names: Vec<&str> = links.split_whitespace().collect();
        names.sort();
        assert_eq!(names, ["all", "default", "lo", "ul0"], "node {i}");
    }
    // The underlay connects nodes, the outside machine and etcd.
    c.sh_ok(0, "ping -c1 -W2 198.18.0.12 >/dev/null").unwrap();
    let out = c
        .outside("ping")
        .args(["-c1", "-W2", "198.18.0.11"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", testbed::describe(&out));
    c.init(&["--pod-cidr", "10.244.0.0/16"]).unwrap();
    // The init went into node 1's root only.
    c.sh_ok(0, "test -f $PODNET_ROOT/cluster.json").unwrap();
    assert!(!c
        .sh(1, "test -f $PODNET_ROOT/cluster.json")
        .status
        .success());
    // A node added later, and agents joining from their own namespaces.
    let third = c.add_node().unwrap();
    assert_eq!(c.node(third).ip, "198.18.0.13");
    for i in 0..3 {
        c.start_agent(i, "--lease-ttl 2").unwrap();
    }
    for i in 0..3 {
        let key = format!("/podnet/v1/nodes/{}", c.node(i).name);
        c.wait_until(&format!("{key} in etcd"), Duration::from_secs(20), || {
            !testbed::stdout(&c.etcd.etcdctl(&["get", "--print-value-only", &key]))
                .trim()
                .is_empty()
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", c.log(i)));
        let rec = testbed::stdout(&c.etcd.etcdctl(&["get", "--print-value-only", &key]));
        assert!(rec.contains(&c.node(i).ip), "{rec}");
    }
    assert!(c.agent_alive(1));
    c.kill_agent(1).unwrap();
    assert!(!c.agent_alive(1));
    assert!(c.agent_alive(0) && c.agent_alive(2));
}
