//! Acceptance 1: containers on the default network `podnet0`.

mod common;

use common::*;
use podnet::testbed::Sandbox;
use serde_json::Value;

/// Checks one container's kernel state from independent views (`ip -j` in its netns).
fn check_container(sb: &Sandbox, c: &Value, subnet: &ipnet::Ipv4Net, gw: &str) {
    let name = s(c, "name");
    let ip = ipv4(s(c, "ip"));
    let netns = s(c, "netns");
    assert!(subnet.contains(&ip), "{name}: ip {ip} not in {subnet}");
    assert_eq!(s(c, "network"), "podnet0", "{c}");
    assert_eq!(s(c, "gateway"), gw, "{c}");
    assert_eq!(s(c, "status"), "running", "{c}");
    // Inside: eth0 holds the address with the subnet's prefix, lo is up.
    let addrs = ip_json_in(sb, netns, &["addr"]);
    let eth0 = v4_addrs(&addrs, "eth0");
    assert_eq!(eth0.len(), 1, "{name}: eth0 addresses: {addrs}");
    assert_eq!(eth0[0].addr(), ip, "{name}: {addrs}");
    assert_eq!(eth0[0].prefix_len(), subnet.prefix_len(), "{name}: {addrs}");
    let lo = as_list(addrs.clone())
        .into_iter()
        .find(|l| l["ifname"] == "lo")
        .unwrap_or_else(|| panic!("{name}: no lo: {addrs}"));
    assert!(
        lo["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "{name}: lo down: {lo}"
    );
    // Inside: default route via the gateway on eth0.
    let routes = ip_json_in(sb, netns, &["route"]);
    let default = as_list(routes.clone())
        .into_iter()
        .find(|r| r["dst"] == "default")
        .unwrap_or_else(|| panic!("{name}: no default route: {routes}"));
    assert_eq!(default["gateway"], gw, "{name}: {routes}");
    assert_eq!(default["dev"], "eth0", "{name}: {routes}");
    // Host: the host veth is pnv*, enslaved to podnet0 and up.
    let veth = s(c, "host_veth");
    assert!(veth.starts_with("pnv"), "{name}: host veth {veth:?}");
    let link = ip_json(sb, &["link", "show", "dev", veth]);
    assert_eq!(link[0]["master"], "podnet0", "{name}: {link}");
    assert!(
        link[0]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "UP"),
        "{name}: host veth down: {link}"
    );
}

#[test]
fn two_containers_on_podnet0_talk_both_ways_and_reach_the_gateway() {
    let sb = sandbox();
    let a = run_server(&sb, "a", &[], 7000, "from-a saw {peer}");
    let b = run_server(&sb, "b", &[], 7000, "from-b saw {peer}");

    // The default network exists now, with a bridge holding the gateway.
    let info = net_inspect(&sb, "podnet0");
    assert_eq!(s(&info, "bridge"), "podnet0", "{info}");
    let subnet = net(s(&info, "subnet"));
    let gw = s(&info, "gateway").to_string();
    let first_host = subnet.hosts().next().unwrap();
    assert_eq!(
        ipv4(&gw),
        first_host,
        "gateway is the first host address: {info}"
    );
    let br = ip_json(&sb, &["addr", "show", "dev", "podnet0"]);
    assert!(
        v4_addrs(&br, "podnet0")
            .iter()
            .any(|n| n.addr() == ipv4(&gw) && n.prefix_len() == subnet.prefix_len()),
        "bridge podnet0 lacks {gw}/{}: {br}",
        subnet.prefix_len()
    );
    let mut members: Vec<String> = as_list(info["containers"].clone())
        .iter()
        .map(|c| s(c, "name").to_string())
        .collect();
    members.sort();
    assert_eq!(members, vec!["a", "b"], "{info}");

    check_container(&sb, &a, &subnet, &gw);
    check_container(&sb, &b, &subnet, &gw);
    let (ip_a, ip_b) = (s(&a, "ip").to_string(), s(&b, "ip").to_string());
    assert_ne!(ip_a, ip_b);
    assert_ne!(s(&a, "host_veth"), s(&b, "host_veth"));

    // TCP both ways, from inside each container's namespace.
    let (ns_a, ns_b) = (s(&a, "netns"), s(&b, "netns"));
    assert_eq!(
        tcp_reply(&sb, Some(ns_a), &ip_b, 7000),
        format!("from-b saw {ip_a}")
    );
    assert_eq!(
        tcp_reply(&sb, Some(ns_b), &ip_a, 7000),
        format!("from-a saw {ip_b}")
    );

    // UDP too, a's namespace to b.
    sb.serve(Some(ns_b), "udp", "0.0.0.0", 7002, "udp-b saw {peer}")
        .unwrap();
    let mut udp = nettool_in(&sb, ns_a);
    udp.args(["connect", "udp", &ip_b, "7002", "--count", "3"]);
    let replies = ok("udp a -> b", output(udp));
    assert_eq!(
        replies.lines().collect::<Vec<_>>(),
        vec![format!("udp-b saw {ip_a}"); 3]
    );

    // Each reaches a server on the gateway address in the host namespace.
    sb.serve(None, "tcp", &gw, 7001, "gateway saw {peer}")
        .unwrap();
    assert_eq!(
        tcp_reply(&sb, Some(ns_a), &gw, 7001),
        format!("gateway saw {ip_a}")
    );
    assert_eq!(
        tcp_reply(&sb, Some(ns_b), &gw, 7001),
        format!("gateway saw {ip_b}")
    );
    // And the host reaches each container.
    assert_eq!(
        tcp_reply(&sb, None, &ip_a, 7000),
        format!("from-a saw {gw}")
    );
}

