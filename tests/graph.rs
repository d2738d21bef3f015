//! Issue 12, acceptance 1: `podnet graph` after a scripted scene lists exactly the scene's
//! objects and links (JSON), flags a veth made by hand that no record owns, and draws an SVG
//! a real XML parser reads with every container's name in it. A macvlan network (issue 13)
//! on a real LAN lab shows as parent -> network -> containers with its shim, and a shim
//! deleted by hand is flagged.

mod common;

use common::graph::*;
use common::macvlan::{create_lan, lan_lab, PARENT};
use common::*;
use std::collections::BTreeSet;

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
    let e = edge;
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
    let web = node(&g, "container:web");
    let ip = s(&inspect(&sb, "web"), "ip").to_string();
    assert_eq!(addresses(web, "eth0")[0], format!("{ip}/24"), "{web}");
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
    let parsed = svg_groups(&sb);
    for c in CONTAINERS {
        assert_drawn(&parsed, c);
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

/// A macvlan network with host access on the LAN lab (`common::macvlan`), two containers on
/// it: the graph has the network with its driver, mode and range, the parent, shim and
/// macvlan edges, each container's eth0 with its address; a shim deleted by hand is flagged;
/// the SVG draws both containers.
#[test]
fn a_macvlan_network_shows_parent_shim_and_children() {
    const RANGE: &str = "198.18.0.64/27";
    let lab = lan_lab();
    let sb = &lab.host;
    create_lan(sb, "lan", RANGE, &["--host-access"]);
    for c in ["m1", "m2"] {
        ok(c, sb.podnet(idle_args(c, &["--network", "lan"])));
    }
    let shim = net_inspect(sb, "lan")["macvlan"]["shim"]
        .as_str()
        .expect("a shim with --host-access")
        .to_string();
    let g = podnet_json(sb, &["graph"]);
    // Only what was made: no bridge network, so no default network either.
    assert_eq!(
        ids(&g),
        set(["host", "network:lan", "container:m1", "container:m2"]),
        "{g:#}"
    );
    let n = node(&g, "network:lan");
    for (field, want) in [
        ("driver", "macvlan"),
        ("parent", PARENT),
        ("macvlan_mode", "bridge"),
        ("ip_range", RANGE),
        ("bridge", shim.as_str()),
    ] {
        assert_eq!(n[field], want, "{field}: {n:#}");
    }
    assert_eq!(n["host_access"], true, "{n:#}");
    assert_eq!(n["present"], true, "{n:#}");
    let want: BTreeSet<_> = [
        edge("parent", "host", "network:lan"),
        edge("shim", "host", "network:lan"),
        edge("macvlan", "network:lan", "container:m1"),
        edge("macvlan", "network:lan", "container:m2"),
    ]
    .into();
    assert_eq!(edges(&g), want, "{g:#}");
    assert_eq!(
        detail(&g, "parent", "host", "network:lan"),
        &format!("{PARENT} (bridge mode, range {RANGE})")
    );
    assert_eq!(
        detail(&g, "shim", "host", "network:lan"),
        &format!("{shim} on {PARENT}")
    );
    for c in ["m1", "m2"] {
        let id = format!("container:{c}");
        assert_eq!(
            detail(&g, "macvlan", "network:lan", &id),
            &format!("eth0 on {PARENT}")
        );
        // The kernel's address on the container's eth0 is its recorded one, in the range.
        let ip = s(&inspect(sb, c), "ip").to_string();
        assert!(net(RANGE).contains(&ipv4(&ip)), "{c}: {ip}");
        assert_eq!(addresses(node(&g, &id), "eth0"), vec![format!("{ip}/24")]);
    }
    assert_eq!(g["flags"], serde_json::json!([]), "{g:#}");

    // The shim deleted by hand: the network is flagged, nothing else.
    ok("delete the shim", sb.sh(&format!("ip link del {shim}")));
    let g = podnet_json(sb, &["graph"]);
    let flags = g["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0]["kind"], "missing_bridge", "{flags:?}");
    assert_eq!(flags[0]["subject"], "network:lan", "{flags:?}");
    let message = s(&flags[0], "message");
    assert!(
        message.contains("shim") && message.contains(&shim),
        "{message}"
    );
    // The fix it names is true: after `podnet gc` nothing is flagged.
    assert!(s(&flags[0], "fix").contains("podnet gc"), "{flags:?}");
    podnet_ok(sb, &["gc"]);
    let g = podnet_json(sb, &["graph"]);
    assert_eq!(g["flags"], serde_json::json!([]), "{g:#}");

    let parsed = svg_groups(sb);
    for c in ["m1", "m2"] {
        assert_drawn(&parsed, c);
    }
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
