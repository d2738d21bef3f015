//! Issue 8, items 5 (netavark part): bad setup requests, through netavark 2.1 (or, where
//! netavark itself refuses first, to the plugin as netavark runs it), each answered in
//! netavark's error shape with podnet's one line naming the input, leaving nothing; and
//! teardowns that must succeed and leave nothing whatever state they meet.

mod common;

use common::nv::*;
use common::*;
use podnet::testbed::clients::output_with_stdin;
use podnet::testbed::Sandbox;
use serde_json::{json, Value};
use std::process::Output;

const PORT: u16 = 18090;

/// `PLUGINS/podnet ARGS` with `input`, as netavark runs it (the plugin's own shape).
fn direct(sb: &Sandbox, args: &[&str], input: &[u8]) -> Output {
    let mut c = sb.cmd(format!("{PLUGINS}/podnet"));
    c.args(args);
    output_with_stdin(c, input)
}

/// A sandbox with network `pods` (10.89.70.0/24) made by `netavark create` and container
/// `keep` at 10.89.70.10 publishing PORT: what the bad requests collide with.
fn bed() -> (Sandbox, Value, Value) {
    let sb = nv_sandbox();
    let pods = create(
        &sb,
        &network("pods", json!({"subnets": [{"subnet": "10.89.70.0/24"}]})),
    );
    ok(
        "netns",
        sb.sh("ip netns add keep && ip netns add c1 && touch /run/plain"),
    );
    let keep = container(
        "kk",
        "keep",
        &pods,
        json!({"static_ips": ["10.89.70.10"]}),
        json!([{"container_port": 80, "host_ip": "", "host_port": PORT, "protocol": "tcp", "range": 1}]),
    );
    setup(&sb, "/run/netns/keep", &keep);
    (sb, pods, keep)
}

