//! Issue 11's control plane end to end: node agents (each with its own state root) in one
//! sandbox with a real 3-member etcd. Views: etcd through etcdctl, each agent's followed
//! peers (its `cluster-peers.json`, what the overlay will install), its log.

mod common;

use common::cluster::{
    alive, cluster_etcd, keys, kill9, log, node_in_etcd, podnet_as, spawn_agent, start_node,
    wait_peers, TTL,
};
use common::{assert_error, sandbox};
use podnet::testbed::{self, Etcd};
use std::time::Duration;

/// Long enough for a lease to expire and every watcher to hear of it on a busy machine.
fn after_ttl() -> Duration {
    Duration::from_secs(TTL + 15)
}

fn subnet(etcd: &Etcd, node: &str) -> String {
    node_in_etcd(etcd, node).unwrap_or_else(|| panic!("{node} not in etcd"))["subnet"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn three_nodes_join_with_distinct_subnets_a_killed_one_goes_and_comes_back_to_its_subnet() {
    let sb = sandbox();
    let etcd = cluster_etcd(&sb, 3);
    let n1 = start_node(&sb, &etcd, "n1", "192.168.50.1");
    let n2 = start_node(&sb, &etcd, "n2", "192.168.50.2");
    let _n3 = start_node(&sb, &etcd, "n3", "192.168.50.3");
    let all = ["n1", "n2", "n3"];
    wait_peers(&sb, &all, &all, Duration::from_secs(10));
    let subnets: Vec<String> = all.iter().map(|n| subnet(&etcd, n)).collect();
    let mut distinct = subnets.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{subnets:?}");
    for s in &subnets {
        let net: ipnet::Ipv4Net = s.parse().unwrap();
        assert_eq!(net.prefix_len(), 24);
        assert!("10.244.0.0/16"
            .parse::<ipnet::Ipv4Net>()
            .unwrap()
            .contains(&net));
    }
    // `node ls` from any node shows all three (JSON, compared with etcd's view).
    let out = podnet_as(&sb, "n3", &["node", "ls", "--format", "json"]);
    assert!(out.status.success(), "{}", testbed::describe(&out));
    let listed: serde_json::Value = serde_json::from_str(&testbed::stdout(&out)).unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (row, name) in rows.iter().zip(all) {
        assert_eq!(row["name"], name);
        assert_eq!(row["subnet"], subnet(&etcd, name).as_str());
    }
    let out = podnet_as(&sb, "n1", &["node", "inspect", "n2"]);
    assert!(
        testbed::stdout(&out).contains(&subnets[1]),
        "{}",
        testbed::describe(&out)
    );
    // The subnet key is etcd's record of who holds it, bound to the same lease.
    let k = keys(&etcd);
    assert!(
        k.contains(&format!(
            "/podnet/v1/subnets/{}",
            subnets[1].replace('/', "-")
        )),
        "{k:?}"
    );

    // kill -9 n2's agent: after the TTL the others' watch drops it, and etcd holds nothing of it.
    kill9(&sb, n2);
    wait_peers(&sb, &["n1", "n3"], &["n1", "n3"], after_ttl());
    assert_eq!(node_in_etcd(&etcd, "n2"), None);
    assert!(!keys(&etcd)
        .iter()
        .any(|k| k.contains(&subnets[1].replace('/', "-"))));
    assert!(
        log(&sb, "n1").contains("node n2 is gone"),
        "{}",
        log(&sb, "n1")
    );
    // It returns (same state root): same subnet, and everyone follows it again.
    start_node(&sb, &etcd, "n2", "192.168.50.2");
    assert_eq!(subnet(&etcd, "n2"), subnets[1]);
    wait_peers(&sb, &all, &all, Duration::from_secs(10));
    assert!(alive(&sb, n1));
}

#[test]
fn a_node_back_after_its_subnet_went_to_another_gets_a_new_one_and_says_so() {
    let sb = sandbox();
    let etcd = cluster_etcd(&sb, 1);
    let a = start_node(&sb, &etcd, "a", "192.168.50.1");
    let held = subnet(&etcd, "a");
    kill9(&sb, a);
    sb.wait_until("a's lease to expire", after_ttl(), || {
        node_in_etcd(&etcd, "a").is_none()
    })
    .unwrap();
    // b takes the first free subnet: the one a held.
    start_node(&sb, &etcd, "b", "192.168.50.2");
    assert_eq!(subnet(&etcd, "b"), held);
    start_node(&sb, &etcd, "a", "192.168.50.1");
    let now = subnet(&etcd, "a");
    assert_ne!(now, held, "a reclaimed b's subnet");
    let text = log(&sb, "a");
    assert!(
        text.contains(&format!(
            "the subnet it held before, {held}, now belongs to node b; it took {now} instead"
        )),
        "{text}"
    );
    wait_peers(&sb, &["a", "b"], &["a", "b"], Duration::from_secs(10));
    // b keeps its subnet; a's record says what happened, seen from any node.
    assert_eq!(subnet(&etcd, "b"), held);
    let out = podnet_as(&sb, "b", &["node", "inspect", "a", "--format", "json"]);
    assert!(out.status.success(), "{}", testbed::describe(&out));
    let v: serde_json::Value = serde_json::from_str(&testbed::stdout(&out)).unwrap();
    assert_eq!(v["subnet"], now.as_str());
    assert_eq!(v["previous_subnet"], held.as_str());
    assert_eq!(v["previous_subnet_held_by"], "b");
    let out = podnet_as(&sb, "b", &["node", "inspect", "a"]);
    assert!(
        testbed::stdout(&out).contains(&format!("now belongs to node b; it took {now} instead")),
        "{}",
        testbed::describe(&out)
    );
    let out = podnet_as(&sb, "a", &["node", "inspect", "b", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&testbed::stdout(&out)).unwrap();
    assert_eq!(v.get("previous_subnet"), None, "{v}");
}

#[test]
fn a_join_is_refused_when_the_pod_cidr_overlaps_a_route_of_the_node() {
    let sb = sandbox();
    let etcd = cluster_etcd(&sb, 1);
    let eps = etcd.endpoints();
    let args = [
        "agent",
        "--foreground",
        "--lease-ttl",
        "2",
        "--etcd",
        &eps,
        "--node",
        "x",
        "--underlay",
        "192.168.50.9",
    ];
    // (what the node routes to, the route the one-line error names)
    let table: [(&str, &str); 3] = [
        // A LAN inside the pod CIDR.
        (
            "ip link add lan0 type veth peer name lan0p && ip link set lan0p up && ip link set lan0 up && ip addr add 10.244.77.1/24 dev lan0",
            "route to 10.244.77.0/24 dev lan0",
        ),
        // A VPN route around it.
        (
            "ip link add vpn0 type veth peer name vpn0p && ip link set vpn0p up && ip link set vpn0 up && ip route add 10.0.0.0/8 dev vpn0",
            "route to 10.0.0.0/8 dev vpn0",
        ),
        // The whole pod CIDR, through a gateway of the node's LAN.
        (
            "ip link add eth9 type veth peer name eth9p && ip link set eth9p up && ip link set eth9 up && ip addr add 192.168.60.1/24 dev eth9 && ip route add 10.244.0.0/16 via 192.168.60.254",
            "route to 10.244.0.0/16 dev eth9",
        ),
    ];
    for (setup, text) in table {
        sb.sh_ok(setup).unwrap_or_else(|e| panic!("{e}"));
        let out = podnet_as(&sb, "x", &args);
        assert_error(setup, &out, 2, text);
        assert!(
            testbed::stderr(&out).contains("pod CIDR 10.244.0.0/16 overlaps"),
            "{}",
            testbed::describe(&out)
        );
        // Nothing half-made: no key in etcd, no cluster record on the node.
        assert_eq!(keys(&etcd), ["/podnet/v1/config"], "{setup}");
        assert!(
            !sb.sh("test -e /run/nodes/x/root/cluster.json")
                .status
                .success(),
            "{setup}"
        );
        sb.sh_ok("ip link del lan0 2>/dev/null; ip link del vpn0 2>/dev/null; ip link del eth9 2>/dev/null; true")
            .unwrap();
    }
    // The routes gone, the same node joins.
    start_node(&sb, &etcd, "x", "192.168.50.9");
}

#[test]
fn a_name_held_by_a_live_node_is_refused_and_nothing_changes() {
    let sb = sandbox();
    let etcd = cluster_etcd(&sb, 1);
    start_node(&sb, &etcd, "n1", "192.168.50.1");
    let before = node_in_etcd(&etcd, "n1").unwrap();
    let keys_before = keys(&etcd);
    let eps = etcd.endpoints();
    // (args, exit code, text in the one-line error)
    let table: [(Vec<&str>, i32, &str); 4] = [
        (
            vec!["--etcd", &eps, "--node", "n1", "--underlay", "192.168.50.9"],
            2,
            "held by a live node",
        ),
        (
            vec![
                "--etcd",
                &eps,
                "--node",
                "n/1",
                "--underlay",
                "192.168.50.9",
            ],
            2,
            "--node",
        ),
        (
            vec!["--etcd", &eps, "--node", "x", "--underlay", "nosuchif0"],
            2,
            "--underlay",
        ),
        (
            vec![
                "--etcd",
                "http://127.0.0.1:1",
                "--node",
                "x",
                "--underlay",
                "192.168.50.9",
            ],
            1,
            "unreachable",
        ),
    ];
    for (args, code, text) in table {
        let mut all = vec!["agent", "--foreground", "--lease-ttl", "2"];
        all.extend_from_slice(&args);
        let out = podnet_as(&sb, "other", &all);
        assert_error(&format!("{args:?}"), &out, code, text);
        assert_eq!(node_in_etcd(&etcd, "n1"), Some(before.clone()));
        assert_eq!(keys(&etcd), keys_before, "{args:?}");
        assert!(
            !sb.sh("test -e /run/nodes/other/root/cluster.json")
                .status
                .success(),
            "{args:?}"
        );
    }
}

#[test]
fn an_agent_restarted_within_its_ttl_keeps_its_lease_and_subnet() {
    let sb = sandbox();
    let etcd = cluster_etcd(&sb, 1);
    let n1 = start_node(&sb, &etcd, "n1", "192.168.50.1");
    let lease = |etcd: &Etcd| {
        let j = etcd
            .etcdctl_ok(&["get", "/podnet/v1/nodes/n1", "-w", "json"])
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&j).unwrap()["kvs"][0]["lease"].clone()
    };
    let (held, l0) = (subnet(&etcd, "n1"), lease(&etcd));
    kill9(&sb, n1);
    // Back at once, with a new VTEP MAC (a re-created device): same lease, MAC updated.
    let pid = spawn_agent(&sb, "n1", "--vtep-mac 0e:11:22:33:44:55");
    sb.wait_until("n1's new MAC in etcd", Duration::from_secs(10), || {
        node_in_etcd(&etcd, "n1").is_some_and(|v| v["vtep_mac"] == "0e:11:22:33:44:55")
            || !alive(&sb, pid)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&sb, "n1")));
    assert_eq!(
        lease(&etcd),
        l0,
        "a new lease: peers saw the node go and come"
    );
    assert_eq!(subnet(&etcd, "n1"), held);
}
