//! The scene of the graph and ui acceptance tests (issue 12, acceptance 1 and 5): two
//! networks, five containers, a published port, a service, a `container:` sharer and a
//! host-mode process; and the views of `podnet graph`'s output the graph tests assert on.

use super::service::service;
use super::{ok, podnet_ok, s};
use podnet::testbed::Sandbox;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::Stdio;

/// Every container the scene makes.
pub const CONTAINERS: [&str; 7] = ["web", "api1", "api2", "pg", "cache", "side", "hostp"];

pub fn scene(sb: &Sandbox) {
    let sleep = ["--", "sleep", "infinity"];
    podnet_ok(
        sb,
        &["network", "create", "app", "--subnet", "10.90.0.0/24"],
    );
    podnet_ok(sb, &["network", "create", "db", "--subnet", "10.91.0.0/24"]);
    for (name, net, extra) in [
        ("web", "app", &["-p", "8080:80"][..]),
        ("api1", "app", &["--label", "app=api"][..]),
        ("api2", "app", &["--label", "app=api"][..]),
        ("pg", "db", &[][..]),
        ("cache", "db", &[][..]),
        ("side", "container:web", &[][..]),
        ("hostp", "host", &[][..]),
    ] {
        let mut args = vec!["run", "-d", "--name", name, "--network", net];
        args.extend(extra);
        args.extend(sleep);
        podnet_ok(sb, &args);
    }
    service(sb, "api", &["--port", "80/tcp", "--selector", "app=api"]);
}

/// The ids of a graph's nodes.
pub fn ids(g: &Value) -> BTreeSet<String> {
    g["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| s(n, "id").to_string())
        .collect()
}

/// A graph's edges as (kind, from, to).
pub fn edges(g: &Value) -> BTreeSet<(String, String, String)> {
    g["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| (s(e, "kind").into(), s(e, "from").into(), s(e, "to").into()))
        .collect()
}

/// An edge as `edges` lists it.
pub fn edge(kind: &str, from: &str, to: &str) -> (String, String, String) {
    (kind.into(), from.into(), to.into())
}

/// The detail of the one edge (kind, from, to); panics when there is none.
pub fn detail<'a>(g: &'a Value, kind: &str, from: &str, to: &str) -> &'a Value {
    let found = g["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["kind"] == kind && e["from"] == from && e["to"] == to);
    &found.unwrap_or_else(|| panic!("no {kind} edge {from} -> {to} in {g:#}"))["detail"]
}

/// The node with id `id`; panics when there is none.
pub fn node<'a>(g: &'a Value, id: &str) -> &'a Value {
    let found = g["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["id"] == id);
    found.unwrap_or_else(|| panic!("no node {id} in {g:#}"))
}

/// The addresses on interface `ifname` of container node `c`.
pub fn addresses(c: &Value, ifname: &str) -> Vec<String> {
    let iface = c["interfaces"]
        .as_array()
        .expect("interfaces")
        .iter()
        .find(|i| i["name"] == ifname)
        .unwrap_or_else(|| panic!("no {ifname} in {c}"));
    iface["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|a| a.as_str().expect("an address").to_string())
        .collect()
}

pub fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `podnet graph --format svg` read by a real XML parser (python3's): one line
/// `DATA-ID | FIRST TEXT` per `<g>` node group. Panics unless it parses as SVG.
pub fn svg_groups(sb: &Sandbox) -> String {
    let svg = podnet_ok(sb, &["graph", "--format", "svg"]);
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
for g in root.iter(ns + "g"):
    texts = [t.text or "" for t in g.iter(ns + "text")]
    print(g.get("data-id"), "|", texts[0] if texts else "")
"#;
    let mut py = std::process::Command::new(podnet::testbed::python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    py.stdin.take().unwrap().write_all(svg.as_bytes()).unwrap();
    ok("parse the SVG", py.wait_with_output().unwrap())
}

/// Panics unless `svg_groups`' lines draw container `name` with its name.
pub fn assert_drawn(groups: &str, name: &str) {
    assert!(
        groups
            .lines()
            .any(|l| l == format!("container:{name} | {name}")),
        "{name} is not drawn:\n{groups}"
    );
}
