//! UDP services and long-lived flows: a client that keeps its source port (one socket, as
//! DNS resolvers do) keeps the conntrack entry its first datagram made, DNAT'ed to one
//! backend. When that backend leaves the service, the client's next datagram must reach
//! a backend the service still has. (Conntrack knows a flow by its addresses and ports
//! only, so a client reusing a fixed source port across processes is the same flow.)

mod common;

use common::publish::*;
use common::udp_flows::*;
use common::*;
use podnet::testbed::Lab;

const VIP: &str = "10.43.0.53";
const NODE_PORT: u16 = 30053;

/// `podnet service create dns` on [`VIP`], udp 53 → 5353 of the backends labelled
/// `selector`, with EXTRA arguments.
fn create_dns(lab: &Lab, selector: &str, extra: &[&str]) {
    let mut args = vec![
        "service",
        "create",
        "dns",
        "--port",
        "53:5353/udp",
        "--selector",
        selector,
        "--vip",
        VIP,
    ];
    args.extend(extra);
    podnet_ok(&lab.host, &args);
}

#[test]
fn udp_flow_moves_to_another_backend_when_its_backend_is_removed() {
    let lab = lab();
    for b in ["b1", "b2"] {
        run_servers(&lab.host, b, &["-l", "app=dns"], &[("udp", 5353)]);
    }
    run_idle(&lab.host, "client", &[]);
    create_dns(&lab, "app=dns", &["--node-port", &NODE_PORT.to_string()]);
    // Two flows, each from a fixed source port: LAN → node port, container → VIP.
    assert_flows_leave_a_removed_backend(&lab, HOST_IP, NODE_PORT, VIP);
}

/// The backend stays up but leaves the service (`service rm`, then a new service on the
/// same VIP and port): the flow follows the new service's backend.
#[test]
fn udp_flow_follows_a_recreated_service() {
    let lab = lab();
    run_servers(&lab.host, "b1", &["-l", "app=one"], &[("udp", 5353)]);
    run_servers(&lab.host, "b2", &["-l", "app=two"], &[("udp", 5353)]);
    run_idle(&lab.host, "client", &[]);
    create_dns(&lab, "app=one", &[]);
    let pod = || udp_from_fixed_port(python_in(&lab, "client"), 41002, VIP, 53);
    assert_eq!(udp_answerer(pod(), "VIP flow"), "b1");
    podnet_ok(&lab.host, &["service", "rm", "dns"]);
    create_dns(&lab, "app=two", &[]);
    assert_eq!(
        udp_answerer(pod(), "VIP flow after the service was re-created"),
        "b2",
        "the VIP flow still goes to b1, a backend of the removed service"
    );
}