#[test]
fn bad_setup_requests_are_refused_in_netavarks_shape_and_leave_nothing() {
    let (sb, pods, keep) = bed();
    let c1 = |opts: Value, ports: Value| container("c1", "c1", &pods, opts, ports);
    let with_net = |f: &dyn Fn(&mut Value)| {
        let mut n = pods.clone();
        f(&mut n);
        container("c1", "c1", &n, json!({}), Value::Null)
    };
    let port = |p: Value| json!([p]);
    enum Via {
        Netavark(&'static str, Value),
        Plugin(&'static str, Vec<u8>),
    }
    use Via::*;
    let ns = "/run/netns/c1";
    let table: Vec<(Via, &str)> = vec![
        // The namespace.
        (
            Netavark("/run/netns/nope", c1(json!({}), Value::Null)),
            "invalid namespace path",
        ),
        (
            Plugin(
                "/run/netns/nope",
                plugin_input(&c1(json!({}), Value::Null))
                    .to_string()
                    .into_bytes(),
            ),
            "/run/netns/nope",
        ),
        (
            Plugin(
                "/run/plain",
                plugin_input(&c1(json!({}), Value::Null))
                    .to_string()
                    .into_bytes(),
            ),
            "/run/plain",
        ),
        (
            Plugin(
                "/run/netns/keep",
                plugin_input(&container("c9", "c9", &pods, json!({}), Value::Null))
                    .to_string()
                    .into_bytes(),
            ),
            "interface eth0 already exists in the container's namespace",
        ),
        // The JSON.
        (Plugin(ns, b"".to_vec()), "setup input on stdin"),
        (
            Plugin(ns, b"{\"container_id\": ".to_vec()),
            "setup input on stdin",
        ),
        (
            Plugin(ns, json!({"container_id": "x"}).to_string().into_bytes()),
            "container_name",
        ),
        (
            Plugin(
                ns,
                plugin_input(&c1(json!({"interface_name": "a/b"}), Value::Null))
                    .to_string()
                    .into_bytes(),
            ),
            "interface_name",
        ),
        // The network.
        (
            Netavark(ns, with_net(&|n| n["options"] = json!({"vlan": "5"}))),
            "option vlan is not podnet's",
        ),
        (
            Netavark(ns, with_net(&|n| n["options"] = json!({"mtu": "9000"}))),
            "mtu 1500, the configuration says 9000",
        ),
        (
            Netavark(
                ns,
                with_net(&|n| {
                    n["subnets"] = json!([{"subnet": "10.89.71.0/24", "gateway": "10.89.71.1"}])
                }),
            ),
            "subnet 10.89.70.0/24",
        ),
        (
            Netavark(
                ns,
                with_net(&|n| {
                    n["name"] = json!("a-name-over-15-chars");
                }),
            ),
            "use at most 15",
        ),
        (
            Netavark(
                ns,
                with_net(&|n| n["ipam_options"] = json!({"driver": "dhcp"})),
            ),
            "IPAM driver \"dhcp\"",
        ),
        // The container's address and MAC.
        (
            Netavark(ns, c1(json!({"static_ips": ["10.89.99.5"]}), Value::Null)),
            "10.89.99.5",
        ),
        (
            Netavark(ns, c1(json!({"static_ips": ["10.89.70.1"]}), Value::Null)),
            "gateway",
        ),
        (
            Netavark(ns, c1(json!({"static_ips": ["10.89.70.10"]}), Value::Null)),
            "already taken",
        ),
        (
            Netavark(
                ns,
                c1(
                    json!({"static_ips": ["10.89.70.20", "10.89.70.21"]}),
                    Value::Null,
                ),
            ),
            "one address",
        ),
        (
            Netavark(ns, c1(json!({"static_ips": ["fd00::5"]}), Value::Null)),
            "static_ips needs IPv6 on network",
        ),
        (
            Netavark(
                ns,
                c1(json!({"static_mac": "zz:00:00:00:00:01"}), Value::Null),
            ),
            "static_mac",
        ),
        (
            Netavark(
                ns,
                c1(json!({"static_mac": "01:00:5e:00:00:01"}), Value::Null),
            ),
            "static_mac",
        ),
        // Published ports.
        (
            Netavark(
                ns,
                c1(
                    json!({}),
                    port(
                        json!({"container_port": 80, "host_ip": "", "host_port": PORT, "protocol": "tcp", "range": 1}),
                    ),
                ),
            ),
            "18090",
        ),
        (
            Netavark(
                ns,
                c1(
                    json!({}),
                    port(
                        json!({"container_port": 80, "host_ip": "", "host_port": 18091, "protocol": "icmp", "range": 1}),
                    ),
                ),
            ),
            "icmp",
        ),
        (
            Netavark(
                ns,
                c1(
                    json!({}),
                    port(
                        json!({"container_port": 80, "host_ip": "", "host_port": 65535, "protocol": "tcp", "range": 2}),
                    ),
                ),
            ),
            "passes 65535",
        ),
        (
            Netavark(
                ns,
                c1(
                    json!({}),
                    port(
                        json!({"container_port": 80, "host_ip": "fd00::1", "host_port": 18092, "protocol": "tcp", "range": 1}),
                    ),
                ),
            ),
            "network 'pods' has no IPv6",
        ),
        // The same container and interface already attached elsewhere.
        (
            Netavark(ns, container("kk", "keep", &pods, json!({}), Value::Null)),
            "already has eth0",
        ),
    ];
    let before = view(&sb);
    for (via, needle) in &table {
        let (what, out) = match via {
            Netavark(netns, input) => (
                format!("netavark setup {netns} {input}"),
                call(&sb, "setup", netns, input, &[]),
            ),
            Plugin(netns, input) => (
                format!("podnet setup {netns} {}", String::from_utf8_lossy(input)),
                direct(&sb, &["setup", netns], input),
            ),
        };
        let msg = nv_error(&what, &out);
        assert!(!msg.contains('\n'), "{what}: one line: {msg}");
        if matches!(via, Plugin(..)) || !msg.starts_with("invalid namespace path") {
            assert!(msg.contains("podnet: "), "{what}: {msg}");
        }
        assert!(msg.contains(needle), "{what}: {needle:?} not in {msg}");
        // Inputs are named as Podman's JSON names them, never by a CLI flag.
        assert!(!msg.contains(" --"), "{what}: {msg}");
        assert_eq!(view(&sb), before, "{what} changed something");
    }
    // `keep` still works as before.
    invariants::assert_consistent(&sb, "after the bad requests");
    assert_eq!(nv_rows(&sb).len(), 1, "{:?}", nv_rows(&sb));
    teardown(&sb, "/run/netns/keep", &keep);
}

/// teardown succeeds and leaves nothing: never set up, unknown network, no podnet state at
/// all, a namespace already gone, input setup would refuse; setup again of an attached
/// container answers the same attachment.
#[test]
fn teardown_always_succeeds_and_leaves_nothing() {
    // No podnet state at all: success, and no state is made.
    let empty = nv_sandbox();
    ok("netns", empty.sh("ip netns add c1"));
    let n = network(
        "pods",
        json!({"subnets": [{"subnet": "10.89.72.0/24", "gateway": "10.89.72.1"}], "network_interface": "pn-pods"}),
    );
    let input = container("c1", "c1", &n, json!({}), Value::Null);
    ok(
        "teardown, no state",
        call(&empty, "teardown", "/run/netns/c1", &input, &[]),
    );
    let files = ok(
        "state dir",
        empty.sh("ls -A /var/lib/podnet 2>/dev/null; ls -A /run/podnet 2>/dev/null; true"),
    );
    assert_eq!(files.trim(), "", "teardown made state");

    let (sb, pods, keep) = bed();
    let before = view(&sb);
    let c1 = container("c1", "c1", &pods, json!({}), Value::Null);
    let other = container(
        "c1",
        "c1",
        &network("nonet", json!({})),
        json!({}),
        Value::Null,
    );
    let refused = {
        let mut x = c1.clone();
        x["network_info"]["pods"]["options"] = json!({"vlan": "5"});
        x
    };
    for (what, input) in [
        ("never set up", &c1),
        ("unknown network", &other),
        ("input setup refuses", &refused),
    ] {
        for round in 0..2 {
            ok(
                &format!("teardown {what} #{round}"),
                call(&sb, "teardown", "/run/netns/c1", input, &[]),
            );
            assert_eq!(view(&sb), before, "teardown {what} changed something");
        }
    }

    // Setup again in the same namespace: the same attachment (a retry after a lost answer).
    let first = setup(&sb, "/run/netns/c1", &c1);
    let again = setup(&sb, "/run/netns/c1", &c1);
    assert_eq!(first, again);
    assert_eq!(nv_rows(&sb).len(), 2);
    // Input setup would refuse still finds the attachment to tear down.
    ok(
        "teardown refused input",
        call(&sb, "teardown", "/run/netns/c1", &refused, &[]),
    );
    assert_eq!(nv_rows(&sb).len(), 1);

    // The namespace is gone before teardown (the container's processes died with it).
    setup(&sb, "/run/netns/c1", &c1);
    ok("netns gone", sb.sh("ip netns del c1"));
    for round in 0..2 {
        ok(
            &format!("teardown, netns gone #{round}"),
            call(&sb, "teardown", "/run/netns/c1", &c1, &[]),
        );
    }
    sb.wait_until("c1's veth gone", std::time::Duration::from_secs(60), || {
        pnv_links(&sb).len() == 1
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", pnv_links(&sb)));
    teardown(&sb, "/run/netns/keep", &keep);
    invariants::assert_consistent(&sb, "after the teardowns");
    assert_eq!(nv_rows(&sb), vec![]);
    let elements = invariants::nft_elements(&sb);
    for set in [
        "ip podnet ports",
        "ip podnet ports_any",
        "bridge podnet port_sources",
        "bridge podnet container_ports",
    ] {
        assert_eq!(elements[set].len(), 0, "{set}: {elements:?}");
    }
    assert_eq!(pnv_links(&sb), Vec::<String>::new());
}
