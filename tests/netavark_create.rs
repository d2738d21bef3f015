//! Issue 8, netavark plugin: `podman network create -d podnet` as netavark 2.1 carries it
//! out (`netavark create` runs `<plugin dir>/podnet create`). The podnet network is made
//! then (or an agreeing one is used); bad requests leave nothing.

mod common;

use common::nv::*;
use common::*;
use serde_json::{json, Value};

fn bridge_addrs(sb: &podnet::testbed::Sandbox, bridge: &str) -> Vec<String> {
    v4_addrs(&ip_json(sb, &["addr", "show", "dev", bridge]), bridge)
        .iter()
        .map(|a| a.to_string())
        .collect()
}

fn podnet_net(sb: &podnet::testbed::Sandbox, name: &str) -> Value {
    networks(sb)
        .into_iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("podnet has no network {name}: {:?}", networks(sb)))
}

#[test]
fn create_makes_the_podnet_network_and_completes_podmans_config() {
    let sb = nv_sandbox();
    // Nothing given: podnet picks the subnet, gateway and bridge.
    let got = create(&sb, &network("pnauto", json!({})));
    let n = podnet_net(&sb, "pnauto");
    assert_eq!(got["subnets"][0]["subnet"], n["subnet"], "{got}");
    assert_eq!(got["subnets"][0]["gateway"], n["gateway"], "{got}");
    assert_eq!(got["network_interface"], n["bridge"], "{got}");
    assert_eq!(got["ipam_options"]["driver"], "none", "{got}");
    assert_eq!(got["dns_enabled"], false);
    assert_eq!(got["driver"], "podnet");
    assert_eq!(got["name"], "pnauto");
    // netavark stamps the creation time on what the plugin returned.
    assert!(got["created"].is_string(), "{got}");
    let gw = format!("{}/{}", s(&n, "gateway"), net(s(&n, "subnet")).prefix_len());
    assert_eq!(bridge_addrs(&sb, s(&n, "bridge")), vec![gw]);

    // Everything given: honoured, bridge made with it.
    let asked = network(
        "pnset",
        json!({
            "network_interface": "nvbr-set",
            "subnets": [{"subnet": "10.93.4.0/24", "gateway": "10.93.4.254"}],
            "internal": true,
            "options": {"mtu": "1400", "icc": "false", "isolate": "true"},
            "labels": {"team": "a"}
        }),
    );
    let got = create(&sb, &asked);
    assert_eq!(
        got["subnets"],
        json!([{"subnet": "10.93.4.0/24", "gateway": "10.93.4.254"}])
    );
    assert_eq!(got["network_interface"], "nvbr-set");
    assert_eq!(
        got["labels"],
        json!({"team": "a"}),
        "unknown fields come back"
    );
    assert_eq!(got["options"], asked["options"]);
    let n = podnet_net(&sb, "pnset");
    assert_eq!(
        (s(&n, "subnet"), s(&n, "gateway"), s(&n, "bridge")),
        ("10.93.4.0/24", "10.93.4.254", "nvbr-set")
    );
    assert_eq!(
        (n["internal"].clone(), n["icc"].clone(), n["mtu"].clone()),
        (json!(true), json!(false), json!(1400))
    );
    let link = as_list(ip_json(&sb, &["link", "show", "dev", "nvbr-set"]));
    assert_eq!(link[0]["mtu"], 1400, "{link:?}");
    assert_eq!(
        bridge_addrs(&sb, "nvbr-set"),
        vec!["10.93.4.254/24".to_owned()]
    );

    // The same request again (Podman recreating a network it had removed: its `network rm`
    // never calls a plugin) finds the same network.
    let again = create(&sb, &asked);
    assert_eq!(again["subnets"], got["subnets"]);
    assert_eq!(networks(&sb).len(), 2);
    invariants::assert_consistent(&sb, "after create");
}

#[test]
fn create_uses_an_existing_podnet_network_that_agrees_and_refuses_one_that_does_not() {
    let sb = nv_sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "lab", "--subnet", "10.94.0.0/24"],
    );
    let got = create(&sb, &network("lab", json!({})));
    assert_eq!(
        got["subnets"],
        json!([{"subnet": "10.94.0.0/24", "gateway": "10.94.0.1"}])
    );
    assert_eq!(got["network_interface"], "pn-lab");
    let before = view(&sb);
    let differs = [
        (
            json!({"subnets": [{"subnet": "10.94.1.0/24"}]}),
            "subnet 10.94.0.0/24, the configuration says 10.94.1.0/24",
        ),
        (
            json!({"internal": true}),
            "internal false, the configuration says true",
        ),
        (
            json!({"options": {"mtu": "9000"}}),
            "mtu 1500, the configuration says 9000",
        ),
        (
            json!({"network_interface": "other0"}),
            "bridge pn-lab, the configuration says other0",
        ),
    ];
    for (extra, needle) in differs {
        let out = create_out(&sb, &network("lab", extra.clone()));
        let msg = nv_error(&format!("create lab {extra}"), &out);
        assert!(msg.contains(needle), "{extra}: {msg}");
        assert!(msg.contains("network 'lab' exists with"), "{msg}");
    }
    assert_eq!(view(&sb), before);
}

