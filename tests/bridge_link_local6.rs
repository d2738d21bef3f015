//! A dual-stack bridge's link-local address is usable at once (issue 9). The host sends
//! neighbour solicitations for traffic it forwards to a container (published ports, NAT66
//! replies, routes between networks) from the bridge's link-local address, and sends none
//! while that address is tentative: without `accept_dad=0` on the bridge (set before it is
//! up), DAD holds it tentative for 1-2 s after `network create`.

mod common;

use common::publish::*;
use common::v6::*;
use common::*;

/// The bridge's link-local addresses with their flags.
fn link_local(sb: &podnet::testbed::Sandbox, bridge: &str) -> Vec<(String, u8, Vec<String>)> {
    v6_addrs(&ip_json(sb, &["addr", "show", "dev", bridge]), bridge)
        .into_iter()
        .filter(|(ip, _, _)| ip.starts_with("fe80:"))
        .collect()
}

#[test]
fn bridge_link_local_is_usable_as_soon_as_the_network_exists() {
    let lab = lab6();
    podnet_ok(&lab.host, &["network", "create", "web", "--ipv6"]);
    let bridge = s(&net_inspect(&lab.host, "web"), "bridge").to_string();
    // Right after `network create` returns (a bridge without ports has a carrier, so DAD
    // would have started): the link-local address exists and is not tentative, so neighbour
    // discovery for forwarded traffic can start at once.
    let ll = link_local(&lab.host, &bridge);
    assert_eq!(ll.len(), 1, "one link-local address on {bridge}: {ll:?}");
    assert!(
        ll[0].2.iter().all(|f| f != "tentative" && f != "dadfailed"),
        "the link-local address of {bridge} is {:?} right after the first `run`",
        ll[0].2
    );
    run_idle(&lab.host, "c1", &["--network", "web"]);
    // And forwarded traffic flows: the LAN reaches a dual-stack container's published port
    // over IPv6, the host resolving the container from that address.
    publish_8080_server6(&lab.host, "w", "web");
    assert_eq!(
        reply(&lab, At::Outside, "tcp", HOST6, 8080),
        format!("w/{OUTSIDE6}")
    );
    // A gc that re-creates the bridge (deleted from outside) makes it the same way.
    podnet_ok(&lab.host, &["rm", "-f", "c1", "w"]);
    lab.host.sh_ok(&format!("ip link del {bridge}")).unwrap();
    run_idle(&lab.host, "c2", &["--network", "web"]);
    let ll = link_local(&lab.host, &bridge);
    assert!(
        ll.len() == 1 && ll[0].2.iter().all(|f| f != "tentative"),
        "re-created {bridge}: {ll:?}"
    );
}
