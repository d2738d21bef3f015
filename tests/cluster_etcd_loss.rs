//! Issue 11, acceptance 5 at the control plane: etcd losing a member, losing its quorum,
//! stopping entirely, and one node's agent cut off from it. Agents run as in
//! tests/cluster_nodes.rs (their own state roots, one sandbox, a real 3-member etcd); the
//! views are etcd through etcdctl, each agent's followed peers and its log.

mod common;

use common::cluster::{
    alive, cluster_etcd, kill9, lease_of, log, make_leader, node_in_etcd, peers, spawn_agent,
    start_node, wait_peers, TTL,
};
use common::sandbox;
use std::time::Duration;

/// Long enough for a lease to expire and every watcher to hear of it on a busy machine.
fn after_ttl() -> Duration {
    Duration::from_secs(TTL + 15)
}

/// Nothing in `node`'s log says a node went or that its own lease was lost.
fn assert_no_removal(sb: &podnet::testbed::Sandbox, node: &str, others: &[&str]) {
    let text = log(sb, node);
    for o in others {
        assert!(
            !text.contains(&format!("node {o} is gone")),
            "{node} saw {o} go:\n{text}"
        );
    }
    assert!(
        !text.contains("joining again"),
        "{node} lost its lease:\n{text}"
    );
}

#[test]
fn etcd_member_loss_goes_unnoticed_and_a_full_outage_is_survived_then_resynced() {
    let sb = sandbox();
    let mut etcd = cluster_etcd(&sb, 3);
    let p1 = start_node(&sb, &etcd, "n1", "192.168.50.1");
    let p2 = start_node(&sb, &etcd, "n2", "192.168.50.2");
    wait_peers(&sb, &["n1", "n2"], &["n1", "n2"], Duration::from_secs(10));
    let leases = [lease_of(&etcd, "n1"), lease_of(&etcd, "n2")];
    // The worst member to lose: the leader (an election follows) that is also every
    // agent's first endpoint (their renewals and watches must move to another member).
    make_leader(&etcd, 0);
    etcd.kill(0).unwrap();
    // A join made now reaches both watchers.
    let n3 = start_node(&sb, &etcd, "n3", "192.168.50.3");
    let all = ["n1", "n2", "n3"];
    wait_peers(&sb, &all, &all, Duration::from_secs(10));
    // Several TTLs pass without the member: had a renewal not moved on, a lease would
    // have expired by now.
    std::thread::sleep(Duration::from_secs(3 * TTL));
    assert_eq!([lease_of(&etcd, "n1"), lease_of(&etcd, "n2")], leases);
    for n in all {
        assert_no_removal(&sb, n, &all);
    }
    assert_eq!(peers(&sb, "n1"), ["n2", "n3"]);
    etcd.start_member(0).unwrap();

    // All of etcd stopped for longer than the TTL: the agents keep running and keep the
    // nodes they knew (not "removed").
    etcd.stop_all().unwrap();
    sb.wait_until("the agents to notice", after_ttl(), || {
        log(&sb, "n1").contains("etcd is unreachable")
            && log(&sb, "n2").contains("etcd is unreachable")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&sb, "n1")));
    std::thread::sleep(Duration::from_secs(TTL + 1));
    assert!(alive(&sb, p1) && alive(&sb, p2));
    assert_eq!(peers(&sb, "n1"), ["n2", "n3"]);
    // While etcd is down n3's agent dies: after etcd returns, the others converge on that.
    kill9(&sb, n3);
    etcd.start_all().unwrap();
    wait_peers(&sb, &["n1", "n2"], &["n1", "n2"], after_ttl());
    // The live nodes' leases outlived the outage (etcd gives every lease a fresh TTL when
    // a leader is elected, and the agents renewed within it): nobody saw them go.
    assert_eq!([lease_of(&etcd, "n1"), lease_of(&etcd, "n2")], leases);
    assert_no_removal(&sb, "n1", &["n2"]);
    assert_no_removal(&sb, "n2", &["n1"]);
    // And a join after the outage reaches everyone.
    start_node(&sb, &etcd, "n4", "192.168.50.4");
    wait_peers(
        &sb,
        &["n1", "n2", "n4"],
        &["n1", "n2", "n4"],
        Duration::from_secs(10),
    );
}

