//! Issue 10, acceptance 5 and 9 (several networks per container), with real packets in a
//! two-machine lab: `run --network a --network b` and `network connect` add `ethN` with its
//! address and subnet route (the default route stays on the first network), traffic flows
//! both ways on it, isolation between networks holds for everyone else, services keep
//! reaching a multi-homed backend (at its first network's address), and `network
//! disconnect` / `rm` leave nothing. Bad input is refused with one line, exit 2, nothing
//! changed.

mod common;

use common::invariants::{assert_consistent, assert_consistent_once_settled};
use common::publish::*;
use common::service::*;
use common::*;
use serde_json::Value;

fn create(sb: &podnet::testbed::Sandbox, name: &str, subnet: &str) {
    podnet_ok(sb, &["network", "create", name, "--subnet", subnet]);
}

/// The container's networks as `inspect` lists them: (network, ifname, ip).
fn attachments(c: &Value) -> Vec<(String, String, String)> {
    as_list(c["networks"].clone())
        .iter()
        .map(|n| {
            (
                s(n, "network").to_string(),
                s(n, "ifname").to_string(),
                s(n, "ip").to_string(),
            )
        })
        .collect()
}

/// The IPv4 routes in the container's namespace as `dst dev` pairs.
fn routes(sb: &podnet::testbed::Sandbox, c: &Value) -> Vec<String> {
    let mut r: Vec<String> = as_list(ip_json_in(sb, s(c, "netns"), &["-4", "route"]))
        .iter()
        .map(|r| format!("{} {}", s(r, "dst"), s(r, "dev")))
        .collect();
    r.sort();
    r
}

#[test]
fn connect_adds_an_interface_with_traffic_both_ways_and_disconnect_leaves_nothing() {
    let lab = lab();
    let sb = &lab.host;
    create(sb, "neta", "10.81.0.0/24");
    create(sb, "netb", "10.82.0.0/24");
    let both = [("tcp", 80)];
    let a1 = run_servers(sb, "a1", &["--network", "neta"], &both);
    let b1 = run_servers(sb, "b1", &["--network", "netb"], &both);
    backend(sb, "web", &["app=web"], &["--network", "neta"]);
    let svc = service(
        sb,
        "websvc",
        &["--port", "80:8080/tcp", "--selector", "app=web"],
    );
    let (a1_ip, b1_ip) = (s(&a1, "ip").to_string(), s(&b1, "ip").to_string());
    let guards_before = common::guards::guard_elements(sb);
    let links_before = link_names(sb);
    // Control: web cannot reach b1 before it is on netb.
    no_answer(&lab, At::Container("web"), "tcp", &b1_ip, 80);

    podnet_ok(sb, &["network", "connect", "netb", "web", "--alias", "api"]);
    let web = inspect(sb, "web");
    let nets = attachments(&web);
    assert_eq!(nets.len(), 2, "{web}");
    assert_eq!((nets[0].0.as_str(), nets[0].1.as_str()), ("neta", "eth0"));
    assert_eq!((nets[1].0.as_str(), nets[1].1.as_str()), ("netb", "eth1"));
    let web_b = nets[1].2.clone();
    assert!(net("10.82.0.0/24").contains(&ipv4(&web_b)), "{web_b}");
    assert_eq!(web["networks"][1]["aliases"], serde_json::json!(["api"]));
    // eth1 has its address; the default route stays on eth0, eth1 has its subnet's route.
    let addrs = ip_json_in(sb, s(&web, "netns"), &["addr"]);
    assert_eq!(v4_addrs(&addrs, "eth1"), vec![net(&format!("{web_b}/24"))]);
    assert_eq!(
        routes(sb, &web),
        ["10.81.0.0/24 eth0", "10.82.0.0/24 eth1", "default eth0"]
    );
    // ps shows both networks in one row; network inspect lists web on netb.
    let row = ps(sb).into_iter().find(|c| c["name"] == "web").unwrap();
    assert_eq!(attachments(&row).len(), 2, "{row}");
    assert_eq!(ps(sb).len(), 3, "a member is no container of its own");
    let filtered = podnet_ok(sb, &["ps", "-q", "--filter", "network=netb"]);
    assert_eq!(filtered.lines().collect::<Vec<_>>(), ["b1", "web"]);
    assert_consistent(sb, "after connect");
    common::guards::assert_guards_match(sb, "after connect");

    // Traffic both ways on the new interface, unNATed (each side sees the other's address).
    let peer = answered_by(&lab, At::Container("web"), "tcp", &b1_ip, 80, "b1", 80);
    assert_eq!(peer, web_b, "b1 sees web's netb address");
    let peer = answered_by(&lab, At::Container("b1"), "tcp", &web_b, 8080, "web", 8080);
    assert_eq!(peer, b1_ip);
    // Isolation kept for everyone else: a1 (neta) reaches neither b1 nor web's netb side,
    // b1 does not reach a1.
    no_answer(&lab, At::Container("a1"), "tcp", &b1_ip, 80);
    no_answer(&lab, At::Container("a1"), "tcp", &web_b, 8080);
    no_answer(&lab, At::Container("b1"), "tcp", &a1_ip, 80);
    // The service keeps its backend at web's first network's address, from both networks.
    let vip = vip(&svc);
    answered_by(&lab, At::Container("b1"), "tcp", &vip, 80, "web", 8080);
    answered_by(&lab, At::Container("a1"), "tcp", &vip, 80, "web", 8080);
    let backends = podnet_json(sb, &["service", "inspect", "websvc"]);
    assert!(
        backends.to_string().contains(s(&inspect(sb, "web"), "ip")),
        "{backends}"
    );

    podnet_ok(sb, &["network", "disconnect", "netb", "web"]);
    let web = inspect(sb, "web");
    assert_eq!(attachments(&web).len(), 1, "{web}");
    assert_eq!(routes(sb, &web), ["10.81.0.0/24 eth0", "default eth0"]);
    let links: Vec<String> = as_list(ip_json_in(sb, s(&web, "netns"), &["link"]))
        .iter()
        .map(|l| s(l, "ifname").to_string())
        .collect();
    assert!(!links.contains(&"eth1".to_string()), "{links:?}");
    wait_links(sb, "after disconnect", &links_before);
    assert_eq!(common::guards::guard_elements(sb), guards_before);
    let members = net_inspect(sb, "netb")["containers"].clone();
    assert_eq!(as_list(members).len(), 1, "only b1 left on netb");
    no_answer(&lab, At::Container("web"), "tcp", &b1_ip, 80);
    answered_by(&lab, At::Container("b1"), "tcp", &vip, 80, "web", 8080);
    assert_consistent(sb, "after disconnect");
    // The address is free again: a reconnect may take it explicitly.
    podnet_ok(sb, &["network", "connect", "netb", "web", "--ip", &web_b]);
    assert_eq!(attachments(&inspect(sb, "web"))[1].2, web_b);
    answered_by(&lab, At::Container("b1"), "tcp", &web_b, 8080, "web", 8080);
    // rm of a multi-homed container removes every network's part.
    podnet_ok(sb, &["service", "rm", "websvc"]);
    podnet_ok(sb, &["rm", "-f", "web", "a1", "b1"]);
    let listed = ps(sb);
    assert!(listed.is_empty(), "{listed:?}");
    for n in ["neta", "netb"] {
        let info = net_inspect(sb, n);
        assert_eq!(as_list(info["containers"].clone()).len(), 0, "{info}");
    }
    assert_eq!(common::guards::guard_elements(sb), Default::default());
    assert_consistent_once_settled(sb, "after rm");
}

