//! Acceptance 3: auto-picked subnets are distinct and avoid the host's routes.

mod common;

use common::*;
use ipnet::Ipv4Net;
use podnet::testbed::Sandbox;

fn subnet_of(sb: &Sandbox, network: &str) -> Ipv4Net {
    net(s(&net_inspect(sb, network), "subnet"))
}

fn is_private(n: &Ipv4Net) -> bool {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
        .iter()
        .any(|p| net(p).contains(n))
}

/// Routes of the sandbox's main table as networks (default route excluded).
fn routes(sb: &Sandbox) -> Vec<Ipv4Net> {
    as_list(ip_json(sb, &["route", "show", "table", "main"]))
        .iter()
        .filter(|r| r["dst"] != "default")
        .map(|r| {
            let dst = s(r, "dst");
            net(&if dst.contains('/') {
                dst.to_string()
            } else {
                format!("{dst}/32")
            })
        })
        .collect()
}

/// The first subnet podnet auto-picks on an empty host.
fn first_pick() -> Ipv4Net {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", "first"]);
    subnet_of(&sb, "first")
}

#[test]
fn user_networks_get_distinct_non_overlapping_private_subnets() {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", "n1"]);
    podnet_ok(&sb, &["network", "create", "n2"]);
    podnet_ok(&sb, &["run", "--", "true"]); // makes podnet0
    let subnets: Vec<(String, Ipv4Net)> = networks(&sb)
        .iter()
        .map(|n| (s(n, "name").to_string(), net(s(n, "subnet"))))
        .collect();
    let mut names: Vec<&str> = subnets.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, vec!["n1", "n2", "podnet0"], "{subnets:?}");
    for (i, (na, a)) in subnets.iter().enumerate() {
        assert!(is_private(a), "{na}: {a} is not RFC 1918");
        for (nb, b) in &subnets[i + 1..] {
            assert!(!overlaps(a, b), "{na} {a} overlaps {nb} {b}");
        }
    }
    // Each network's bridge holds its gateway, and the kernel routes agree.
    for (name, subnet) in &subnets {
        let info = net_inspect(&sb, name);
        let bridge = s(&info, "bridge");
        let addrs = ip_json(&sb, &["addr", "show", "dev", bridge]);
        let held = v4_addrs(&addrs, bridge);
        assert_eq!(
            held,
            vec![Ipv4Net::new(ipv4(s(&info, "gateway")), subnet.prefix_len()).unwrap()],
            "{name}: {addrs}"
        );
        assert!(
            routes(&sb).contains(subnet),
            "{name}: no route for {subnet}"
        );
    }
    let bridges: Vec<String> = networks(&sb)
        .iter()
        .map(|n| s(n, "bridge").to_string())
        .collect();
    assert!(bridges.contains(&"pn-n1".to_string()), "{bridges:?}");
    assert!(bridges.contains(&"pn-n2".to_string()), "{bridges:?}");
}

#[test]
fn auto_pick_skips_a_connected_route_over_the_first_pick() {
    let first = first_pick();
    let sb = sandbox();
    let host_addr = Ipv4Net::new(first.hosts().nth(1).unwrap(), first.prefix_len()).unwrap();
    sb.add_stub_link("lan9", &host_addr.to_string()).unwrap();
    podnet_ok(&sb, &["network", "create", "n1"]);
    let got = subnet_of(&sb, "n1");
    assert!(
        !overlaps(&got, &first),
        "{got} overlaps the LAN route {first}"
    );
    assert!(is_private(&got), "{got}");
    podnet_ok(&sb, &["run", "--", "true"]);
    let def = subnet_of(&sb, "podnet0");
    assert!(
        !overlaps(&def, &first),
        "podnet0 {def} overlaps the LAN route {first}"
    );
    assert!(!overlaps(&def, &got), "podnet0 {def} overlaps n1 {got}");
}

#[test]
fn auto_pick_skips_a_wide_route_covering_the_first_pick() {
    let first = first_pick();
    let wide = if first.prefix_len() > 16 {
        Ipv4Net::new(first.network(), 16).unwrap().trunc()
    } else {
        first
    };
    let sb = sandbox();
    sb.add_stub_link("lan9", "198.18.9.1/24").unwrap();
    ok(
        "ip route add",
        sb.sh(&format!("ip route add {wide} via 198.18.9.2 dev lan9")),
    );
    podnet_ok(&sb, &["network", "create", "n1"]);
    podnet_ok(&sb, &["network", "create", "n2"]);
    for n in ["n1", "n2"] {
        let got = subnet_of(&sb, n);
        assert!(
            !overlaps(&got, &wide),
            "{n} {got} overlaps the route {wide}"
        );
    }
}

