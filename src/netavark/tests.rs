//! Unit tests of the netavark plugin protocol layer: what netavark 2.1 and Podman 5 send
//! (the plugin API's examples and `../shared/clients/netavark_plugin.sh`), the answers, and
//! every bad input.

use serde_json::{json, Value};
use std::path::PathBuf;

use super::types::{Network, StatusBlock};
use super::{created, parse, run, status_block, Call, DnsBlock, Settled};
use crate::model::{PortMapping, Proto};

const ID: &str = "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9";

fn network() -> Value {
    json!({
        "name": "pn", "id": ID, "driver": "podnet", "network_interface": "",
        "subnets": [{"subnet": "10.77.0.0/24", "gateway": "10.77.0.1"}],
        "ipv6_enabled": false, "internal": false, "dns_enabled": false,
        "ipam_options": {"driver": "host-local"}
    })
}

/// setup's stdin as netavark 2.1 writes it (its `NetworkPluginExec`: nulls for unset options).
fn exec_input() -> Value {
    json!({
        "container_id": "abc123", "container_name": "c1",
        "port_mappings": [{"container_port": 80, "host_ip": "", "host_port": 8080, "protocol": "tcp", "range": 1}],
        "network": network(),
        "network_options": {"aliases": ["web"], "interface_name": "eth0", "static_ips": null,
                            "static_mac": null, "options": null}
    })
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

#[test]
fn setup_and_teardown_carry_what_the_engine_needs() {
    for sub in ["setup", "teardown"] {
        let call = parse(&args(&[sub, "/run/netns/c1"]), &bytes(&exec_input())).unwrap();
        let req = match (sub, call) {
            ("setup", Call::Setup(r)) | ("teardown", Call::Teardown(r)) => r,
            (_, other) => panic!("{sub}: {other:?}"),
        };
        assert_eq!(req.netns, PathBuf::from("/run/netns/c1"));
        assert_eq!(req.container_id, "abc123");
        assert_eq!(req.container_name, "c1");
        assert_eq!(req.ifname, "eth0");
        assert_eq!(req.aliases, vec!["web".to_owned()]);
        assert_eq!(req.network.name, "pn");
        assert_eq!(req.network.id, ID);
        assert_eq!(
            req.network.params.subnet,
            Some("10.77.0.0/24".parse().unwrap())
        );
        assert_eq!(
            req.network.params.gateway,
            Some("10.77.0.1".parse().unwrap())
        );
        assert_eq!(req.network.params.bridge, None);
        assert!(req.network.params.icc && !req.network.params.internal);
        assert_eq!(
            req.ports,
            vec![PortMapping {
                host_ip: None,
                host_port: 8080,
                container_port: 80,
                proto: Proto::Tcp
            }]
        );
    }
}

#[test]
fn the_plugin_api_example_parses_with_static_ip_mac_and_options() {
    let mut x = exec_input();
    x["network"]["network_interface"] = json!("podman0");
    x["network"]["options"] =
        json!({"mtu": "1400", "icc": "false", "isolate": "true", "root": "/var/lib/podnet-p"});
    x["network"]["ipam_options"] = json!({"driver": "none"});
    x["network_options"]["static_ips"] = json!(["10.77.0.50"]);
    x["network_options"]["static_mac"] = json!("aa:bb:cc:dd:aa:00");
    x["port_mappings"] = json!([{"container_port": 80, "host_ip": "127.0.0.1", "host_port": 8080, "protocol": "tcp,udp", "range": 2}]);
    let Call::Setup(r) = parse(&args(&["setup", "/run/netns/c1"]), &bytes(&x)).unwrap() else {
        panic!()
    };
    assert_eq!(
        r.static_ips,
        vec!["10.77.0.50".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(r.static_mac.unwrap().to_string(), "aa:bb:cc:dd:aa:00");
    assert_eq!(r.network.params.bridge.as_deref(), Some("podman0"));
    assert_eq!(r.network.params.mtu, Some(1400));
    assert!(!r.network.params.icc);
    assert_eq!(r.network.root, Some(PathBuf::from("/var/lib/podnet-p")));
    let got: Vec<(u16, u16, Proto)> = r
        .ports
        .iter()
        .map(|p| (p.host_port, p.container_port, p.proto))
        .collect();
    assert_eq!(
        got,
        [
            (8080, 80, Proto::Tcp),
            (8081, 81, Proto::Tcp),
            (8080, 80, Proto::Udp),
            (8081, 81, Proto::Udp)
        ]
    );
    assert!(r
        .ports
        .iter()
        .all(|p| p.host_ip == Some("127.0.0.1".parse().unwrap())));
}

#[test]
fn create_gives_the_network_back_completed_and_unknown_fields_untouched() {
    let mut input = network();
    input["subnets"] = json!(null);
    input["created"] = json!("2026-12-01T10:00:00.000000000Z");
    input["labels"] = json!({"team": "a"});
    input["dns_enabled"] = json!(true);
    input["ipam_options"] = json!({"driver": "host-local"});
    let Call::Create(c) = parse(&args(&["create"]), &bytes(&input)).unwrap() else {
        panic!()
    };
    assert_eq!(c.spec.params.subnet, None);
    let out = created(
        &c.network,
        &Settled {
            subnet: "10.90.0.0/24".parse().unwrap(),
            gateway: "10.90.0.1".parse().unwrap(),
            v6: None,
            bridge: "pn-pn".into(),
            dns: false,
        },
    );
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({
            "name": "pn", "id": ID, "driver": "podnet", "network_interface": "pn-pn",
            "subnets": [{"subnet": "10.90.0.0/24", "gateway": "10.90.0.1"}],
            "ipv6_enabled": false, "internal": false, "dns_enabled": false,
            "ipam_options": {"driver": "none"},
            "created": "2026-12-01T10:00:00.000000000Z", "labels": {"team": "a"}
        })
    );
    // What podnet prints is what netavark's types read back.
    let back: Network = serde_json::from_value(serde_json::to_value(&out).unwrap()).unwrap();
    assert_eq!(back, out);
}

#[test]
fn status_block_golden() {
    let one = [(
        "10.88.0.50/16".parse().unwrap(),
        Some("10.88.0.1".parse().unwrap()),
    )];
    let mac = "aa:bb:cc:dd:aa:00".parse().unwrap();
    let iface = json!({"eth0": {"mac_address": "aa:bb:cc:dd:aa:00",
                                "subnets": [{"gateway": "10.88.0.1", "ipnet": "10.88.0.50/16"}]}});
    let with_dns = DnsBlock {
        servers: vec!["10.88.0.1".parse().unwrap(), "fd00:88::1".parse().unwrap()],
        search: vec!["dns.podnet".into()],
    };
    let cases = [
        // The plugin API's example output: a network without DNS.
        (
            DnsBlock::default(),
            json!({"dns_search_domains": [], "dns_server_ips": [], "interfaces": iface}),
        ),
        // The names netavark's StatusBlock reads (Podman writes resolv.conf from them).
        (
            with_dns,
            json!({"dns_search_domains": ["dns.podnet"],
                   "dns_server_ips": ["10.88.0.1", "fd00:88::1"], "interfaces": iface}),
        ),
    ];
    for (dns, want) in cases {
        let sb = status_block("eth0", mac, &one, &dns);
        assert_eq!(serde_json::to_value(&sb).unwrap(), want);
        let back: StatusBlock = serde_json::from_value(want).unwrap();
        assert_eq!(back, sb);
    }
}

/// A dual-stack Podman network: both subnets parsed (the IPv6 gateway podnet's), `create`
/// answers both with `ipv6_enabled`, IPv6 static addresses and host_ips pass, and the status
/// block lists both addresses, IPv4 first.
#[test]
fn dual_stack_networks_map_both_families() {
    let mut x = exec_input();
    x["network"]["ipv6_enabled"] = json!(true);
    x["network"]["subnets"] = json!([{"subnet": "10.77.0.0/24"},
        {"subnet": "fd00:77::/64", "gateway": "fd00:77::1"}]);
    x["network_options"]["static_ips"] = json!(["10.77.0.50", "fd00:77::50"]);
    x["port_mappings"] = json!([{"container_port": 80, "host_ip": "::1", "host_port": 8080},
        {"container_port": 81, "host_ip": "0.0.0.0", "host_port": 8081}]);
    let Call::Setup(r) = parse(&args(&["setup", "/run/netns/c1"]), &bytes(&x)).unwrap() else {
        panic!()
    };
    let p = &r.network.params;
    assert_eq!(p.subnet6, Some("fd00:77::/64".parse().unwrap()));
    assert_eq!(p.ipv6, Some(true));
    assert_eq!(r.static_ips.len(), 2);
    let hosts: Vec<Option<std::net::IpAddr>> = r.ports.iter().map(|m| m.host_ip).collect();
    assert_eq!(
        hosts,
        vec![
            Some("::1".parse().unwrap()),
            Some("0.0.0.0".parse().unwrap())
        ]
    );
    // ipv6_enabled alone: podnet picks the IPv6 subnet; an IPv4-only network says false.
    let mut only = network();
    only["ipv6_enabled"] = json!(true);
    let Call::Create(c) = parse(&args(&["create"]), &bytes(&only)).unwrap() else {
        panic!()
    };
    assert_eq!(
        (c.spec.params.ipv6, c.spec.params.subnet6),
        (Some(true), None)
    );
    let out = created(
        &c.network,
        &Settled {
            subnet: "10.90.0.0/24".parse().unwrap(),
            gateway: "10.90.0.1".parse().unwrap(),
            v6: Some((
                "fd00:90::/64".parse().unwrap(),
                "fd00:90::1".parse().unwrap(),
            )),
            bridge: "pn-pn".into(),
            dns: false,
        },
    );
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(
        v["subnets"],
        json!([{"subnet": "10.90.0.0/24", "gateway": "10.90.0.1"},
               {"subnet": "fd00:90::/64", "gateway": "fd00:90::1"}])
    );
    assert_eq!(v["ipv6_enabled"], json!(true));
    let sb = status_block(
        "eth0",
        "aa:bb:cc:dd:aa:00".parse().unwrap(),
        &[
            (
                "10.90.0.5/24".parse().unwrap(),
                Some("10.90.0.1".parse().unwrap()),
            ),
            (
                "fd00:90::5/64".parse().unwrap(),
                Some("fd00:90::1".parse().unwrap()),
            ),
        ],
        &DnsBlock::default(),
    );
    assert_eq!(
        serde_json::to_value(&sb).unwrap()["interfaces"]["eth0"]["subnets"],
        json!([{"gateway": "10.90.0.1", "ipnet": "10.90.0.5/24"},
               {"gateway": "fd00:90::1", "ipnet": "fd00:90::5/64"}])
    );
}

#[test]
fn info_and_error_replies() {
    for a in [args(&["info"]), args(&[])] {
        let r = run(&a, b"");
        assert_eq!(r.code, 0);
        let v: Value = serde_json::from_slice(&r.stdout).unwrap();
        assert_eq!(
            v,
            json!({"version": env!("CARGO_PKG_VERSION"), "api_version": "1.0.0"})
        );
    }
    // create, setup and teardown run on the engine: they are tested in sandboxes
    // (tests/netavark_*.rs), never here, where they would change this machine.
}

/// Every bad call: exit 1, `{"error": ...}` naming what was wrong.
#[test]
fn bad_calls_are_errors_naming_the_input() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut x = exec_input();
        f(&mut x);
        bytes(&x)
    };
    let setup = args(&["setup", "/run/netns/c1"]);
    let table: Vec<(Vec<String>, Vec<u8>, &str)> = vec![
        (args(&["bogus"]), vec![], "unknown subcommand \"bogus\""),
        (
            args(&["setup"]),
            bytes(&exec_input()),
            "namespace path argument is missing",
        ),
        (
            args(&["setup", "run/netns/c1"]),
            bytes(&exec_input()),
            "not absolute",
        ),
        (
            args(&["teardown", "/run/netns/c1", "x"]),
            bytes(&exec_input()),
            "unexpected argument",
        ),
        (setup.clone(), b"".to_vec(), "setup input on stdin"),
        (setup.clone(), b"{".to_vec(), "setup input on stdin"),
        (
            setup.clone(),
            with(&|x| {
                x.as_object_mut().unwrap().remove("container_id");
            }),
            "container_id",
        ),
        (
            setup.clone(),
            with(&|x| x["network"]["internal"] = json!("no")),
            "network.internal",
        ),
        (
            setup.clone(),
            with(&|x| x["port_mappings"][0]["host_port"] = json!(70000)),
            "port_mappings[0].host_port",
        ),
        (
            setup.clone(),
            with(&|x| x["port_mappings"][0]["host_port"] = json!(0)),
            "port_mappings[0].host_port is 0",
        ),
        (
            setup.clone(),
            with(&|x| x["port_mappings"][0]["range"] = json!(65500)),
            "passes 65535",
        ),
        (
            setup.clone(),
            with(&|x| x["port_mappings"][0]["protocol"] = json!("tcp,icmp")),
            "port_mappings[0].protocol",
        ),
        (
            setup.clone(),
            with(&|x| x["port_mappings"][0]["host_ip"] = json!("ff02::1")),
            "port_mappings[0].host_ip ff02::1 is not an address of this host",
        ),
        (
            setup.clone(),
            with(&|x| x["port_mappings"][0]["host_ip"] = json!("::ffff:10.0.0.1")),
            "port_mappings[0].host_ip",
        ),
        (
            setup.clone(),
            with(&|x| x["port_mappings"][0]["host_ip"] = json!("[::1]")),
            "port_mappings[0].host_ip",
        ),
        (
            setup.clone(),
            with(&|x| x["network_options"]["interface_name"] = json!("")),
            "interface_name",
        ),
        (
            setup.clone(),
            with(&|x| x["network_options"]["interface_name"] = json!("eth0123456789012")),
            "interface_name",
        ),
        (
            setup.clone(),
            with(&|x| x["network_options"]["static_ips"] = json!(["10.0.0.300"])),
            "static_ips",
        ),
        (
            setup.clone(),
            with(&|x| x["network_options"]["static_mac"] = json!("01:00:5e:00:00:01")),
            "static_mac",
        ),
        (
            setup.clone(),
            with(&|x| x["network"]["subnets"] = json!([{"subnet": "fd00::/64"}])),
            "IPv6-only networks are not supported",
        ),
        (
            setup.clone(),
            with(&|x| {
                x["network"]["subnets"] =
                    json!([{"subnet": "10.1.0.0/24"}, {"subnet": "10.2.0.0/24"}])
            }),
            "one subnet per family",
        ),
        (
            setup.clone(),
            with(&|x| {
                x["network"]["subnets"] = json!([{"subnet": "10.1.0.0/24"},
                    {"subnet": "fd00:1::/64"}, {"subnet": "fd00:2::/64"}])
            }),
            "one subnet per family",
        ),
        (
            setup.clone(),
            with(&|x| {
                x["network"]["subnets"] = json!([{"subnet": "10.1.0.0/24"},
                    {"subnet": "fd00:1::/64", "gateway": "fd00:1::fe"}])
            }),
            "gateway fd00:1::fe is not podnet's IPv6 gateway fd00:1::1",
        ),
        (
            setup.clone(),
            with(&|x| {
                x["network"]["subnets"] = json!([{"subnet": "10.1.0.0/24"},
                    {"subnet": "fd00:1::/64", "gateway": "10.1.0.1"}])
            }),
            "gateway 10.1.0.1",
        ),
        (
            setup.clone(),
            with(&|x| {
                x["network"]["subnets"] =
                    json!([{"subnet": "10.1.0.0/24"}, {"subnet": "fe80::/64"}])
            }),
            "fe80::/64",
        ),
        (
            setup.clone(),
            with(&|x| {
                x["network"]["subnets"] =
                    json!([{"subnet": "10.1.0.0/24"}, {"subnet": "fd00:1::/124"}])
            }),
            "fd00:1::/124",
        ),
        (
            setup.clone(),
            with(
                &|x| x["network"]["subnets"] = json!([{"subnet": "10.1.0.0/24"}, {"subnet": "fd00:1::/64", "lease_range": {"start_ip": "fd00:1::10"}}]),
            ),
            "lease range",
        ),
        (
            setup.clone(),
            with(&|x| {
                x["network"]["subnets"][0]["lease_range"] = json!({"start_ip": "10.77.0.10"})
            }),
            "lease range",
        ),
        (
            setup.clone(),
            with(&|x| x["network"]["ipam_options"] = json!({"driver": "dhcp"})),
            "IPAM driver \"dhcp\"",
        ),
        (
            setup.clone(),
            with(&|x| x["network"]["network_interface"] = json!("a very long bridge")),
            "bridge",
        ),
        (
            setup.clone(),
            with(&|x| x["network"]["options"] = json!({"mtu": "9x"})),
            "option mtu=9x",
        ),
        (
            setup.clone(),
            with(&|x| x["network"]["options"] = json!({"icc": "maybe"})),
            "option icc=maybe",
        ),
        (
            setup.clone(),
            with(&|x| x["network"]["options"] = json!({"isolate": "false"})),
            "option isolate=false",
        ),
        (
            setup.clone(),
            with(&|x| x["network"]["options"] = json!({"vlan": "5"})),
            "option vlan is not podnet's",
        ),
        (
            setup.clone(),
            with(&|x| x["network"]["options"] = json!({"root": "rel"})),
            "option root=rel",
        ),
        (
            args(&["create"]),
            bytes(&json!({"name": "pn"})),
            "network on stdin",
        ),
        (
            args(&["create"]),
            bytes(&{
                let mut n = network();
                n["ipam_options"] = json!({"driver": "none"});
                n
            }),
            "leave the IPAM driver unset",
        ),
    ];
    for (a, input, says) in table {
        // Refused while parsing, so `run` below never reaches the engine (no state here).
        assert!(parse(&a, &input).is_err(), "{a:?} parsed");
        let r = run(&a, &input);
        assert_eq!(r.code, 1, "{a:?} {}", String::from_utf8_lossy(&input));
        let v: Value = serde_json::from_slice(&r.stdout).unwrap();
        let msg = v["error"].as_str().unwrap();
        assert!(msg.starts_with("podnet: "), "{msg}");
        assert!(msg.contains(says), "{a:?}: want {says:?} in {msg:?}");
    }
}

