//! Issue 9, acceptance 1: two dual-stack containers talk TCP over IPv6 both ways and reach
//! their gateway (the host's bridge); `ip -6 route` in each shows the default route via the
//! IPv6 gateway; addresses are usable the moment `run` returns (no DAD wait: a foreground
//! container connecting at once succeeds). `inspect`, `ps` and `network inspect` show both
//! families.

mod common;

use common::v6::{run_server6, v6_addrs, v6_defaults};
use common::*;

#[test]
fn dual_stack_containers_talk_tcp_over_ipv6_both_ways_and_reach_the_gateway() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "web",
            "--ipv6",
            "--subnet",
            "10.90.0.0/24",
            "--subnet",
            "fd00:90::/64",
        ],
    );
    let a = run_server6(&sb, "a", &["--network", "web"], 80, "A-{peer}");
    let b = run_server6(
        &sb,
        "b",
        &["--network", "web", "--ip6", "fd00:90::9"],
        80,
        "B-{peer}",
    );
    assert_eq!((s(&a, "ip"), s(&a, "ip6")), ("10.90.0.2", "fd00:90::2"));
    assert_eq!(
        (s(&b, "ip6"), s(&b, "gateway6")),
        ("fd00:90::9", "fd00:90::1")
    );
    for c in [&a, &b] {
        let ns = s(c, "netns");
        let routes: Vec<(String, String)> = v6_defaults(&ip_json_in(&sb, ns, &["-6", "route"]))
            .into_iter()
            .map(|(gw, dev, _)| (gw, dev))
            .collect();
        assert_eq!(
            routes,
            vec![("fd00:90::1".to_string(), "eth0".to_string())],
            "{c}"
        );
        let addrs = v6_addrs(&ip_json_in(&sb, ns, &["addr"]), "eth0");
        assert_eq!(
            addrs.len(),
            1,
            "eth0 has its one IPv6 address and no other: {addrs:?}"
        );
        let (ip, prefix, flags) = &addrs[0];
        assert_eq!((ip.as_str(), *prefix), (s(c, "ip6"), 64));
        assert_eq!(
            flags,
            &vec!["nodad".to_string()],
            "usable at once, never tentative"
        );
        // IPv4 as before.
        let v4 = ip_json_in(&sb, ns, &["route"]);
        assert!(as_list(v4)
            .iter()
            .any(|r| r["dst"] == "default" && r["gateway"] == "10.90.0.1"));
    }
    // Both ways over IPv6, each seeing the other's own address.
    assert_eq!(
        tcp_reply(&sb, Some(s(&a, "netns")), "fd00:90::9", 80),
        "B-fd00:90::2"
    );
    assert_eq!(
        tcp_reply(&sb, Some(s(&b, "netns")), "fd00:90::2", 80),
        "A-fd00:90::9"
    );
    // And over IPv4, as before, on the same sockets.
    assert_eq!(
        tcp_reply(&sb, Some(s(&a, "netns")), "10.90.0.3", 80),
        "B-::ffff:10.90.0.2"
    );
    // The gateway: a server on the host bound to the bridge's IPv6 address.
    let mut serve = nettool(&sb);
    serve.args([
        "serve",
        "tcp",
        "81",
        "--bind",
        "fd00:90::1",
        "--reply",
        "G-{peer}",
    ]);
    sb.spawn(serve).unwrap();
    assert_eq!(
        tcp_reply(&sb, Some(s(&a, "netns")), "fd00:90::1", 81),
        "G-fd00:90::2"
    );
    // Usable the moment run returns: the command connects at once, without retrying.
    let mut argv: Vec<String> = ["run", "--network", "web", "--"].map(String::from).to_vec();
    argv.extend(nettool_argv());
    argv.extend(["connect", "tcp", "fd00:90::9", "80", "--timeout", "5"].map(String::from));
    let out = ok("a connection as the container starts", sb.podnet(&argv));
    assert_eq!(out.trim(), "B-fd00:90::3");

    // Listings show both families.
    let row = ps(&sb).into_iter().find(|r| r["name"] == "a").unwrap();
    assert_eq!((s(&row, "ip"), s(&row, "ip6")), ("10.90.0.2", "fd00:90::2"));
    let table = podnet_ok(&sb, &["ps"]);
    assert!(table.contains("10.90.0.2,fd00:90::2"), "{table}");
    let n = net_inspect(&sb, "web");
    assert_eq!(
        (s(&n, "subnet"), s(&n, "subnet6")),
        ("10.90.0.0/24", "fd00:90::/64")
    );
    assert_eq!(
        (s(&n, "gateway6"), n["ipv6_nat"].as_bool()),
        ("fd00:90::1", Some(true))
    );
    assert_eq!(n["ip6_forward"].as_bool(), Some(true));
    let members = n["containers"].as_array().unwrap();
    assert!(
        members
            .iter()
            .any(|m| m["name"] == "b" && m["ip6"] == "fd00:90::9"),
        "{n}"
    );
    // An IPv4-only network's views carry no IPv6 field.
    podnet_ok(&sb, &["network", "create", "v4"]);
    let v4 = net_inspect(&sb, "v4");
    for key in ["subnet6", "gateway6", "ipv6_nat", "ip6_forward"] {
        assert!(v4.get(key).is_none(), "{key} in {v4}");
    }
}
