//! Issue 9 acceptance 2, 3 and 4 through the CLI in a two-machine lab whose LAN carries
//! IPv6: NAT66 and routed (`--ipv6-nat=false`) egress to the outside machine, a published
//! port over IPv6 from outside, from the host on `[::1]` and from the container itself
//! (hairpin), a `[::1]`-only port unreachable from outside, isolation between two IPv6
//! networks and `--internal`. Every check is a real TCP exchange.

mod common;

use common::publish::*;
use common::v6::*;
use common::*;
use podnet::testbed::Lab;
use std::time::Duration;

/// The outside machine serves TCP 80 on IPv6, answering with the client's address.
fn outside_server(lab: &Lab) {
    let ready = format!("{}/out.ready", lab.outside.scratch());
    let mut c = lab.outside.cmd("sh");
    let tool = nettool_argv().join(" ");
    c.args([
        "-c",
        &format!("{tool} serve tcp 80 --bind :: --reply 'out/{{peer}}' --ready-file {ready} >/dev/null 2>&1 &"),
    ]);
    ok("outside server", output(c));
    let path = lab.outside.host_path(&ready);
    lab.outside
        .wait_until("outside server", Duration::from_secs(20), || path.exists())
        .unwrap();
}

fn ip6_of(info: &serde_json::Value) -> String {
    info["ip6"]
        .as_str()
        .unwrap_or_else(|| panic!("no ip6 in {info}"))
        .to_string()
}

/// Acceptance 2: the outside sees the host's address with NAT66 and the container's own
/// with `--ipv6-nat=false` (the outside routes that subnet to the host).
#[test]
fn ipv6_egress_nat66_and_routed() {
    let lab = lab6();
    outside_server(&lab);
    podnet_ok(&lab.host, &["network", "create", "nat", "--ipv6"]);
    podnet_ok(
        &lab.host,
        &[
            "network",
            "create",
            "routed",
            "--subnet",
            "10.77.0.0/24",
            "--subnet",
            "2001:db8:77::/64",
            "--ipv6-nat=false",
        ],
    );
    lab.outside
        .sh_ok(&format!("ip -6 route add 2001:db8:77::/64 via {HOST6}"))
        .unwrap();
    let a = run_idle(&lab.host, "a", &["--network", "nat"]);
    let b = run_idle(&lab.host, "b", &["--network", "routed"]);
    let _ = a;
    assert_eq!(
        reply(&lab, At::Container("a"), "tcp", OUTSIDE6, 80),
        format!("out/{HOST6}")
    );
    assert_eq!(
        reply(&lab, At::Container("b"), "tcp", OUTSIDE6, 80),
        format!("out/{}", ip6_of(&b))
    );
    // Only replies come in: the outside cannot open a connection to the routed container.
    run_server6(&lab.host, "c", &["--network", "routed"], 81, "c/{peer}");
    let c = inspect(&lab.host, "c");
    no_answer(&lab, At::Outside, "tcp", &ip6_of(&c), 81);
}

/// Acceptance 3.
#[test]
fn published_port_over_ipv6() {
    let lab = lab6();
    podnet_ok(&lab.host, &["network", "create", "web", "--ipv6"]);
    run_server6(
        &lab.host,
        "w",
        &[
            "--network",
            "web",
            "-p",
            "8080:80",
            "-p",
            "[::1]:8081:80",
            "-p",
            "0.0.0.0:8082:80",
        ],
        80,
        "w/{peer}",
    );
    let gw6 = net_inspect(&lab.host, "web")["gateway6"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        reply(&lab, At::Outside, "tcp", HOST6, 8080),
        format!("w/{OUTSIDE6}")
    );
    assert_eq!(
        reply(&lab, At::Host, "tcp", "::1", 8080),
        format!("w/{gw6}")
    );
    assert_eq!(
        reply(&lab, At::Host, "tcp", "::1", 8081),
        format!("w/{gw6}")
    );
    // Hairpin: the container through the host's IPv6 address.
    assert_eq!(
        reply(&lab, At::Container("w"), "tcp", HOST6, 8080),
        format!("w/{gw6}")
    );
    no_answer(&lab, At::Outside, "tcp", HOST6, 8081);
    no_answer(&lab, At::Outside, "tcp", HOST6, 8082);
    // The IPv4 side of the same ports, as before.
    assert!(reply(&lab, At::Outside, "tcp", HOST_IP, 8080).starts_with("w/"));
    assert!(reply(&lab, At::Outside, "tcp", HOST_IP, 8082).starts_with("w/"));
    let ps = podnet_ok(&lab.host, &["ps"]);
    assert!(ps.contains("[::1]:8081->80/tcp"), "{ps}");
    // podnet's eth0 has no link-local address (`addrgenmode none`): its IPv6 address is all
    // it sends from (the anti-spoofing elements also allow the EUI-64 link-local address of
    // its MAC, should it turn link-local generation on).
    let ll = podnet_ok(
        &lab.host,
        &[
            "exec", "w", "--", "ip", "-6", "-br", "addr", "show", "dev", "eth0", "scope", "link",
        ],
    );
    assert_eq!(ll.trim(), "", "a link-local address on eth0");
}

