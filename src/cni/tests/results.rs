//! Results: podnet's ADD result per version (golden files), prevResult read in every version
//! and rendered back unchanged, conversions between versions, and bad results.

use serde_json::{json, Value};

use crate::cni::result::{self, add_result, render, Attached, CniResult, Dns, Link, Route};
use crate::cni::{Version, SUPPORTED};

fn golden(v: Version) -> Value {
    let text = match v {
        Version::V0_1_0 => include_str!("golden/add-0.1.0.json"),
        Version::V0_2_0 => include_str!("golden/add-0.2.0.json"),
        Version::V0_3_0 => include_str!("golden/add-0.3.0.json"),
        Version::V0_3_1 => include_str!("golden/add-0.3.1.json"),
        Version::V0_4_0 => include_str!("golden/add-0.4.0.json"),
        Version::V1_0_0 => include_str!("golden/add-1.0.0.json"),
        Version::V1_1_0 => include_str!("golden/add-1.1.0.json"),
    };
    serde_json::from_str(text).unwrap()
}

fn attached() -> Attached {
    let link = |name: &str, mac: &str| Link {
        name: name.into(),
        mac: Some(mac.parse().unwrap()),
        mtu: Some(1400),
    };
    Attached {
        bridge: Some(link("pn-lab", "02:42:0a:59:00:01")),
        host: link("pnv-abc123", "6a:11:22:33:44:55"),
        container: link("eth0", "02:00:0a:59:00:05"),
        sandbox: "/var/run/netns/cni-1234".into(),
        address: "10.89.0.5/24".parse().unwrap(),
        gateway: Some("10.89.0.1".parse().unwrap()),
        address6: None,
        gateway6: None,
        routes: vec![Route::new(
            "0.0.0.0/0".parse().unwrap(),
            Some("10.89.0.1".parse().unwrap()),
        )],
        dns: Dns {
            nameservers: vec!["10.89.0.1".into()],
            search: vec!["lab.local".into()],
            ..Dns::default()
        },
    }
}

#[test]
fn add_result_in_every_version_matches_its_golden_file() {
    let r = add_result(None, &attached());
    for v in SUPPORTED {
        assert_eq!(render(&r, v), golden(v), "version {v}");
    }
}

/// A dual-stack ADD: both addresses on the container's interface, both default routes, in
/// every modern version (0.x with `version`), and 0.2.0's `ip4`/`ip6`; each reads back.
#[test]
fn a_dual_stack_result_carries_both_addresses_and_routes() {
    let mut a = attached();
    a.address6 = Some("fd00:91::5/64".parse().unwrap());
    a.gateway6 = Some("fd00:91::1".parse().unwrap());
    a.routes.push(Route::new(
        "::/0".parse().unwrap(),
        Some("fd00:91::1".parse().unwrap()),
    ));
    let r = add_result(None, &a);
    assert_eq!(r.sandbox_ips("eth0").len(), 2);
    let both_routes = json!([
        {"dst": "0.0.0.0/0", "gw": "10.89.0.1"},
        {"dst": "::/0", "gw": "fd00:91::1"}
    ]);
    for v in [Version::V1_1_0, Version::V1_0_0] {
        let out = render(&r, v);
        assert_eq!(
            out["ips"],
            json!([
                {"address": "10.89.0.5/24", "gateway": "10.89.0.1", "interface": 2},
                {"address": "fd00:91::5/64", "gateway": "fd00:91::1", "interface": 2}
            ]),
            "{v}"
        );
        assert_eq!(out["routes"], both_routes, "{v}");
        assert_eq!(result::parse(&out, v, "prevResult").unwrap().ips, r.ips);
    }
    let out = render(&r, Version::V0_4_0);
    assert_eq!(out["ips"][0]["version"], "4");
    assert_eq!(out["ips"][1]["version"], "6");
    assert_eq!(out["ips"][1]["address"], "fd00:91::5/64");
    assert_eq!(out["routes"], both_routes);
    let out = render(&r, Version::V0_2_0);
    assert_eq!(out["ip4"]["ip"], "10.89.0.5/24");
    assert_eq!(
        out["ip6"],
        json!({"ip": "fd00:91::5/64", "gateway": "fd00:91::1",
               "routes": [{"dst": "::/0", "gw": "fd00:91::1"}]})
    );
}

#[test]
fn every_golden_result_reads_back_and_renders_unchanged() {
    for v in SUPPORTED {
        let g = golden(v);
        let parsed = result::parse(&g, v, "prevResult").unwrap();
        assert_eq!(render(&parsed, v), g, "version {v}");
    }
}

#[test]
fn a_modern_result_reads_back_to_the_same_model() {
    let r = add_result(None, &attached());
    let v = Version::V1_1_0;
    assert_eq!(result::parse(&render(&r, v), v, "prevResult").unwrap(), r);
    // 1.0.0 and 0.x drop the MTUs, and nothing else.
    let mut no_mtu = r.clone();
    no_mtu.interfaces.iter_mut().for_each(|i| i.mtu = None);
    for v in [Version::V1_0_0, Version::V0_4_0, Version::V0_3_0] {
        assert_eq!(
            result::parse(&render(&r, v), v, "prevResult").unwrap(),
            no_mtu
        );
    }
}