/// The agent used to exit when its join met a transient error (right after a member died,
/// during an election): it must wait, and join when etcd can serve again.
#[test]
fn an_agent_started_while_etcd_has_no_quorum_waits_and_joins_when_it_returns() {
    let sb = sandbox();
    let mut etcd = cluster_etcd(&sb, 3);
    // One member of three left: it accepts connections but cannot serve anything.
    etcd.kill(1).unwrap();
    etcd.kill(2).unwrap();
    let pid = spawn_agent(
        &sb,
        "n1",
        &format!(
            "--etcd {} --node n1 --underlay 192.168.50.1 --lease-ttl {TTL}",
            etcd.endpoints()
        ),
    );
    sb.wait_until("the agent to retry", Duration::from_secs(30), || {
        log(&sb, "n1").contains("retrying") || !alive(&sb, pid)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&sb, "n1")));
    assert!(alive(&sb, pid), "agent exited:\n{}", log(&sb, "n1"));
    assert_eq!(node_in_etcd(&etcd, "n1"), None);
    etcd.start_all().unwrap();
    sb.wait_until("n1 in etcd", Duration::from_secs(30), || {
        node_in_etcd(&etcd, "n1").is_some() || !alive(&sb, pid)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&sb, "n1")));
    assert!(alive(&sb, pid), "agent exited:\n{}", log(&sb, "n1"));
    // It serves the cluster like any node: a later node sees it.
    start_node(&sb, &etcd, "n2", "192.168.50.2");
    wait_peers(&sb, &["n1", "n2"], &["n1", "n2"], Duration::from_secs(10));

    // A node that joined before, restarted (same state root, no flags) while all of etcd is
    // down, waits too, and gets its lease and subnet back: nobody saw it go.
    let (lease, subnet) = (lease_of(&etcd, "n1"), node_in_etcd(&etcd, "n1"));
    kill9(&sb, pid);
    etcd.stop_all().unwrap();
    let count = |what: &str| log(&sb, "n1").matches(what).count();
    let (retries, joins) = (count("retrying"), count("joined as node n1"));
    let pid = spawn_agent(&sb, "n1", "");
    sb.wait_until(
        "the restarted agent to retry",
        Duration::from_secs(30),
        || count("retrying") > retries || !alive(&sb, pid),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&sb, "n1")));
    assert!(alive(&sb, pid), "agent exited:\n{}", log(&sb, "n1"));
    etcd.start_all().unwrap();
    sb.wait_until("n1 to join again", Duration::from_secs(30), || {
        count("joined as node n1") > joins || !alive(&sb, pid)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&sb, "n1")));
    assert_eq!(lease_of(&etcd, "n1"), lease);
    assert_eq!(node_in_etcd(&etcd, "n1"), subnet);
    wait_peers(&sb, &["n1", "n2"], &["n1", "n2"], Duration::from_secs(10));
    assert_no_removal(&sb, "n2", &["n1"]);
}

/// One agent loses etcd (its only endpoint dies) while the rest of the cluster goes on:
/// it keeps what it knew, nobody removes it (its lease outlives the cut), and once its
/// etcd returns it catches up with the node that joined meanwhile.
#[test]
fn an_agent_cut_off_from_etcd_keeps_its_peers_and_catches_up_when_it_returns() {
    let sb = sandbox();
    let mut etcd = cluster_etcd(&sb, 3);
    let only_m1 = etcd.urls()[0].clone();
    let p1 = spawn_agent(
        &sb,
        "n1",
        &format!("--etcd {only_m1} --node n1 --underlay 192.168.50.1 --lease-ttl 30"),
    );
    sb.wait_until("n1 in etcd", Duration::from_secs(20), || {
        node_in_etcd(&etcd, "n1").is_some() || !alive(&sb, p1)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&sb, "n1")));
    start_node(&sb, &etcd, "n2", "192.168.50.2");
    wait_peers(&sb, &["n1", "n2"], &["n1", "n2"], Duration::from_secs(10));
    let lease = lease_of(&etcd, "n1");
    etcd.kill(0).unwrap();
    sb.wait_until("n1 to notice", after_ttl(), || {
        log(&sb, "n1").contains("etcd is unreachable")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log(&sb, "n1")));
    // n3 joins while n1 is cut off: n2 sees it, n1 cannot, and nobody loses n1.
    start_node(&sb, &etcd, "n3", "192.168.50.3");
    let all = ["n1", "n2", "n3"];
    wait_peers(&sb, &["n2", "n3"], &all, Duration::from_secs(10));
    assert_eq!(peers(&sb, "n1"), ["n2"]);
    assert!(alive(&sb, p1), "{}", log(&sb, "n1"));
    // Its etcd returns: it converges, on the lease it had.
    etcd.start_member(0).unwrap();
    wait_peers(&sb, &["n1"], &all, after_ttl());
    assert_eq!(lease_of(&etcd, "n1"), lease);
    for n in all {
        assert_no_removal(&sb, n, &all);
    }
}
