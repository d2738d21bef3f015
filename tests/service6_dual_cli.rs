//! Issue 9 acceptance 5 through the CLI with real dual-stack containers (`podnet run -d` on
//! a `--ipv6` network): a dual-stack service spreads 600 IPv6 connections over 3 backends,
//! answers on its node port over IPv6 from the LAN, and refuses at once when empty; a
//! backend reaches its own service's IPv6 VIP, node port and published port (hairpin).
//! Every check is real TCP/UDP traffic.

mod common;

use common::publish::*;
use common::service::*;
use common::v6::*;
use common::*;

const NODE_PORT: u16 = 30080;

#[test]
fn dual_service_spreads_ipv6_connections_over_three_dual_stack_backends() {
    let lab = lab6();
    podnet_ok(&lab.host, &["network", "create", "web", "--ipv6"]);
    for b in ["b1", "b2", "b3"] {
        let info = backend6(&lab.host, b, &["app=api"], &["--network", "web"]);
        ip6_of(&info);
    }
    let svc = tcp_udp_service(&lab.host, "api", "dual", "app=api", NODE_PORT);
    assert_eq!(svc["ip_family"], "dual", "{svc}");
    assert_eq!(svc["backends6"].as_array().map(Vec::len), Some(3), "{svc}");
    let vip6 = s(&svc, "vip6").to_string();
    let m = spread(&lab, At::Host, "tcp", &vip6, 80, 600);
    assert_spread(
        "600 TCP connections to the IPv6 VIP",
        &m,
        &["b1", "b2", "b3"],
        150,
        250,
    );
    // The node port over IPv6 from the LAN, both protocols (each exchange balanced anew:
    // 60 of them miss a backend with probability 3 * (2/3)^60).
    for proto in ["tcp", "udp"] {
        let m = spread(&lab, At::Outside, proto, HOST6, NODE_PORT, 60);
        assert_eq!(
            answered(&m).into_iter().collect::<Vec<_>>(),
            ["b1", "b2", "b3"],
            "{proto} to [{HOST6}]:{NODE_PORT}: {m:?}"
        );
        assert!(!m.contains_key(NO_REPLY), "{proto}: {m:?}");
    }
    // The IPv4 side is served by the same containers.
    let m = spread(&lab, At::Host, "tcp", &vip(&svc), 80, 30);
    assert!(!m.contains_key(NO_REPLY), "IPv4 side: {m:?}");

    // An empty dual-stack service refuses at once over IPv6, on its VIP and node port.
    let empty = tcp_udp_service(&lab.host, "empty", "dual", "app=none", 30081);
    let empty6 = s(&empty, "vip6").to_string();
    run_idle(&lab.host, "cl", &["--network", "web"]);
    for (proto, port) in [("tcp", 80), ("udp", 53)] {
        assert_refused(&lab, At::Outside, proto, HOST6, 30081);
        assert_refused(&lab, At::Container("cl"), proto, &empty6, port);
    }
    // From the host itself, both families alike: TCP reset, and UDP refused on send.
    for vip in [vip(&empty), empty6] {
        assert_refused(&lab, At::Host, "tcp", &vip, 80);
        assert_host_udp_refused(&lab, &vip, 53);
    }
    // Its backends leaving makes the full service refuse too.
    for b in ["b1", "b2", "b3"] {
        podnet_ok(&lab.host, &["rm", "-f", b]);
    }
    assert_refused(&lab, At::Outside, "tcp", HOST6, NODE_PORT);
}

/// Hairpin over IPv6: a service's only backend reaches its own service through the IPv6
/// VIP and through the host's IPv6 address (node port and a published port), over TCP and
/// UDP; the backend sees the bridge's gateway as the client (masqueraded, so its reply
/// goes back through the host and is un-NATed).
#[test]
fn backend_reaches_its_own_service_and_published_port_over_ipv6() {
    let lab = lab6();
    podnet_ok(&lab.host, &["network", "create", "web", "--ipv6"]);
    backend6(
        &lab.host,
        "b1",
        &["app=api"],
        &["--network", "web", "-p", "9080:8080", "-p", "9053:5353/udp"],
    );
    let gw6 = s(&net_inspect(&lab.host, "web"), "gateway6").to_string();
    let svc = tcp_udp_service(&lab.host, "api", "dual", "app=api", NODE_PORT);
    let vip6 = s(&svc, "vip6").to_string();
    let cases = [
        ("tcp", vip6.as_str(), 80, 8080),
        ("udp", vip6.as_str(), 53, 5353),
        ("tcp", HOST6, NODE_PORT, 8080),
        ("udp", HOST6, NODE_PORT, 5353),
        ("tcp", HOST6, 9080, 8080),
        ("udp", HOST6, 9053, 5353),
    ];
    for (proto, host, port, target) in cases {
        assert_eq!(
            reply(&lab, At::Container("b1"), proto, host, port),
            format!("{}{gw6}", reply_of("b1", proto, target)),
            "{proto} from b1 to [{host}]:{port}"
        );
    }
}
