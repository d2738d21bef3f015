//! IPv6 and dual-stack services through the CLI (issue 9, acceptance 5): `--ip-family`,
//! IPv6 VIPs from `fd00:43::/112`, the `ip6 podnet-svc` table present only while an IPv6
//! service exists, a backend without an IPv6 address left out of the IPv6 side (and shown),
//! an empty service refused at once over IPv6 through its node port from the LAN, and a bad
//! input table (exit 2, one line naming the input, nothing changed).

mod common;

use common::publish::*;
use common::service::*;
use common::v6::*;
use common::*;
use podnet::testbed::Sandbox;
use serde_json::{json, Value};

/// `(family, name)` of podnet's service tables present.
fn svc_tables(sb: &Sandbox) -> Vec<String> {
    tables(sb)
        .into_iter()
        .filter(|(_, n)| n == "podnet-svc")
        .map(|(f, n)| format!("{f} {n}"))
        .collect()
}

/// Elements of a map of a services table, as nft lists them (`nft -j`).
fn elements(sb: &Sandbox, family: &str, map: &str) -> usize {
    let text = nft(sb, &["-j", "list", "map", family, "podnet-svc", map]);
    let v = parse("nft -j list map", &text);
    as_list(v["nftables"].clone())
        .into_iter()
        .find_map(|o| o.get("map").cloned())
        .and_then(|m| m.get("elem").and_then(|e| e.as_array()).map(Vec::len))
        .unwrap_or(0)
}

/// An IPv6 service gets the first VIP of fd00:43::/112 and the `ip6` table only; an empty
/// one refuses a LAN client at once over IPv6 through its node port; removing it takes the
/// table away.
#[test]
fn ipv6_service_refuses_at_once_when_empty_and_lives_in_its_own_table() {
    let lab = lab6();
    let svc = tcp_udp_service(&lab.host, "api", "ipv6", "app=api", 30080);
    assert_eq!(svc["vip"], "fd00:43::1", "{svc}");
    assert_eq!(svc["vip6"], "fd00:43::1", "{svc}");
    assert_eq!(svc["ip_family"], "ipv6", "{svc}");
    assert_eq!(svc_tables(&lab.host), ["ip6 podnet-svc"]);
    for proto in ["tcp", "udp"] {
        assert_refused(&lab, At::Outside, proto, HOST6, 30080);
    }
    // The IPv4 node port is not this service's: nothing answers there (no table).
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 30080);
    podnet_ok(&lab.host, &["service", "rm", "api"]);
    assert!(
        svc_tables(&lab.host).is_empty(),
        "{:?}",
        svc_tables(&lab.host)
    );
}