#[test]
fn auto_pick_works_on_a_host_with_a_default_route() {
    // Every real host has a default route; it must not count as covering the pools.
    let sb = sandbox();
    sb.add_stub_link("lan9", "198.18.9.1/24").unwrap();
    ok(
        "default route",
        sb.sh("ip route add default via 198.18.9.2 dev lan9"),
    );
    podnet_ok(&sb, &["network", "create", "n1"]);
    assert!(is_private(&subnet_of(&sb, "n1")));
}

#[test]
fn explicit_subnet_gateway_mtu_and_bridge_are_honoured() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "custom",
            "--subnet",
            "10.201.7.0/24",
            "--gateway",
            "10.201.7.254",
            "--mtu",
            "1400",
            "--bridge",
            "br-custom",
        ],
    );
    let info = net_inspect(&sb, "custom");
    assert_eq!(s(&info, "subnet"), "10.201.7.0/24");
    assert_eq!(s(&info, "gateway"), "10.201.7.254");
    assert_eq!(info["mtu"], 1400);
    assert_eq!(s(&info, "bridge"), "br-custom");
    let c = run_server(
        &sb,
        "c",
        &["--network", "custom", "--ip", "10.201.7.9"],
        7000,
        "c",
    );
    assert_eq!(s(&c, "ip"), "10.201.7.9");
    let link = ip_json(&sb, &["link", "show", "dev", "br-custom"]);
    assert_eq!(link[0]["mtu"], 1400, "{link}");
    let eth0 = ip_json_in(&sb, s(&c, "netns"), &["link", "show", "dev", "eth0"]);
    assert_eq!(eth0[0]["mtu"], 1400, "{eth0}");
    sb.serve(None, "tcp", "10.201.7.254", 7001, "gw").unwrap();
    assert_eq!(
        tcp_reply(&sb, Some(s(&c, "netns")), "10.201.7.254", 7001),
        "gw"
    );
}

#[test]
fn long_network_names_get_a_pnbr_bridge() {
    let sb = sandbox();
    // pn- + 13 characters is longer than IFNAMSIZ-1; the name itself is valid (<= 15).
    podnet_ok(&sb, &["network", "create", "abcdefghijklm"]);
    let bridge = s(&net_inspect(&sb, "abcdefghijklm"), "bridge").to_string();
    assert!(bridge.starts_with("pnbr") && bridge.len() <= 15, "{bridge}");
    assert!(link_names(&sb).contains(&bridge));
}

/// Automatic allocation walks past an address taken earlier with `--ip` (and past the
/// gateway), and says so when the subnet is full. The addresses are read from the
/// containers' own `eth0` (`ip -j addr` inside each namespace), not from podnet.
#[test]
fn automatic_addresses_skip_one_taken_with_ip() {
    let sb = sandbox();
    // Hosts .1-.6; .1 is the gateway.
    podnet_ok(
        &sb,
        &["network", "create", "small", "--subnet", "10.77.0.0/29"],
    );
    let run = |name: &str, extra: &[&str]| {
        let mut a = vec!["run", "-d", "--name", name, "--network", "small"];
        a.extend(extra);
        a.extend(["--", "sleep", "infinity"]);
        podnet_ok(&sb, &a);
        let ns = s(&inspect(&sb, name), "netns").to_string();
        let addrs = v4_addrs(&ip_json_in(&sb, &ns, &["addr"]), "eth0");
        assert_eq!(addrs.len(), 1, "{name}: {addrs:?}");
        addrs[0].addr().to_string()
    };
    assert_eq!(run("fixed", &["--ip", "10.77.0.3"]), "10.77.0.3");
    let auto: Vec<String> = ["a", "b", "c", "d"].iter().map(|n| run(n, &[])).collect();
    assert_eq!(auto, ["10.77.0.2", "10.77.0.4", "10.77.0.5", "10.77.0.6"]);
    let out = sb.podnet([
        "run",
        "-d",
        "--name",
        "e",
        "--network",
        "small",
        "--",
        "sleep",
        "9",
    ]);
    assert_bad_input("run on a full subnet", &out, "no free address");
}
