//! UDP services and long-lived flows: a client that keeps its source port (one socket, as
//! DNS resolvers do) keeps the conntrack entry its first datagram made, DNAT'ed to one
//! backend. When that backend leaves the service, the client's next datagram must reach
//! a backend the service still has. (Conntrack knows a flow by its addresses and ports
//! only, so a client reusing a fixed source port across processes is the same flow.)

mod common;

use common::publish::*;
use common::*;
use podnet::testbed::{self, Lab};
use std::process::Command;

const VIP: &str = "10.43.0.53";
const NODE_PORT: u16 = 30053;

fn from_outside(lab: &Lab) -> Command {
    lab.outside.cmd(testbed::python())
}

fn from_container(lab: &Lab, name: &str) -> Command {
    let mut c = lab.host.podnet_cmd(["exec", name, "--"]);
    c.arg(testbed::python());
    c
}

/// Which backend (`b1`/`b2`) answered, from a reply `NAME/udp/5353/PEER`.
fn backend_of(reply: Option<String>, what: &str) -> String {
    let reply = reply.unwrap_or_else(|| panic!("{what}: no reply"));
    let name = reply.split('/').next().unwrap_or_default().to_string();
    assert!(
        reply.starts_with(&reply_of(&name, "udp", 5353)) && ["b1", "b2"].contains(&&*name),
        "{what}: unexpected reply {reply:?}"
    );
    name
}

#[test]
fn udp_flow_moves_to_another_backend_when_its_backend_is_removed() {
    let lab = lab();
    for b in ["b1", "b2"] {
        run_servers(&lab.host, b, &["-l", "app=dns"], &[("udp", 5353)]);
    }
    run_idle(&lab.host, "client", &[]);
    podnet_ok(
        &lab.host,
        &[
            "service",
            "create",
            "dns",
            "--port",
            "53:5353/udp",
            "--selector",
            "app=dns",
            "--vip",
            VIP,
            "--node-port",
            &NODE_PORT.to_string(),
        ],
    );
    // Two flows, each from a fixed source port: LAN → node port, container → VIP.
    let lan = || udp_from_fixed_port(from_outside(&lab), 41000, HOST_IP, NODE_PORT);
    let pod = || udp_from_fixed_port(from_container(&lab, "client"), 41001, VIP, 53);
    let lan_first = backend_of(lan(), "node port flow");
    let pod_first = backend_of(pod(), "VIP flow");
    // Each flow sticks to its backend while nothing changes.
    assert_eq!(backend_of(lan(), "node port flow again"), lan_first);
    assert_eq!(backend_of(pod(), "VIP flow again"), pod_first);

    // Remove the node-port flow's backend: both flows that went to it move to the other.
    let other = if lan_first == "b1" { "b2" } else { "b1" };
    podnet_ok(&lab.host, &["rm", "-f", &lan_first]);
    assert_eq!(
        backend_of(lan(), "node port flow after its backend was removed"),
        other,
        "a UDP flow from {OUTSIDE_IP}:41000 to node port {NODE_PORT} still goes to removed \
         backend {lan_first}"
    );
    assert_eq!(
        backend_of(pod(), "VIP flow after a backend was removed"),
        other,
        "the VIP flow from 'client' (first answered by {pod_first}) must be answered by \
         {other}, the only backend left"
    );
}

/// The backend stays up but leaves the service (`service rm`, then a new service on the
/// same VIP and port): the flow follows the new service's backend.
#[test]
fn udp_flow_follows_a_recreated_service() {
    let lab = lab();
    run_servers(&lab.host, "b1", &["-l", "app=one"], &[("udp", 5353)]);
    run_servers(&lab.host, "b2", &["-l", "app=two"], &[("udp", 5353)]);
    run_idle(&lab.host, "client", &[]);
    let create = |sel: &str| {
        podnet_ok(
            &lab.host,
            &[
                "service",
                "create",
                "dns",
                "--port",
                "53:5353/udp",
                "--selector",
                sel,
                "--vip",
                VIP,
            ],
        )
    };
    create("app=one");
    let pod = || udp_from_fixed_port(from_container(&lab, "client"), 41002, VIP, 53);
    assert_eq!(backend_of(pod(), "VIP flow"), "b1");
    podnet_ok(&lab.host, &["service", "rm", "dns"]);
    create("app=two");
    assert_eq!(
        backend_of(pod(), "VIP flow after the service was re-created"),
        "b2",
        "the VIP flow still goes to b1, a backend of the removed service"
    );
}