/// A dual-stack service has a VIP per family; its backend on the IPv4-only default network
/// serves the IPv4 side only, and `inspect`/`ls` say it is left out of the IPv6 side.
#[test]
fn dual_service_leaves_an_ipv4_only_backend_out_of_its_ipv6_side() {
    let lab = lab6();
    backend(&lab.host, "w1", &["app=web"], &[]);
    let svc = service(
        &lab.host,
        "web",
        &[
            "--ip-family",
            "dual",
            "--port",
            "80:8080",
            "--selector",
            "app=web",
            "--vip",
            "fd00:43::80",
        ],
    );
    assert_eq!(svc["ip_family"], "dual", "{svc}");
    assert!(s(&svc, "vip").starts_with("10.43."), "{svc}");
    assert_eq!(svc["vip6"], "fd00:43::80", "{svc}");
    assert_eq!(svc["backends"].as_array().map(Vec::len), Some(1), "{svc}");
    assert_eq!(svc["backends6"], json!([]), "{svc}");
    assert_eq!(svc["without_ipv6"], json!(["w1"]), "{svc}");
    let ls = as_list(podnet_json(&lab.host, &["service", "ls"]));
    assert_eq!(ls[0]["without_ipv6"], json!(["w1"]), "{ls:?}");
    let table = podnet_ok(&lab.host, &["service", "ls"]);
    assert!(table.contains("(no IPv6: w1)"), "{table}");
    let mut got = svc_tables(&lab.host);
    got.sort();
    assert_eq!(got, ["ip podnet-svc", "ip6 podnet-svc"]);
    // The kernel agrees: one backend slot on the IPv4 side, none on the IPv6 side, whose
    // VIP dispatches (to the reject chain).
    assert_eq!(elements(&lab.host, "ip", "eps"), 1);
    assert_eq!(elements(&lab.host, "ip6", "eps"), 0);
    assert_eq!(elements(&lab.host, "ip6", "service_ips"), 1);
    let vip = s(&svc, "vip").to_string();
    let m = spread(&lab, At::Host, "tcp", &vip, 80, 10);
    assert_eq!(answered(&m).len(), 1, "IPv4 side: {m:?}");
    // An IPv4-only service beside it leaves the IPv6 table alone; removing the dual one
    // takes the IPv6 table away and keeps the IPv4 one.
    service(
        &lab.host,
        "v4",
        &["--port", "81:8080", "--selector", "app=web"],
    );
    podnet_ok(&lab.host, &["service", "rm", "web"]);
    assert_eq!(svc_tables(&lab.host), ["ip podnet-svc"]);
}

/// What a refused `service create` must leave as it was.
fn snapshot(sb: &Sandbox) -> Value {
    let routes = |fam: &str| -> Vec<Value> {
        as_list(ip_json(sb, &[fam, "route", "show", "table", "all"]))
            .iter()
            .map(|r| json!([r["dst"], r["dev"], r["gateway"], r["table"]]))
            .collect()
    };
    json!({
        "services": podnet_json(sb, &["service", "ls"]),
        "tables": svc_tables(sb),
        "table6": nft(sb, &["list", "table", "ip6", "podnet-svc"]),
        "routes": routes("-4"),
        "routes6": routes("-6"),
    })
}

/// Bad IPv6/family input: exit 2, a one-line error naming the input, nothing changed.
#[test]
fn bad_ipv6_service_input_is_refused_and_changes_nothing() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &[
            "service",
            "create",
            "old",
            "--vip",
            "fd00:43::9",
            "--port",
            "80",
        ],
    );
    let cases: &[(&[&str], &str)] = &[
        (&["--ip-family", "ipv5"], "ipv5"),
        (&["--ip-family", ""], "--ip-family"),
        (
            &["--ip-family", "ipv4", "--vip", "fd00:43::10"],
            "fd00:43::10",
        ),
        (
            &["--ip-family", "ipv6", "--vip", "10.43.0.10"],
            "10.43.0.10",
        ),
        (&["--vip", "fd00:44::1"], "fd00:44::1"),
        (&["--vip", "fd00:43::1:0"], "fd00:43::1:0"),
        (&["--vip", "fd00:43::"], "fd00:43::"),
        (&["--vip", "::1"], "::1"),
        (&["--vip", "fd00:43::g"], "fd00:43::g"),
        (&["--vip", "fd00:43::9"], "fd00:43::9"),
        (&["--vip", "fd00:43::10", "--vip", "fd00:43::11"], "--vip"),
        (&["--vip", "10.43.0.10", "--vip", "10.43.0.11"], "--vip"),
        (
            &["--ip-family", "dual", "--vip", "fd00:44::1"],
            "fd00:44::1",
        ),
    ];
    for (extra, needle) in cases {
        let before = snapshot(&sb);
        let mut args = vec!["service", "create", "x", "--port", "80"];
        args.extend(*extra);
        let what = format!("podnet {}", args.join(" "));
        assert_bad_input(&what, &sb.podnet(&args), needle);
        let after = snapshot(&sb);
        for key in ["services", "tables", "table6", "routes", "routes6"] {
            assert_eq!(before[key], after[key], "{what} changed {key}");
        }
    }
}
