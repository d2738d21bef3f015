//! Issue 8, acceptance 4: netavark 2.1 as the plugin's real caller. Podman 5's calls
//! (`netavark --plugin-directory DIR setup/teardown NETNS`, a `driver: podnet` network made
//! by `netavark create`) give working containers: addresses, routes, published ports
//! reachable from outside, isolation from another network, shared with `podnet run`
//! containers; teardown (twice) leaves nothing.

mod common;

use common::nv::*;
use common::*;
use serde_json::{json, Value};

const OUTSIDE_PORT: u16 = 18080;

fn addr_in(sb: &podnet::testbed::Sandbox, ns: &str, ifname: &str) -> (Vec<String>, String) {
    let links = as_list(ip_json_in(sb, ns, &["addr", "show", "dev", ifname]));
    let addrs = v4_addrs(&Value::Array(links.clone()), ifname)
        .iter()
        .map(|a| a.to_string())
        .collect();
    (addrs, s(&links[0], "address").to_owned())
}

#[test]
fn netavark_setup_gives_working_containers_and_teardown_twice_leaves_nothing() {
    let lab = nv_lab();
    let sb = &lab.host;
    let pods = create(
        sb,
        &network("pods", json!({"subnets": [{"subnet": "10.89.60.0/24"}]})),
    );
    let others = create(
        sb,
        &network("others", json!({"subnets": [{"subnet": "10.89.61.0/24"}]})),
    );
    let baseline = view(sb);
    ok(
        "netns",
        sb.sh("ip netns add c1 && ip netns add c2 && ip netns add c3"),
    );
    // Podman's IPAM is off on podnet's networks (`create` says so): `--ip` arrives as
    // static_ips, otherwise podnet picks.
    let c1 = container(
        "a1",
        "web",
        &pods,
        json!({"static_ips": ["10.89.60.10"], "static_mac": "02:00:00:aa:bb:01"}),
        json!([{"container_port": 8080, "host_ip": "", "host_port": OUTSIDE_PORT, "protocol": "tcp", "range": 1}]),
    );
    let c2 = container("b2", "client", &pods, json!({}), Value::Null);
    let c3 = container(
        "c3",
        "stranger",
        &others,
        json!({"interface_name": "ens5"}),
        Value::Null,
    );
    let cases = [
        ("c1", &c1, "eth0"),
        ("c2", &c2, "eth0"),
        ("c3", &c3, "ens5"),
    ];
    let mut ips = Vec::new();
    for (ns, input, ifname) in cases {
        let path = format!("/run/netns/{ns}");
        let block = setup(sb, &path, input);
        let iface = &block["interfaces"][ifname];
        let ipnet = s(&iface["subnets"][0], "ipnet").to_owned();
        let (seen, mac) = addr_in(sb, &path, ifname);
        assert_eq!(seen, vec![ipnet.clone()], "{ns}: {block}");
        assert_eq!(s(iface, "mac_address"), mac, "{ns}: {block}");
        let net = &input["network_info"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        let gw = s(&net["subnets"][0], "gateway");
        assert_eq!(s(&iface["subnets"][0], "gateway"), gw);
        let routes = as_list(ip_json_in(sb, &path, &["route", "show", "default"]));
        assert_eq!(routes.len(), 1, "{ns}: {routes:?}");
        assert_eq!(
            (s(&routes[0], "gateway"), s(&routes[0], "dev")),
            (gw, ifname)
        );
        ips.push(ipnet.split('/').next().unwrap().to_owned());
    }
    assert_eq!(ips[0], "10.89.60.10", "static_ips honoured");
    let (_, mac) = addr_in(sb, "/run/netns/c1", "eth0");
    assert_eq!(mac, "02:00:00:aa:bb:01", "static_mac honoured");

    // A `podnet run` container on the same network shares its leases.
    let web2 = run_server(sb, "pnweb", &["--network", "pods"], 8081, "pnweb");
    let web2_ip = s(&web2, "ip").to_owned();
    assert!(!ips.contains(&web2_ip), "{web2_ip} leased twice: {ips:?}");

    must_serve(sb, "/run/netns/c1", 8080, "c1");
    must_serve(sb, "/run/netns/c3", 8080, "c3");
    // Containers of one network reach each other, and the `podnet run` container.
    assert_eq!(tcp_reply(sb, Some("/run/netns/c2"), &ips[0], 8080), "c1");
    assert_eq!(
        tcp_reply(sb, Some("/run/netns/c2"), &web2_ip, 8081),
        "pnweb"
    );
    // The published port, from outside the host.
    assert_eq!(
        tcp_reply(&lab.outside, None, lab.config.host_ip(), OUTSIDE_PORT),
        "c1"
    );
    // Another network's container is out of reach, both ways.
    for (from, to) in [("c2", &ips[2]), ("c3", &ips[0])] {
        if let Ok(got) = connect(sb, Some(&format!("/run/netns/{from}")), to, 8080, 2.0) {
            panic!("{from} reached {to} on another network: {got}");
        }
    }

    // podnet ps shows them with netavark's key and the container's name.
    let id = |p: &str| format!("{p:0>64}");
    assert_eq!(
        nv_rows(sb),
        vec![
            ("client".into(), id("b2"), "eth0".into(), ips[1].clone()),
            ("stranger".into(), id("c3"), "ens5".into(), ips[2].clone()),
            ("web".into(), id("a1"), "eth0".into(), ips[0].clone()),
        ]
    );
    invariants::assert_consistent(sb, "after setup");

    // A podnet service with the netavark container as its backend answers c2 at its VIP.
    let web = ps(sb)
        .into_iter()
        .find(|c| c["runtime"]["k8s_name"] == "web")
        .map(|c| s(&c, "name").to_owned())
        .expect("web in ps");
    podnet_ok(
        sb,
        &[
            "service",
            "create",
            "websvc",
            "--port",
            "80:8080/tcp",
            "--backend",
            &web,
        ],
    );
    let vip = s(&podnet_json(sb, &["service", "inspect", "websvc"]), "vip").to_owned();
    assert_eq!(tcp_reply(sb, Some("/run/netns/c2"), &vip, 80), "c1");
    podnet_ok(sb, &["service", "rm", "websvc"]);
    // Services made the default network (it carries the VIPs' route); not the test's.
    podnet_ok(sb, &["network", "rm", "podnet0"]);

    // Podman stops a container's processes before its teardown: end the servers this test
    // started in c1 and c3 (by PID).
    ok(
        "stop the containers' servers",
        sb.sh("for ns in c1 c3; do for p in $(ip netns pids $ns); do kill $p; done; done"),
    );
    // Teardown, twice each (Podman repeats it after a failed stop; netavark does not mind).
    for (ns, input, _) in cases {
        for round in 0..2 {
            let out = call(sb, "teardown", &format!("/run/netns/{ns}"), input, &[]);
            let text = ok(&format!("teardown {ns} #{round}"), out);
            assert_eq!(text.trim(), "", "teardown prints nothing");
        }
    }
    assert_eq!(nv_rows(sb), vec![]);
    podnet_ok(sb, &["rm", "-f", "pnweb"]);
    // Its veth goes with its namespace, which the kernel destroys on its own time.
    sb.wait_until(
        "pnweb's veth gone",
        std::time::Duration::from_secs(60),
        || pnv_links(sb).is_empty(),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}", pnv_links(sb)));
    invariants::assert_consistent(sb, "after teardown");
    for ns in ["c1", "c2", "c3"] {
        let left = names(&ip_json_in(sb, &format!("/run/netns/{ns}"), &["link"]));
        assert_eq!(left, vec!["lo".to_owned()], "{ns} keeps only lo");
    }
    assert_eq!(view(sb), baseline, "teardown left something");
    // The published port is gone with its container.
    assert!(connect(&lab.outside, None, lab.config.host_ip(), OUTSIDE_PORT, 1.0).is_err());
}

fn must_serve(sb: &podnet::testbed::Sandbox, ns: &str, port: u16, reply: &str) {
    sb.serve(Some(ns), "tcp", "0.0.0.0", port, reply)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Podman starts containers concurrently: 50 parallel `netavark setup` calls (no address
/// asked) get 50 distinct addresses and no error; 50 parallel teardowns leave nothing.
#[test]
fn fifty_parallel_setups_get_fifty_addresses() {
    let sb = nv_sandbox();
    let pods = create(
        &sb,
        &network("pods", json!({"subnets": [{"subnet": "10.89.90.0/24"}]})),
    );
    let baseline = view(&sb);
    ok(
        "netns",
        sb.sh("for i in $(seq 1 50); do ip netns add p$i; done"),
    );
    let inputs: Vec<(String, Value)> = (1..=50)
        .map(|i| {
            let x = container(
                &format!("p{i}"),
                &format!("p{i}"),
                &pods,
                json!({}),
                Value::Null,
            );
            (format!("/run/netns/p{i}"), x)
        })
        .collect();
    let run_all = |verb: &'static str| -> Vec<std::process::Output> {
        std::thread::scope(|s| {
            let handles: Vec<_> = inputs
                .iter()
                .map(|(ns, x)| {
                    let sb = &sb;
                    s.spawn(move || call(sb, verb, ns, x, &[]))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let outs = run_all("setup");
    let mut ips = std::collections::BTreeSet::new();
    for ((ns, _), out) in inputs.iter().zip(&outs) {
        let text = ok(&format!("setup {ns}"), out.clone());
        let v: Value = parse("setup", &text);
        let ipnet = s(&v["pods"]["interfaces"]["eth0"]["subnets"][0], "ipnet").to_owned();
        assert!(ips.insert(ipnet.clone()), "{ipnet} twice");
    }
    assert_eq!(ips.len(), 50);
    assert_eq!(nv_rows(&sb).len(), 50);
    invariants::assert_consistent(&sb, "after 50 setups");
    for ((ns, _), out) in inputs.iter().zip(run_all("teardown")) {
        ok(&format!("teardown {ns}"), out);
    }
    invariants::assert_consistent(&sb, "after 50 teardowns");
    assert_eq!(view(&sb), baseline);
}

/// Issue 9 through netavark 2.1: a dual-stack Podman network (`ipv6_enabled`, an IPv4 and an
/// IPv6 subnet) gives containers both addresses (the status block lists both, the kernel
/// has both, `static_ips` of both families honoured), IPv6 TCP between them, a port with no
/// host_ip published on both families and one with an IPv6 host_ip on IPv6 only, reachable
/// from outside over IPv6; `create` of `ipv6_enabled` alone picks the IPv6 subnet. The
/// invariant checker (dual-stack aware: two leases each) agrees; teardown leaves nothing.
#[test]
fn netavark_dual_stack_network_gives_both_families_and_ipv6_ports() {
    const HOST6: &str = "fd00:18::1";
    let lab = nv_lab();
    let sb = &lab.host;
    for (m, a) in [(&lab.host, HOST6), (&lab.outside, "fd00:18::2")] {
        m.sh_ok(&format!("ip -6 addr add {a}/64 dev lan0 nodad"))
            .unwrap();
    }
    let picked = create(sb, &network("auto6", json!({"ipv6_enabled": true})));
    let subnets = as_list(picked["subnets"].clone());
    assert_eq!(subnets.len(), 2, "{picked}");
    assert!(s(&subnets[1], "subnet").ends_with("/64"), "{picked}");
    assert_eq!(picked["ipv6_enabled"], json!(true), "{picked}");
    let dual = create(
        sb,
        &network(
            "dual",
            json!({"ipv6_enabled": true, "subnets": [{"subnet": "10.89.62.0/24"},
                   {"subnet": "fd00:62::/64", "gateway": "fd00:62::1"}]}),
        ),
    );
    assert_eq!(
        dual["subnets"],
        json!([{"subnet": "10.89.62.0/24", "gateway": "10.89.62.1"},
               {"subnet": "fd00:62::/64", "gateway": "fd00:62::1"}])
    );
    ok("netns", sb.sh("ip netns add d1 && ip netns add d2"));
    let c1 = container(
        "d1",
        "web6",
        &dual,
        json!({"static_ips": ["10.89.62.10", "fd00:62::10"]}),
        json!([
            {"container_port": 8080, "host_ip": "", "host_port": 18090, "protocol": "tcp", "range": 1},
            {"container_port": 8080, "host_ip": HOST6, "host_port": 18091, "protocol": "tcp", "range": 1}
        ]),
    );
    let c2 = container("d2", "client6", &dual, json!({}), Value::Null);
    let mut ip6s = Vec::new();
    for (ns, input) in [("d1", &c1), ("d2", &c2)] {
        let path = format!("/run/netns/{ns}");
        let block = setup(sb, &path, input);
        let subs = as_list(block["interfaces"]["eth0"]["subnets"].clone());
        assert_eq!(subs.len(), 2, "{block}");
        assert_eq!(s(&subs[0], "gateway"), "10.89.62.1", "{block}");
        assert_eq!(s(&subs[1], "gateway"), "fd00:62::1", "{block}");
        let ip6 = s(&subs[1], "ipnet").to_owned();
        let (addr6, len6) = ip6.split_once('/').unwrap();
        let have = common::v6::v6_addrs(&ip_json_in(sb, &path, &["addr"]), "eth0");
        assert!(
            have.iter()
                .any(|(a, l, _)| a == addr6 && l.to_string() == len6),
            "{ns}: {have:?} lacks {ip6}"
        );
        ip6s.push(addr6.to_owned());
    }
    assert_eq!(ip6s[0], "fd00:62::10", "the IPv6 static_ip honoured");
    invariants::assert_consistent(sb, "dual-stack setup");
    let mut srv = common::cni::serve_bound_in(sb, "/run/netns/d1", 8080, "d1", "::");
    assert_eq!(tcp_reply(sb, Some("/run/netns/d2"), &ip6s[0], 8080), "d1");
    // From outside over IPv6: the port without host_ip and the IPv6-only one; the IPv6-only
    // one is not on the host's IPv4 address.
    for port in [18090, 18091] {
        assert_eq!(tcp_reply(&lab.outside, None, HOST6, port), "d1", "{port}");
    }
    assert_eq!(
        tcp_reply(&lab.outside, None, lab.config.host_ip(), 18090),
        "d1"
    );
    assert!(connect(&lab.outside, None, lab.config.host_ip(), 18091, 1.0).is_err());
    srv.stop();
    for (ns, input) in [("d1", &c1), ("d2", &c2)] {
        for _ in 0..2 {
            teardown(sb, &format!("/run/netns/{ns}"), input);
        }
    }
    assert_eq!(nv_rows(sb), vec![]);
    invariants::assert_consistent(sb, "after teardown");
    for ns in ["d1", "d2"] {
        let left = names(&ip_json_in(sb, &format!("/run/netns/{ns}"), &["link"]));
        assert_eq!(left, vec!["lo".to_owned()], "{ns} keeps only lo");
    }
    assert!(connect(&lab.outside, None, HOST6, 18090, 1.0).is_err());
}