/// teardown goes past what setup refuses, keeping the container, interface and network.
#[test]
fn teardown_goes_past_what_setup_refuses() {
    let mut x = exec_input();
    x["network"]["options"] = json!({"vlan": "5", "root": "/var/lib/pk"});
    x["port_mappings"][0]["protocol"] = json!("icmp");
    let input = bytes(&x);
    let refused = parse(&args(&["setup", "/run/netns/c1"]), &input).unwrap_err();
    let Call::Teardown(t) = parse(&args(&["teardown", "/run/netns/c1"]), &input).unwrap() else {
        panic!()
    };
    assert_eq!(t.ignored, vec![refused]);
    assert_eq!(
        (t.container_id.as_str(), t.ifname.as_str()),
        ("abc123", "eth0")
    );
    assert_eq!((t.network.name.as_str(), t.network.id.as_str()), ("pn", ID));
    assert_eq!(t.network.root, Some(PathBuf::from("/var/lib/pk")));
    assert!(t.ports.is_empty());
    // Input that is not netavark's JSON at all is still refused.
    let e = parse(&args(&["teardown", "/run/netns/c1"]), b"{}").unwrap_err();
    assert!(e.contains("container_id"), "{e}");
}

/// A macvlan network: option `driver=macvlan` with the parent in `network_interface` (as
/// netavark's own macvlan driver) or option `parent`; the macvlan options without the driver
/// are refused naming them.
#[test]
fn macvlan_networks_map_driver_parent_and_options() {
    use crate::engine::network::MacvlanRequest;
    use crate::model::MacvlanMode;
    let setup_of = |n: Value| {
        let mut x = exec_input();
        x["network"] = n;
        x["port_mappings"] = json!(null);
        parse(&args(&["setup", "/run/netns/c1"]), &bytes(&x))
    };
    let mut n = network();
    n["network_interface"] = json!("eth9");
    n["options"] = json!({"driver": "macvlan", "mode": "vepa", "ip_range": "10.77.0.64/27",
                          "host_access": "false"});
    let Ok(Call::Setup(req)) = setup_of(n) else {
        panic!("setup refused")
    };
    assert_eq!(
        req.network.params.macvlan,
        Some(MacvlanRequest {
            parent: "eth9".into(),
            mode: MacvlanMode::Vepa,
            ip_range: Some("10.77.0.64/27".parse().unwrap()),
            host_access: false,
        })
    );
    assert_eq!(req.network.params.bridge, None, "the parent is no bridge");
    let mut n = network();
    n["options"] = json!({"driver": "macvlan", "parent": "eth8"});
    let Ok(Call::Setup(req)) = setup_of(n) else {
        panic!("setup refused")
    };
    assert_eq!(req.network.params.macvlan.unwrap().parent, "eth8");
    for (opts, needle) in [
        (json!({"driver": "macvlan"}), "needs its parent"),
        (json!({"parent": "eth0"}), "driver=macvlan"),
        (json!({"driver": "ipvlan"}), "bridge and macvlan"),
    ] {
        let mut n = network();
        n["options"] = opts.clone();
        let e = format!("{:?}", setup_of(n).err());
        assert!(e.contains(needle), "{opts}: {e}");
    }
}
