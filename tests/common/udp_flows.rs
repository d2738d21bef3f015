//! Long-lived UDP flows, for the flow tests of both families (`services_udp_flows`,
//! `udp_flows6`): clients that keep one source port (as DNS resolvers do, so every datagram
//! is the same conntrack entry), and the backend that answered them.

use super::publish::reply_of;
use super::v6::OUTSIDE6;
use super::*;
use podnet::testbed::{self, Lab};
use std::process::Command;

/// The UDP port every flow's server listens on.
const TARGET: u16 = 5353;

/// A python on the LAN neighbour.
pub fn python_outside(lab: &Lab) -> Command {
    lab.outside.cmd(testbed::python())
}

/// A python inside container `name` (through `podnet exec`).
pub fn python_in(lab: &Lab, name: &str) -> Command {
    let mut c = lab.host.podnet_cmd(["exec", name, "--"]);
    c.arg(testbed::python());
    c
}

/// The name of the server that answered a flow (`NAME/udp/5353/PEER`).
pub fn udp_answerer(reply: Option<String>, what: &str) -> String {
    let reply = reply.unwrap_or_else(|| panic!("{what}: no reply"));
    let name = reply.split('/').next().unwrap_or_default().to_string();
    assert!(
        reply.starts_with(&reply_of(&name, "udp", TARGET)),
        "{what}: unexpected reply {reply:?}"
    );
    name
}

/// A UDP service with backends `b1` and `b2` (serving udp 5353), reached at `vip`:53 and at
/// `host`:`node_port` (both of one family), and a container `client`: a flow from the LAN to
/// the node port and one from `client` to the VIP each stick to their backend; the LAN
/// flow's backend is removed and both flows that went to it move to the other one.
pub fn assert_flows_leave_a_removed_backend(lab: &Lab, host: &str, node_port: u16, vip: &str) {
    let from = if host.contains(':') {
        format!("[{OUTSIDE6}]")
    } else {
        publish::OUTSIDE_IP.to_string()
    };
    let lan = || udp_from_fixed_port(python_outside(lab), 41000, host, node_port);
    let pod = || udp_from_fixed_port(python_in(lab, "client"), 41001, vip, 53);
    let backend = |reply: Option<String>, what: &str| {
        let name = udp_answerer(reply, what);
        assert!(["b1", "b2"].contains(&&*name), "{what}: answered by {name}");
        name
    };
    let lan_first = backend(lan(), "node port flow");
    let pod_first = backend(pod(), "VIP flow");
    // Each flow sticks to its backend while nothing changes.
    assert_eq!(backend(lan(), "node port flow again"), lan_first);
    assert_eq!(backend(pod(), "VIP flow again"), pod_first);
    // Remove the node-port flow's backend: both flows that went to it move to the other.
    let other = if lan_first == "b1" { "b2" } else { "b1" };
    podnet_ok(&lab.host, &["rm", "-f", &lan_first]);
    assert_eq!(
        backend(lan(), "node port flow after its backend was removed"),
        other,
        "a UDP flow from {from}:41000 to node port {node_port} still goes to removed backend \
         {lan_first}"
    );
    assert_eq!(
        backend(pod(), "VIP flow after a backend was removed"),
        other,
        "the VIP flow from 'client' to {vip} (first answered by {pod_first}) must be answered \
         by {other}, the only backend left"
    );
}