/// Bad `create` requests: netavark's error shape (`{"error": ...}`, exit 1) with podnet's
/// one line naming the input, and nothing made. Rows marked `direct` run the plugin the way
/// netavark does but without it (netavark itself refuses malformed JSON first).
#[test]
fn bad_create_requests_are_refused_in_netavarks_shape_and_leave_nothing() {
    let sb = nv_sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "taken", "--subnet", "10.95.0.0/24"],
    );
    let net = |extra: Value| network("bad", extra);
    let nv = |v: Value| (false, v.to_string());
    let table: Vec<((bool, String), &str)> = vec![
        (
            nv(net(json!({"options": {"vlan": "5"}}))),
            "option vlan is not podnet's",
        ),
        (nv(net(json!({"options": {"mtu": "20"}}))), "option mtu=20"),
        (
            nv(net(json!({"options": {"isolate": "false"}}))),
            "always isolates",
        ),
        (
            nv(net(json!({"options": {"icc": "maybe"}}))),
            "option icc=maybe",
        ),
        (
            nv(net(json!({"subnets": [{"subnet": "10.95.0.128/25"}]}))),
            "10.95.0",
        ),
        (
            nv(net(
                json!({"subnets": [{"subnet": "10.96.0.0/24", "gateway": "10.97.0.1"}]}),
            )),
            "10.97.0.1",
        ),
        (
            nv(net(
                json!({"subnets": [{"subnet": "10.96.0.0/24"}, {"subnet": "10.96.1.0/24"}]}),
            )),
            "one subnet",
        ),
        (
            nv(net(
                json!({"subnets": [{"subnet": "fd00::/64"}], "ipv6_enabled": true}),
            )),
            "IPv6-only networks are not supported",
        ),
        (
            nv(net(
                json!({"subnets": [{"subnet": "10.96.0.0/24", "lease_range": {"start_ip": "10.96.0.10"}}]}),
            )),
            "lease range",
        ),
        (
            nv(net(json!({"ipam_options": {"driver": "dhcp"}}))),
            "IPAM driver \"dhcp\"",
        ),
        (
            (
                true,
                net(json!({"network_interface": "has space"})).to_string(),
            ),
            "bridge",
        ),
        (
            nv(net(json!({"options": {"root": "relative"}}))),
            "absolute",
        ),
        (
            nv(network("name-longer-than-15", json!({}))),
            "use at most 15",
        ),
        ((true, "{\"name\": ".into()), "network on stdin"),
        ((true, "[]".into()), "network on stdin"),
        (
            (true, net(json!({})).to_string().replace("\"id\"", "\"ID\"")),
            "missing field `id`",
        ),
        (
            (true, net(json!({"internal": "yes"})).to_string()),
            "internal",
        ),
    ];
    let before = view(&sb);
    for ((direct, input), needle) in &table {
        let out = if *direct {
            let mut c = sb.cmd(format!("{PLUGINS}/podnet"));
            c.arg("create");
            podnet::testbed::clients::output_with_stdin(c, input.as_bytes())
        } else {
            create_out(&sb, &serde_json::from_str(input).unwrap())
        };
        let msg = nv_error(input, &out);
        let plugin_said = if *direct {
            msg.clone()
        } else {
            // What netavark makes of a plugin's error.
            let prefix = "exit code 1, message: ";
            assert!(msg.starts_with(prefix), "{input}: {msg}");
            msg[prefix.len()..].to_owned()
        };
        assert!(plugin_said.starts_with("podnet: "), "{input}: {msg}");
        assert!(!plugin_said.contains('\n'), "{input}: one line: {msg}");
        assert!(
            plugin_said.contains(needle),
            "{input}: {needle:?} not in {msg}"
        );
        // Inputs are named as Podman's JSON names them, never by a CLI flag.
        assert!(!msg.contains(" --"), "{input}: {msg}");
        let after = view(&sb);
        assert_eq!(before, after, "{input} changed something");
    }
}