#[test]
fn exec_runs_in_the_container_namespace() {
    let sb = sandbox();
    let a = run_server(&sb, "a", &[], 7000, "a");
    let out = podnet_ok(
        &sb,
        &["exec", "a", "--", "ip", "-j", "addr", "show", "dev", "eth0"],
    );
    let addrs = parse("podnet exec a -- ip -j addr", &out);
    assert_eq!(v4_addrs(&addrs, "eth0")[0].addr(), ipv4(s(&a, "ip")));
    let mut args = vec!["exec".to_string(), "a".into(), "--".into()];
    args.extend(nettool_argv());
    args.extend(["connect", "tcp", "127.0.0.1", "7000"].map(String::from));
    assert_eq!(ok("exec nettool", sb.podnet(&args)).trim(), "a");
}

#[test]
fn listings_have_the_documented_json_shape() {
    let sb = sandbox();
    run_server(&sb, "web", &[], 7000, "web");
    let nets = networks(&sb);
    let n = nets
        .iter()
        .find(|n| n["name"] == "podnet0")
        .unwrap_or_else(|| panic!("{nets:?}"));
    for key in ["name", "bridge", "subnet", "gateway", "mtu", "containers"] {
        assert!(n.get(key).is_some(), "network ls lacks {key}: {n}");
    }
    assert_eq!(n["containers"], 1, "{n}");
    net(s(n, "subnet"));
    ipv4(s(n, "gateway"));
    let ps = ps(&sb);
    assert_eq!(ps.len(), 1, "{ps:?}");
    for key in ["name", "mode", "network", "ip", "pid", "status", "netns"] {
        assert!(ps[0].get(key).is_some(), "ps lacks {key}: {}", ps[0]);
    }
    assert_eq!(ps[0]["status"], "running");
    ipv4(s(&ps[0], "ip"));
    let c = inspect(&sb, "web");
    for key in [
        "name",
        "mode",
        "network",
        "ip",
        "gateway",
        "host_veth",
        "netns",
        "pid",
        "status",
    ] {
        assert!(c.get(key).is_some(), "inspect lacks {key}: {c}");
    }
    let ni = net_inspect(&sb, "podnet0");
    assert_eq!(ni["containers"][0]["name"], "web", "{ni}");
    assert_eq!(ni["containers"][0]["ip"], c["ip"], "{ni}");
    // Table output works too.
    let table = podnet_ok(&sb, &["ps"]);
    assert!(table.contains("web"), "{table}");
}
