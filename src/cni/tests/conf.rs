//! The network configuration: podnet's keys, the bridge plugin's, ipam forms, unknown keys,
//! and every wrong type or value with its code and field.

use serde_json::{json, Map, Value};

use crate::cni::conf::{parse, NetworkParams};
use crate::cni::ipam::Ipam;
use crate::cni::result::Route;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn with(extra: Value) -> Map<String, Value> {
    let mut m = obj(json!({"cniVersion": "1.1.0", "name": "lab", "type": "podnet"}));
    m.extend(obj(extra));
    m
}

fn params(subnet: Option<&str>, gateway: Option<&str>) -> NetworkParams {
    NetworkParams {
        subnet: subnet.map(|s| s.parse().unwrap()),
        gateway: gateway.map(|s| s.parse().unwrap()),
        bridge: None,
        mtu: None,
        internal: false,
        icc: true,
        ipv6: None,
        subnet6: None,
        nat6: None,
        macvlan: None,
    }
}

#[test]
fn podnet_keys_mirror_network_create() {
    let c = parse(&with(json!({
        "subnet": "10.90.0.0/24", "gateway": "10.90.0.254", "bridge": "pn-lab",
        "mtu": 1400, "internal": true, "icc": false,
        "root": "/var/lib/podnet-k8s", "runDir": "/run/podnet-k8s"
    })))
    .unwrap();
    assert_eq!(
        c.network,
        NetworkParams {
            subnet: Some("10.90.0.0/24".parse().unwrap()),
            gateway: Some("10.90.0.254".parse().unwrap()),
            bridge: Some("pn-lab".into()),
            mtu: Some(1400),
            internal: true,
            icc: false,
            ipv6: None,
            subnet6: None,
            nat6: None,
            macvlan: None,
        }
    );
    assert_eq!(c.name, "lab");
    assert_eq!(c.plugin_type, "podnet");
    assert_eq!(c.ipam, Ipam::Podnet);
    assert_eq!(
        c.root.as_deref(),
        Some(std::path::Path::new("/var/lib/podnet-k8s"))
    );
    assert_eq!(
        c.run_dir.as_deref(),
        Some(std::path::Path::new("/run/podnet-k8s"))
    );
}

