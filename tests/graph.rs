//! Issue 12, acceptance 1: `podnet graph` after a scripted scene lists exactly the scene's
//! objects and links (JSON), flags a veth made by hand that no record owns, and draws an SVG
//! a real XML parser reads with every container's name in it.

mod common;

use common::graph::{scene, CONTAINERS};
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::Stdio;

fn ids(g: &Value) -> BTreeSet<String> {
    g["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| s(n, "id").to_string())
        .collect()
}

fn edges(g: &Value) -> BTreeSet<(String, String, String)> {
    g["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| (s(e, "kind").into(), s(e, "from").into(), s(e, "to").into()))
        .collect()
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn json_lists_exactly_the_scene_and_flags_an_orphan_veth() {
    let sb = sandbox();
    scene(&sb);
    let g = podnet_json(&sb, &["graph"]);
    assert_eq!(g["version"], 1, "{g}");
    // The default network exists too: podnet makes it with the first network (the service
    // range's route is on its bridge).
    let mut want = set([
        "host",
        "network:app",
        "network:db",
        "network:podnet0",
        "port:tcp/0.0.0.0:8080",
        "service:api",
    ]);
    want.extend(CONTAINERS.iter().map(|c| format!("container:{c}")));
    assert_eq!(ids(&g), want, "{g:#}");
    let e = |k: &str, f: &str, t: &str| (k.to_string(), f.to_string(), t.to_string());
    let want_edges: BTreeSet<_> = [
        e("bridge", "host", "network:app"),
        e("bridge", "host", "network:db"),
        e("bridge", "host", "network:podnet0"),
        e("veth", "network:app", "container:web"),
        e("veth", "network:app", "container:api1"),
        e("veth", "network:app", "container:api2"),
        e("veth", "network:db", "container:pg"),
        e("veth", "network:db", "container:cache"),
        e("shares", "container:side", "container:web"),
        e("host_mode", "container:hostp", "host"),
        e("publishes", "port:tcp/0.0.0.0:8080", "container:web"),
        e("backend", "service:api", "container:api1"),
        e("backend", "service:api", "container:api2"),
    ]
    .into();
    assert_eq!(edges(&g), want_edges, "{g:#}");
    assert_eq!(
        g["flags"],
        serde_json::json!([]),
        "a fresh scene has no flags"
    );
    // Details come from the kernel: web's eth0 has its recorded address, and its default
    // route goes through app's gateway.
    let web = &g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "container:web")
        .unwrap();
    let ip = s(&inspect(&sb, "web"), "ip").to_string();
    let eth0 = web["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth0");
    let addrs = &eth0.unwrap_or_else(|| panic!("no eth0 in {web}"))["addresses"];
    assert_eq!(addrs[0], format!("{ip}/24"), "{web}");
    let default = web["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dst"] == "default");
    assert_eq!(
        default.unwrap_or_else(|| panic!("{web}"))["via"],
        "10.90.0.1"
    );

    // A veth made by hand onto app's bridge: no record owns it.
    ok(
        "make an orphan veth",
        sb.sh(
            "ip link add orphan0 type veth peer name orphan1 && ip link set orphan0 master pn-app",
        ),
    );
    let g = podnet_json(&sb, &["graph"]);
    let flags = g["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0]["kind"], "orphan_link", "{flags:?}");
    assert_eq!(flags[0]["subject"], "link:orphan0", "{flags:?}");
    assert!(
        edges(&g).contains(&e("enslaved", "link:orphan0", "network:app")),
        "{g:#}"
    );
    // The text form says it too.
    let text = podnet_ok(&sb, &["graph"]);
    assert!(
        text.contains("orphan0") && text.contains("no owner"),
        "{text}"
    );
}

#[test]
fn svg_parses_and_names_every_container() {
    let sb = sandbox();
    scene(&sb);
    let svg = podnet_ok(&sb, &["graph", "--format", "svg"]);
    // A real XML parser (python3's) reads it; it lists the texts of every <g> node group.
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
    let parsed = ok("parse the SVG", py.wait_with_output().unwrap());
    for c in CONTAINERS {
        assert!(
            parsed.lines().any(|l| l == format!("container:{c} | {c}")),
            "{c} is not drawn:\n{parsed}"
        );
    }
    // The dot form names them too.
    let dot = podnet_ok(&sb, &["graph", "--format", "dot"]);
    for c in CONTAINERS {
        assert!(
            dot.contains(&format!("\"container:{c}\"")),
            "{c} not in:\n{dot}"
        );
    }
}

#[test]
fn one_network_shows_what_leads_to_it() {
    let sb = sandbox();
    scene(&sb);
    let g = podnet_json(&sb, &["graph", "--network", "app"]);
    let want = set([
        "host",
        "network:app",
        "container:web",
        "container:api1",
        "container:api2",
        "container:side",
        "port:tcp/0.0.0.0:8080",
        "service:api",
    ]);
    assert_eq!(ids(&g), want, "{g:#}");
}

#[test]
fn bad_input_is_refused() {
    let sb = sandbox();
    // Said before the state is looked at: a fresh host has none yet.
    let fresh = sb.podnet(["ui", "--listen", "0.0.0.0:7070"]);
    assert_bad_input("ui on a fresh host", &fresh, "loopback");
    podnet_ok(&sb, &["network", "create", "app"]);
    let table: &[(&[&str], &str)] = &[
        (&["graph", "--network", "nope"], "nope"),
        (&["ps", "--format", "svg"], "graph"),
        (&["ui", "--listen", "0.0.0.0:7070"], "loopback"),
        (&["ui", "--listen", "nonsense"], "--listen"),
    ];
    for (args, needle) in table {
        assert_bad_input(&args.join(" "), &sb.podnet(*args), needle);
    }
}