#[test]
fn the_spec_example_prev_result_round_trips() {
    let prev: Value = serde_json::from_str(include_str!("golden/spec-prev-1.1.0.json")).unwrap();
    let r = result::parse(&prev, Version::V1_1_0, "prevResult").unwrap();
    assert_eq!(r.sandbox_ips("eth0"), vec!["10.1.0.5/16".parse().unwrap()]);
    assert_eq!(
        r.interfaces[2].sandbox.as_deref(),
        Some("/var/run/netns/blue")
    );
    let mut want = prev.clone();
    want["cniVersion"] = json!("1.1.0");
    assert_eq!(render(&r, Version::V1_1_0), want);
}

#[test]
fn conversions_between_versions() {
    let full: Value = serde_json::from_str(include_str!("golden/full-1.1.0.json")).unwrap();
    let r = result::parse(&full, Version::V1_1_0, "prevResult").unwrap();
    assert_eq!(render(&r, Version::V1_1_0), full);
    let as040: Value = serde_json::from_str(include_str!("golden/full-as-0.4.0.json")).unwrap();
    assert_eq!(render(&r, Version::V0_4_0), as040);
    let as020: Value = serde_json::from_str(include_str!("golden/full-as-0.2.0.json")).unwrap();
    assert_eq!(render(&r, Version::V0_2_0), as020);
    // 1.0.0 is 0.4.0 without the ip families.
    let mut as100 = as040.clone();
    as100["cniVersion"] = json!("1.0.0");
    for ip in as100["ips"].as_array_mut().unwrap() {
        ip.as_object_mut().unwrap().remove("version");
    }
    assert_eq!(render(&r, Version::V1_0_0), as100);
    // A 0.4.0 result read as such and rendered as 1.1.0 keeps everything 0.4.0 has.
    let back = result::parse(&as040, Version::V0_4_0, "prevResult").unwrap();
    assert_eq!(render(&back, Version::V1_0_0), as100);
    // 0.2.0 back to a modern shape: addresses, routes and DNS survive, interfaces cannot.
    let legacy = result::parse(&as020, Version::V0_2_0, "prevResult").unwrap();
    assert!(legacy.interfaces.is_empty());
    assert_eq!(legacy.ips.len(), 2);
    assert_eq!(legacy.routes.len(), 2);
    assert_eq!(legacy.dns, r.dns);
}

#[test]
fn podnet_appends_to_a_prev_result_with_shifted_interface_indexes() {
    let prev: Value = serde_json::from_str(include_str!("golden/spec-prev-1.1.0.json")).unwrap();
    let prev = result::parse(&prev, Version::V1_1_0, "prevResult").unwrap();
    let mut a = attached();
    a.bridge = None;
    a.routes = vec![Route::new("0.0.0.0/0".parse().unwrap(), None)];
    let r = add_result(Some(&prev), &a);
    assert_eq!(r.interfaces.len(), 5);
    assert_eq!(r.ips[0], prev.ips[0]);
    assert_eq!(r.ips[1].interface, Some(4));
    assert_eq!(r.interfaces[4].name, "eth0");
    // The route podnet would add is already there; the earlier DNS stays.
    assert_eq!(r.routes, prev.routes);
    assert_eq!(r.dns, prev.dns);
}

#[test]
fn an_empty_result_renders_only_its_version() {
    for v in SUPPORTED {
        assert_eq!(
            render(&CniResult::default(), v),
            json!({"cniVersion": v.as_str()})
        );
    }
}

#[test]
fn bad_results_are_decode_errors_naming_the_field() {
    let table: [(Value, Version, &str); 9] = [
        (
            json!({"ips": [{"address": "bogus"}]}),
            Version::V1_0_0,
            "prevResult.ips[0].address",
        ),
        (
            json!({"ips": [{"gateway": "10.0.0.1"}]}),
            Version::V1_0_0,
            "prevResult.ips[0]",
        ),
        (
            json!({"ips": [{"address": "10.0.0.5/24", "interface": 0}]}),
            Version::V1_1_0,
            "prevResult.ips[0].interface",
        ),
        (
            json!({"ips": [{"version": "6", "address": "10.0.0.5/24"}]}),
            Version::V0_4_0,
            "prevResult.ips[0].version",
        ),
        (
            json!({"interfaces": {"name": "eth0"}}),
            Version::V1_0_0,
            "prevResult.interfaces",
        ),
        (
            json!({"interfaces": [{"mac": "x"}]}),
            Version::V1_0_0,
            "prevResult.interfaces[0]",
        ),
        (
            json!({"routes": [{"dst": "10.0.0.0/8", "gw": 7}]}),
            Version::V1_0_0,
            "prevResult.routes[0].gw",
        ),
        (
            json!({"ip4": {"ip": "fd00::5/64"}}),
            Version::V0_2_0,
            "prevResult.ip4.ip",
        ),
        (json!("a string"), Version::V1_0_0, "prevResult"),
    ];
    for (v, ver, field) in table {
        let e = result::parse(&v, ver, "prevResult").unwrap_err();
        assert_eq!(e.code, 6, "{v}: {e:?}");
        assert!(e.details.starts_with(field), "{v}: want {field:?} in {e:?}");
    }
}
