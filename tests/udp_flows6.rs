//! Long-lived UDP flows over IPv6 (issue 9): a client that keeps its source port keeps the
//! conntrack entry its first datagram made. When a port is published, its owner replaced, or
//! a service backend goes away, the IPv6 flow must follow the new mapping exactly as an
//! IPv4 one does (`engine::flows` forgets each family's stale entries).

mod common;

use common::publish::*;
use common::service::*;
use common::v6::*;
use common::*;
use podnet::testbed::{self, Lab};
use std::process::Command;

fn outside(lab: &Lab) -> Command {
    lab.outside.cmd(testbed::python())
}

fn in_container(lab: &Lab, name: &str) -> Command {
    let mut c = lab.host.podnet_cmd(["exec", name, "--"]);
    c.arg(testbed::python());
    c
}

/// The name of the server that answered (`NAME/udp/5353/PEER`).
fn who(reply: Option<String>, what: &str) -> String {
    let reply = reply.unwrap_or_else(|| panic!("{what}: no reply"));
    let name = reply.split('/').next().unwrap_or_default().to_string();
    assert!(
        reply.starts_with(&reply_of(&name, "udp", UDP_TARGET)),
        "{what}: unexpected reply {reply:?}"
    );
    name
}

/// The flow's first datagram reaches the host before the port is published (unanswered:
/// its entry is un-NATed); once a dual-stack container publishes the port, the same flow
/// reaches it.
#[test]
fn ipv6_udp_flow_started_before_publishing_reaches_the_container_once_published() {
    let lab = lab6();
    podnet_ok(&lab.host, &["network", "create", "web", "--ipv6"]);
    let flow = || udp_from_fixed_port(outside(&lab), 40000, HOST6, 9053);
    assert_eq!(flow(), None);
    backend6(
        &lab.host,
        "dns",
        &[],
        &["--network", "web", "-p", "9053:5353/udp"],
    );
    // Control: a fresh flow is answered.
    assert_eq!(
        who(
            udp_from_fixed_port(outside(&lab), 40009, HOST6, 9053),
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
    let flow = || udp_from_fixed_port(outside(&lab), 40001, HOST6, 9053);
    backend6(&lab.host, "one", &[], &net);
    assert_eq!(who(flow(), "to one"), "one");
    podnet_ok(&lab.host, &["rm", "-f", "one"]);
    backend6(&lab.host, "two", &[], &net);
    assert_eq!(
        who(
            udp_from_fixed_port(outside(&lab), 40009, HOST6, 9053),
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
    let lan = || udp_from_fixed_port(outside(&lab), 41000, HOST6, 30053);
    let pod = || udp_from_fixed_port(in_container(&lab, "client"), 41001, &vip6, 53);
    let lan_first = who(lan(), "node port flow");
    let pod_first = who(pod(), "VIP flow");
    assert_eq!(who(lan(), "node port flow again"), lan_first);
    assert_eq!(who(pod(), "VIP flow again"), pod_first);
    let other = if lan_first == "b1" { "b2" } else { "b1" };
    podnet_ok(&lab.host, &["rm", "-f", &lan_first]);
    assert_eq!(
        who(lan(), "node port flow after its backend was removed"),
        other,
        "a UDP flow from [{OUTSIDE6}]:41000 to node port 30053 still goes to removed backend \
         {lan_first}"
    );
    assert_eq!(
        who(pod(), "VIP flow after a backend was removed"),
        other,
        "the IPv6 VIP flow from 'client' (first answered by {pod_first}) must be answered by \
         {other}, the only backend left"
    );
}
