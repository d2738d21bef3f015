//! Concurrency on a dual-stack network (issue 9): 50 concurrent `podnet run -d` get 50
//! distinct IPv6 (and IPv4) addresses with no error, and `podnet gc` racing dual-stack
//! `run -d` loses nothing. Checked against the kernel (`ip -j` in each container, real
//! connections over both families) and with the store/kernel invariants.

mod common;

use common::invariants::{assert_consistent, assert_consistent_once_settled};
use common::*;
use ipnet::Ipv6Net;
use podnet::testbed::Sandbox;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::Ipv6Addr;

const NET: &str = "dual";

fn setup() -> Sandbox {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", NET, "--ipv6"]);
    sb
}

fn run_args(name: &str) -> Vec<String> {
    idle_args(name, &["--network", NET])
}

/// Asserts the running containers are exactly `names`, each with distinct addresses of both
/// families inside the network's subnets, each address on its eth0 (the kernel's view), and
/// each answering the host over IPv6 and IPv4; then the store/kernel invariants.
fn assert_all_whole(sb: &Sandbox, names: &BTreeSet<String>) {
    let info = net_inspect(sb, NET);
    let subnet = net(s(&info, "subnet"));
    let subnet6: Ipv6Net = s(&info, "subnet6").parse().unwrap();
    let gw6: Ipv6Addr = s(&info, "gateway6").parse().unwrap();
    let listed = ps(sb);
    let got: BTreeSet<String> = listed.iter().map(|c| s(c, "name").to_string()).collect();
    assert_eq!(&got, names, "ps: {listed:?}");
    let ip6s: BTreeSet<String> = listed.iter().map(|c| s(c, "ip6").to_string()).collect();
    let ips: BTreeSet<String> = listed.iter().map(|c| s(c, "ip").to_string()).collect();
    assert_eq!(
        ip6s.len(),
        names.len(),
        "IPv6 addresses not distinct: {listed:?}"
    );
    assert_eq!(
        ips.len(),
        names.len(),
        "IPv4 addresses not distinct: {listed:?}"
    );
    for c in &listed {
        assert_eq!(s(c, "status"), "running", "{c}");
        let ip6: Ipv6Addr = s(c, "ip6").parse().unwrap();
        assert!(
            subnet6.contains(&ip6) && ip6 != gw6,
            "{c} ip6 not in {subnet6}"
        );
        assert!(subnet.contains(&ipv4(s(c, "ip"))), "{c} outside {subnet}");
        let addrs = ip_json_in(sb, s(c, "netns"), &["addr"]);
        let eth0: Vec<String> = common::v6::v6_addrs(&addrs, "eth0")
            .into_iter()
            .map(|(a, _, _)| a)
            .collect();
        assert_eq!(eth0, [s(c, "ip6")], "{}: {addrs}", s(c, "name"));
        assert_eq!(
            v4_addrs(&addrs, "eth0").first().map(|n| n.addr()),
            Some(ipv4(s(c, "ip"))),
            "{}: {addrs}",
            s(c, "name")
        );
    }
    // Real packets over both families (a RST from a closed port counts).
    let mut reach = nettool(sb);
    reach
        .arg("reach")
        .args(&ip6s)
        .args(&ips)
        .args(["--port", "9"]);
    ok("reach every container over IPv6 and IPv4", output(reach));
    assert_consistent(sb, "after the concurrent commands");
}

#[test]
fn fifty_concurrent_run_d_on_a_dual_stack_network_get_fifty_ipv6_addresses() {
    let sb = setup();
    let names: BTreeSet<String> = (0..50).map(|i| format!("c{i}")).collect();
    let cmds: Vec<Vec<String>> = names.iter().map(|n| run_args(n)).collect();
    all_succeed_at_once(&sb, "podnet run -d", &cmds);
    assert_all_whole(&sb, &names);
    // And all go at once: both leases of each are free again.
    let rms: Vec<Vec<String>> = names
        .iter()
        .map(|n| ["rm", "-f", n].map(String::from).to_vec())
        .collect();
    all_succeed_at_once(&sb, "podnet rm -f", &rms);
    let info = net_inspect(&sb, NET);
    assert_eq!(info["containers"], Value::Array(vec![]), "{info}");
    assert_consistent_once_settled(&sb, "after the concurrent rm -f");
}

/// `gc` runs while dual-stack containers are being created: each is either left whole or
/// (never here: their `run -d` processes are alive) torn down whole; nothing is lost.
#[test]
fn gc_racing_dual_stack_run_d_loses_nothing() {
    let sb = setup();
    let names: BTreeSet<String> = (0..20).map(|i| format!("r{i}")).collect();
    let mut cmds: Vec<Vec<String>> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        cmds.push(run_args(n));
        if i % 4 == 0 {
            cmds.push(vec!["gc".into()]);
        }
    }
    all_succeed_at_once(&sb, "podnet run -d and gc", &cmds);
    assert_all_whole(&sb, &names);
    // A gc afterwards finds nothing to repair and changes nothing.
    let before = ps(&sb);
    podnet_ok(&sb, &["gc"]);
    assert_eq!(ps(&sb), before);
    assert_all_whole(&sb, &names);
}