/// Acceptance 4: two IPv6 networks are isolated; `--internal` stops IPv6 egress.
#[test]
fn ipv6_isolation_and_internal() {
    let lab = lab6();
    outside_server(&lab);
    podnet_ok(&lab.host, &["network", "create", "n1", "--ipv6"]);
    podnet_ok(&lab.host, &["network", "create", "n2", "--ipv6"]);
    podnet_ok(
        &lab.host,
        &["network", "create", "inside", "--ipv6", "--internal"],
    );
    let one = run_server6(&lab.host, "one", &["--network", "n1"], 80, "one/{peer}");
    let two = run_server6(&lab.host, "two", &["--network", "n2"], 80, "two/{peer}");
    run_idle(&lab.host, "three", &["--network", "inside"]);
    no_answer(&lab, At::Container("one"), "tcp", &ip6_of(&two), 80);
    no_answer(&lab, At::Container("two"), "tcp", &ip6_of(&one), 80);
    no_answer(&lab, At::Container("three"), "tcp", OUTSIDE6, 80);
    // Control: the same container reaches the outside from a non-internal network.
    assert_eq!(
        reply(&lab, At::Container("one"), "tcp", OUTSIDE6, 80),
        format!("out/{HOST6}")
    );
}

/// An IPv4-only host never gets an IPv6 table, published ports or not.
#[test]
fn ipv4_only_networks_make_no_ipv6_tables() {
    let lab = lab6();
    podnet_ok(&lab.host, &["network", "create", "v4"]);
    publish_8080_server6(&lab.host, "s", "v4");
    let tables = podnet_tables(&lab.host);
    assert!(
        tables.iter().all(|(f, _)| f == "ip" || f == "bridge"),
        "{tables:?}"
    );
    let out = lab.host.podnet([
        "run",
        "--network",
        "v4",
        "-p",
        "[::1]:9000:80",
        "--",
        "true",
    ]);
    assert_bad_input("-p [::1] on an IPv4-only network", &out, "has no IPv6");
}

/// After someone flushes the ruleset, `gc` renders the IPv6 tables again from the store: the
/// published port answers over IPv6 from outside and on `[::1]`; the last dual-stack
/// network's removal takes `ip6 podnet` and `netdev podnet` with it.
#[test]
fn gc_restores_the_ipv6_tables_and_the_last_network_removes_them() {
    let lab = lab6();
    // No DNS, so no agent: its nftables watch would restore the tables before `gc` does.
    podnet_ok(
        &lab.host,
        &["network", "create", "web", "--ipv6", "--dns=false"],
    );
    publish_8080_server6(&lab.host, "w", "web");
    ok("flush", lab.host.sh("nft flush ruleset"));
    no_answer(&lab, At::Outside, "tcp", HOST6, 8080);
    podnet_ok(&lab.host, &["gc"]);
    assert_eq!(
        reply(&lab, At::Outside, "tcp", HOST6, 8080),
        format!("w/{OUTSIDE6}")
    );
    assert!(reply(&lab, At::Host, "tcp", "::1", 8080).starts_with("w/"));
    podnet_ok(&lab.host, &["network", "create", "v4"]);
    podnet_ok(&lab.host, &["rm", "-f", "w"]);
    podnet_ok(&lab.host, &["network", "rm", "web"]);
    let mut left = podnet_tables(&lab.host);
    left.sort();
    let f = |a: &str| (a.to_string(), "podnet".to_string());
    assert_eq!(left, [f("bridge"), f("ip")]);
    podnet_ok(&lab.host, &["network", "rm", "v4"]);
    let left = podnet_tables(&lab.host);
    assert!(left.is_empty(), "{left:?}");
}
