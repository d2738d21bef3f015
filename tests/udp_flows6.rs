//! Long-lived UDP flows over IPv6 (issue 9): a client that keeps its source port keeps the
//! conntrack entry its first datagram made. When a port is published, its owner replaced, or
//! a service backend goes away, the IPv6 flow must follow the new mapping exactly as an
//! IPv4 one does (`engine::flows` forgets each family's stale entries).

mod common;

use common::publish::*;
use common::service::*;
use common::udp_flows::*;
use common::v6::*;
use common::*;

/// The flow's first datagram reaches the host before the port is published (unanswered:
/// its entry is un-NATed); once a dual-stack container publishes the port, the same flow
/// reaches it.
#[test]
fn ipv6_udp_flow_started_before_publishing_reaches_the_container_once_published() {
    let lab = lab6();
    podnet_ok(&lab.host, &["network", "create", "web", "--ipv6"]);
    let flow = || udp_from_fixed_port(python_outside(&lab), 40000, HOST6, 9053);
    assert_eq!(flow(), None);
    backend6(
        &lab.host,
        "dns",
        &[],
        &["--network", "web", "-p", "9053:5353/udp"],
    );
    // Control: a fresh flow is answered.
    assert_eq!(
        udp_answerer(
            udp_from_fixed_port(python_outside(&lab), 40009, HOST6, 9053),
            "fresh"
        ),
        "dns"
    );
    assert_eq!(
        flow(),
        Some(format!("{}{OUTSIDE6}", reply_of("dns", "udp", UDP_TARGET))),
        "a UDP flow from [{OUTSIDE6}]:40000 that started before the port was published is \
         still not forwarded to the container"
    );
}

/// The flow talks to container `one` over IPv6; `one` is removed and `two` publishes the
/// same port; the same flow now reaches `two`.
#[test]
fn ipv6_udp_flow_follows_the_port_to_its_new_owner() {
    let lab = lab6();
    podnet_ok(&lab.host, &["network", "create", "web", "--ipv6"]);
    let net = ["--network", "web", "-p", "9053:5353/udp"];
    let flow = || udp_from_fixed_port(python_outside(&lab), 40001, HOST6, 9053);
    backend6(&lab.host, "one", &[], &net);
    assert_eq!(udp_answerer(flow(), "to one"), "one");
    podnet_ok(&lab.host, &["rm", "-f", "one"]);
    backend6(&lab.host, "two", &[], &net);
    assert_eq!(
        udp_answerer(
            udp_from_fixed_port(python_outside(&lab), 40009, HOST6, 9053),
            "fresh"
        ),
        "two"
    );
    assert_eq!(
        flow().map(|r| r.split('/').next().unwrap_or_default().to_string()),
        Some("two".to_string()),
        "a UDP flow from [{OUTSIDE6}]:40001 still goes to removed container 'one' instead of \
         'two', which now publishes the port"
    );
}

/// A dual-stack UDP service with two backends: a LAN flow to the node port over IPv6 and a
/// container's flow to the IPv6 VIP; the backend of the LAN flow is removed and both flows
/// that went to it move to the other one.
#[test]
fn ipv6_udp_flow_moves_to_another_backend_when_its_backend_is_removed() {
    let lab = lab6();
    podnet_ok(&lab.host, &["network", "create", "web", "--ipv6"]);
    for b in ["b1", "b2"] {
        backend6(&lab.host, b, &["app=dns"], &["--network", "web"]);
    }
    run_idle(&lab.host, "client", &["--network", "web"]);
    let svc = service(
        &lab.host,
        "dns",
        &[
            "--ip-family",
            "dual",
            "--port",
            "53:5353/udp",
            "--selector",
            "app=dns",
            "--node-port",
            "30053",
        ],
    );
    let vip6 = s(&svc, "vip6").to_string();
    assert_flows_leave_a_removed_backend(&lab, HOST6, 30053, &vip6);
}