#[test]
fn defaults_unknown_keys_and_bridge_plugin_keys() {
    let c = parse(&with(json!({
        "isGateway": true, "ipMasq": true, "hairpinMode": true, "keyA": ["x"],
        "capabilities": {"portMappings": true}, "args": {"podman_labels": {"a": "b"}},
        "cni.dev/future": 1, "dns": {"nameservers": ["10.0.0.1"], "search": ["x.local"]}
    })))
    .unwrap();
    assert_eq!(c.network, params(None, None));
    assert_eq!(c.dns.nameservers, vec!["10.0.0.1".to_owned()]);
    assert_eq!(c.dns.search, vec!["x.local".to_owned()]);
    assert_eq!(c.raw["keyA"], json!(["x"]));
    // What Podman 4 writes for a network (its conflist entry, with podnet as the type).
    let c = parse(&with(json!({
        "bridge": "cni-podman1", "isGateway": true, "ipMasq": true, "hairpinMode": true,
        "ipam": {"type": "podnet", "routes": [{"dst": "0.0.0.0/0"}],
                 "ranges": [[{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]]}
    })))
    .unwrap();
    let mut want = params(Some("10.89.0.0/24"), Some("10.89.0.1"));
    want.bridge = Some("cni-podman1".into());
    assert_eq!(c.network, want);
    assert_eq!(
        c.routes,
        vec![Route::new("0.0.0.0/0".parse().unwrap(), None)]
    );
}

#[test]
fn ipam_forms_settle_one_subnet() {
    let table: [(Value, Option<&str>, Option<&str>); 7] = [
        (json!({}), None, None),
        (json!({"ipam": null}), None, None),
        (json!({"ipam": {}}), None, None),
        (
            json!({"ipam": {"type": ""}, "subnet": "10.1.0.0/16"}),
            Some("10.1.0.0/16"),
            None,
        ),
        (
            json!({"ipam": {"subnet": "10.2.0.0/16", "gateway": "10.2.0.9"}}),
            Some("10.2.0.0/16"),
            Some("10.2.0.9"),
        ),
        (
            json!({"subnet": "10.3.0.0/16", "ipam": {"ranges": [[{"subnet": "10.3.0.0/16"}]]}}),
            Some("10.3.0.0/16"),
            None,
        ),
        (
            json!({"ipam": {"routes": [{"dst": "0.0.0.0/0", "gw": "10.4.0.1"}], "subnet": "10.4.0.0/24"}}),
            Some("10.4.0.0/24"),
            None,
        ),
    ];
    for (extra, subnet, gateway) in table {
        let c = parse(&with(extra.clone())).unwrap_or_else(|e| panic!("{extra}: {e:?}"));
        assert_eq!(c.network, params(subnet, gateway), "{extra}");
        assert_eq!(c.ipam, Ipam::Podnet, "{extra}");
    }
}

#[test]
fn a_named_ipam_plugin_is_delegated_with_the_whole_config() {
    let conf = with(
        json!({"ipam": {"type": "host-local", "ranges": [[{"subnet": "10.5.0.0/16"}, {"subnet": "10.6.0.0/16"}]], "whatever": 1}}),
    );
    let c = parse(&conf).unwrap();
    assert_eq!(
        c.ipam,
        Ipam::Delegate {
            plugin: "host-local".into()
        }
    );
    assert_eq!(c.raw, Value::Object(conf));
}

#[test]
fn ipv6_keys_mirror_network_create_ipv6() {
    let dual = |extra: Value| {
        let n = parse(&with(extra)).unwrap().network;
        (n.ipv6, n.subnet6.map(|s| s.to_string()), n.nat6)
    };
    assert_eq!(dual(json!({})), (None, None, None));
    assert_eq!(dual(json!({"ipv6": true})), (Some(true), None, None));
    assert_eq!(dual(json!({"ipv6": false})), (Some(false), None, None));
    assert_eq!(
        dual(json!({"subnet6": "fd00:91::/64"})),
        (Some(true), Some("fd00:91::/64".into()), None)
    );
    assert_eq!(
        dual(json!({"subnet6": "fd00:91::/64", "ipv6": true, "ipv6Nat": false})),
        (Some(true), Some("fd00:91::/64".into()), Some(false))
    );
}

/// Every wrong input with its code and the field the message names.
#[test]
fn wrong_types_and_values_name_the_field() {
    let table: [(Value, u32, &str); 40] = [
        (json!({"name": null}), 7, "name"),
        (json!({"name": ""}), 7, "name"),
        (json!({"name": 5}), 7, "name"),
        (json!({"name": "-lab"}), 7, "name"),
        (json!({"name": "a/b"}), 7, "name"),
        (json!({"type": null}), 7, "type"),
        (json!({"type": ["podnet"]}), 7, "type"),
        (json!({"subnet": 10}), 7, "subnet"),
        (json!({"subnet": "10.0.0.0"}), 7, "subnet"),
        (json!({"subnet": "fd00::/64"}), 2, "subnet"),
        (json!({"gateway": "10.0.0.300"}), 7, "gateway"),
        (json!({"gateway": "fd00::1"}), 2, "gateway"),
        (json!({"bridge": "a very long bridge"}), 7, "bridge"),
        (json!({"bridge": true}), 7, "bridge"),
        (json!({"mtu": "1500"}), 7, "mtu"),
        (json!({"mtu": -1}), 7, "mtu"),
        (json!({"mtu": 67}), 7, "mtu"),
        (json!({"internal": "yes"}), 7, "internal"),
        (json!({"icc": 1}), 7, "icc"),
        (json!({"ipv6": "yes"}), 7, "ipv6"),
        (json!({"subnet6": "10.0.0.0/24"}), 7, "subnet6"),
        (json!({"subnet6": "fd00:91::"}), 7, "subnet6"),
        (
            json!({"subnet6": "fd00:91::/64", "ipv6": false}),
            7,
            "subnet6",
        ),
        (json!({"ipv6Nat": false}), 7, "ipv6Nat"),
        (json!({"isGateway": false}), 2, "isGateway"),
        (json!({"ipMasq": false}), 2, "ipMasq"),
        (json!({"ipMasq": true, "internal": true}), 7, "ipMasq"),
        (json!({"root": "relative/dir"}), 7, "root"),
        (
            json!({"dns": {"nameservers": "10.0.0.1"}}),
            7,
            "dns.nameservers",
        ),
        (json!({"dns": []}), 7, "dns"),
        (
            json!({"ipam": {"ranges": [[["10.0.0.0/8"]]]}}),
            7,
            "ipam.ranges[0][0]",
        ),
        (
            json!({"ipam": {"routes": [["0.0.0.0/0"]]}}),
            7,
            "ipam.routes[0]",
        ),
        (json!({"ipam": "podnet"}), 7, "ipam"),
        (json!({"ipam": {"type": 3}}), 7, "ipam.type"),
        (json!({"ipam": {"type": "../x"}}), 7, "ipam.type"),
        (
            json!({"subnet": "10.1.0.0/16", "ipam": {"subnet": "10.2.0.0/16"}}),
            7,
            "ipam.subnet",
        ),
        (
            json!({"ipam": {"ranges": [[{"subnet": "10.1.0.0/16"}], [{"subnet": "10.2.0.0/16"}]]}}),
            2,
            "ipam.ranges",
        ),
        (
            json!({"ipam": {"ranges": [[{"subnet": "10.1.0.0/16", "rangeStart": "10.1.0.10"}]]}}),
            2,
            "ipam.ranges",
        ),
        (
            json!({"ipam": {"routes": [{"dst": "192.168.0.0/16"}]}}),
            2,
            "ipam.routes[0]",
        ),
        (
            json!({"ipam": {"subnet": "10.1.0.0/24", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.7"}]}}),
            2,
            "ipam.routes[0]",
        ),
    ];
    for (extra, code, field) in table {
        let e = parse(&with(extra.clone())).unwrap_err();
        assert_eq!(e.code, code, "{extra}: {e:?}");
        // Code 2 names key and value in `msg` and says why in `details`.
        let in_details = code == 2 || e.details.contains(field);
        assert!(
            e.msg.contains(field) && in_details,
            "{extra}: want {field:?} in {e:?}"
        );
    }
}

#[test]
fn unsupported_values_carry_key_and_value_in_the_message() {
    let e = parse(&with(json!({"isGateway": false}))).unwrap_err();
    assert_eq!(e.msg, "unsupported field: isGateway=false");
    let e = parse(&with(json!({"subnet": "fd00::/64"}))).unwrap_err();
    assert_eq!(e.msg, "unsupported field: subnet=\"fd00::/64\"");
}

/// A macvlan network in podnet's conflist (`"mode": "macvlan"`) and in the reference macvlan
/// plugin's shape (`master` + a kernel `mode`) reads as the same request; the macvlan keys
/// without the mode are refused, naming the key.
#[test]
fn macvlan_keys() {
    use crate::engine::network::MacvlanRequest;
    use crate::model::MacvlanMode;
    let parse_obj = |v: serde_json::Value| {
        let mut o = json!({"cniVersion": "1.0.0", "name": "lan", "type": "podnet",
                           "subnet": "192.168.1.0/24", "gateway": "192.168.1.1"});
        for (k, x) in v.as_object().unwrap() {
            o[k] = x.clone();
        }
        parse(o.as_object().unwrap())
    };
    let want = MacvlanRequest {
        parent: "eth0".into(),
        mode: MacvlanMode::Bridge,
        ip_range: Some("192.168.1.192/27".parse().unwrap()),
        host_access: true,
    };
    let ours = parse_obj(json!({"mode": "macvlan", "parent": "eth0",
                                "ipRange": "192.168.1.192/27", "hostAccess": true}))
    .unwrap();
    assert_eq!(ours.network.macvlan.as_ref(), Some(&want));
    let reference = parse_obj(json!({"master": "eth0", "mode": "bridge",
                                     "ipRange": "192.168.1.192/27", "hostAccess": true}))
    .unwrap();
    assert_eq!(reference.network.macvlan, Some(want));
    let vepa = parse_obj(json!({"master": "eth0", "mode": "vepa"})).unwrap();
    assert_eq!(vepa.network.macvlan.unwrap().mode, MacvlanMode::Vepa);
    assert_eq!(parse_obj(json!({})).unwrap().network.macvlan, None);
    for (v, key) in [
        (json!({"mode": "macvlan"}), "master"),
        (json!({"ipRange": "192.168.1.0/28"}), "mode"),
        (json!({"mode": "source", "master": "eth0"}), "mode"),
    ] {
        let e = parse_obj(v.clone()).unwrap_err();
        assert!(format!("{e:?}").contains(key), "{v}: {e:?}");
    }
}