#[test]
fn run_on_several_networks_starts_with_every_interface() {
    let lab = lab();
    let sb = &lab.host;
    create(sb, "neta", "10.81.0.0/24");
    create(sb, "netb", "10.82.0.0/24");
    create(sb, "netc", "10.83.0.0/24");
    let b1 = run_servers(sb, "b1", &["--network", "netb"], &[("tcp", 80)]);
    let c1 = run_servers(sb, "c1", &["--network", "netc"], &[("tcp", 80)]);
    let m = run_idle(
        sb,
        "multi",
        &[
            "--network",
            "neta",
            "--network",
            "netb",
            "--network",
            "netc",
            "--network-alias",
            "m",
        ],
    );
    let nets = attachments(&m);
    let names: Vec<(&str, &str)> = nets.iter().map(|n| (n.0.as_str(), n.1.as_str())).collect();
    assert_eq!(
        names,
        [("neta", "eth0"), ("netb", "eth1"), ("netc", "eth2")]
    );
    for n in as_list(m["networks"].clone()) {
        assert_eq!(n["aliases"], serde_json::json!(["m"]), "{m}");
    }
    assert_eq!(
        routes(sb, &m),
        [
            "10.81.0.0/24 eth0",
            "10.82.0.0/24 eth1",
            "10.83.0.0/24 eth2",
            "default eth0"
        ]
    );
    answered_by(
        &lab,
        At::Container("multi"),
        "tcp",
        s(&b1, "ip"),
        80,
        "b1",
        80,
    );
    answered_by(
        &lab,
        At::Container("multi"),
        "tcp",
        s(&c1, "ip"),
        80,
        "c1",
        80,
    );
    // Outside traffic leaves by the default route (eth0, neta) and is masqueraded.
    lab.outside
        .serve(None, "tcp", "0.0.0.0", 7100, "outside/{peer}")
        .unwrap();
    assert_eq!(
        reply(&lab, At::Container("multi"), "tcp", OUTSIDE_IP, 7100),
        format!("outside/{HOST_IP}")
    );
    // b1 and c1 stay apart.
    no_answer(&lab, At::Container("b1"), "tcp", s(&c1, "ip"), 80);
    assert_consistent(sb, "three networks");
    common::guards::assert_guards_match(sb, "three networks");
    podnet_ok(sb, &["rm", "-f", "multi"]);
    assert_eq!(ps(sb).len(), 2);
    assert_consistent_once_settled(sb, "after rm");
    // A foreground run on two networks cleans up after itself too.
    podnet_ok(
        sb,
        &[
            "run",
            "--network",
            "neta",
            "--network",
            "netb",
            "--",
            "true",
        ],
    );
    assert_eq!(ps(sb).len(), 2);
    for n in ["neta", "netb"] {
        let members = as_list(net_inspect(sb, n)["containers"].clone());
        assert!(members.len() <= 1, "{n}: {members:?}");
    }
    assert_consistent_once_settled(sb, "after a foreground run");
}
