//! Published UDP ports and long-lived flows. A UDP "connection" is a conntrack entry keyed
//! by the client's address and port; a client that keeps its source port (DNS resolvers,
//! game and VoIP clients, syslog) keeps hitting the entry made by its first datagram. When
//! podnet publishes or unpublishes a port, traffic of such a flow must follow the new
//! mapping, not the one (or the lack of one) its conntrack entry remembers.

mod common;

use common::publish::*;
use common::*;
use podnet::testbed;

/// The flow's first datagram arrives before anything is published (the host answers
/// "port unreachable"); once a container publishes the port, the same flow reaches it.
#[test]
fn udp_flow_started_before_publishing_reaches_the_container_once_published() {
    let lab = lab();
    run_idle(&lab.host, "idle", &[]);
    assert_eq!(
        udp_from_fixed_port(lab.outside.cmd(testbed::python()), 40000, HOST_IP, 8080),
        None
    );
    run_servers(&lab.host, "dns", &["-p", "8080:80/udp"], &[("udp", 80)]);
    // Control: a fresh flow is answered.
    answered_by(&lab, At::Outside, "udp", HOST_IP, 8080, "dns", 80);
    let got = udp_from_fixed_port(lab.outside.cmd(testbed::python()), 40000, HOST_IP, 8080);
    assert_eq!(
        got.as_deref(),
        Some(format!("{}{OUTSIDE_IP}", reply_of("dns", "udp", 80)).as_str()),
        "a UDP flow from {OUTSIDE_IP}:40000 that started before the port was published \
         is still not forwarded to the container"
    );
}

/// The flow talks to container `one`; `one` is removed and `two` (another address)
/// publishes the same port; the same flow now reaches `two`.
#[test]
fn udp_flow_follows_the_port_to_its_new_owner() {
    let lab = lab();
    podnet_ok(
        &lab.host,
        &["network", "create", "udpnet", "--subnet", "10.77.0.0/24"],
    );
    let net = ["--network", "udpnet", "-p", "8080:80/udp"];
    let mut one = net.to_vec();
    one.extend(["--ip", "10.77.0.10"]);
    run_servers(&lab.host, "one", &one, &[("udp", 80)]);
    assert_eq!(
        udp_from_fixed_port(lab.outside.cmd(testbed::python()), 40001, HOST_IP, 8080).as_deref(),
        Some(format!("{}{OUTSIDE_IP}", reply_of("one", "udp", 80)).as_str())
    );
    podnet_ok(&lab.host, &["rm", "-f", "one"]);
    let mut two = net.to_vec();
    two.extend(["--ip", "10.77.0.20"]);
    run_servers(&lab.host, "two", &two, &[("udp", 80)]);
    // Control: a fresh flow is answered by `two`.
    answered_by(&lab, At::Outside, "udp", HOST_IP, 8080, "two", 80);
    let got = udp_from_fixed_port(lab.outside.cmd(testbed::python()), 40001, HOST_IP, 8080);
    assert_eq!(
        got.as_deref(),
        Some(format!("{}{OUTSIDE_IP}", reply_of("two", "udp", 80)).as_str()),
        "a UDP flow from {OUTSIDE_IP}:40001 still goes to removed container 'one' \
         (10.77.0.10) instead of 'two' (10.77.0.20), which now publishes the port"
    );
}
