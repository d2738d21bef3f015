//! podnet's anti-spoofing elements as the kernel holds them (`nft -j`), and what they must be
//! according to the containers that exist (`podnet ps` plus each `eth0` read in its own
//! namespace).

use super::*;
use podnet::testbed::Sandbox;
use std::collections::BTreeSet;

/// `(port, MAC, IPv4)` of one allowed source.
pub type Source = (String, String, String);

/// The elements of `bridge podnet`'s `container_ports` and `port_sources` (empty when the
/// table does not exist).
pub fn guard_elements(sb: &Sandbox) -> (BTreeSet<String>, BTreeSet<Source>) {
    let mut c = sb.cmd("nft");
    c.args(["-j", "list", "table", "bridge", "podnet"]);
    let out = output(c);
    if !out.status.success() {
        return Default::default();
    }
    let v = parse(
        "nft -j list table bridge podnet",
        &podnet::testbed::stdout(&out),
    );
    let set = |name: &str| -> Vec<Value> {
        as_list(v["nftables"].clone())
            .into_iter()
            .filter_map(|o| o.get("set").cloned())
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no set {name} in bridge podnet: {v}"))
            .get("elem")
            .and_then(|e| e.as_array().cloned())
            .unwrap_or_default()
    };
    let ports = set("container_ports")
        .iter()
        .map(|e| e.as_str().unwrap_or_else(|| panic!("{e}")).to_string())
        .collect();
    let sources = set("port_sources")
        .iter()
        .map(|e| {
            let f = as_list(e["concat"].clone());
            let f: Vec<String> = f.iter().map(|x| x.as_str().unwrap().to_string()).collect();
            (f[0].clone(), f[1].clone(), f[2].clone())
        })
        .collect();
    (ports, sources)
}

/// Every container's port on each bridge it is on, with the MAC its interface really has.
pub fn expected_guards(sb: &Sandbox) -> (BTreeSet<String>, BTreeSet<Source>) {
    let mut ports = BTreeSet::new();
    let mut sources = BTreeSet::new();
    for c in ps(sb) {
        // Every network it is on (a container connected to several has a port on each).
        for n in as_list(c["networks"].clone()) {
            let Some(veth) = n["host_veth"].as_str() else {
                continue;
            };
            let link = as_list(ip_json_in(
                sb,
                s(&c, "netns"),
                &["link", "show", s(&n, "ifname")],
            ));
            ports.insert(veth.to_string());
            sources.insert((
                veth.to_string(),
                s(&link[0], "address").to_string(),
                s(&n, "ip").to_string(),
            ));
        }
    }
    (ports, sources)
}

/// The kernel's anti-spoofing elements are exactly those of the containers that exist.
pub fn assert_guards_match(sb: &Sandbox, what: &str) {
    assert_eq!(
        guard_elements(sb),
        expected_guards(sb),
        "{what}: anti-spoofing elements"
    );
}
