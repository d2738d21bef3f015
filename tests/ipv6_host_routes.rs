//! Issue 9, acceptance 6 — the host-route hazard. Turning IPv6 forwarding on makes the kernel
//! ignore router advertisements on interfaces with `accept_ra=1` and drop, at once, the
//! default route it learned from them (moby#43466, podman#6114). A sandbox host whose uplink
//! learned its IPv6 default route from a real RA keeps it when podnet makes its first IPv6
//! network; podnet says so on stderr and changes nothing else of the host's IPv6 settings.

mod common;

use common::v6::{ipv6_conf, sysctl, v6_defaults};
use common::*;
use podnet::testbed::{stderr, Lab};
use std::time::Duration;

/// The host's LAN interface has a link-local address (not tentative) on both ends, so an RA
/// can be sent and received.
fn wait_link_local(lab: &Lab) {
    for (sb, who) in [(&lab.host, "host"), (&lab.outside, "outside")] {
        sb.wait_until(
            &format!("{who}'s link-local"),
            Duration::from_secs(30),
            || {
                let a = ip_json(sb, &["-6", "addr", "show", "dev", "lan0", "scope", "link"]);
                let tentative = ip_json(sb, &["-6", "addr", "show", "dev", "lan0", "tentative"]);
                !as_list(a)
                    .iter()
                    .all(|l| as_list(l["addr_info"].clone()).is_empty())
                    && as_list(tentative)
                        .iter()
                        .all(|l| as_list(l["addr_info"].clone()).is_empty())
            },
        )
        .unwrap_or_else(|e| panic!("{e}: {}", ip_json(sb, &["-6", "addr"])));
    }
}

/// The outside machine advertises itself as the LAN's IPv6 router until the host has learned
/// its default route from it (RAs may be sent before the host listens).
fn learn_default_route(lab: &Lab) -> Vec<(String, String, String)> {
    let mut learned = Vec::new();
    lab.host
        .wait_until(
            "a default route from the RA",
            Duration::from_secs(30),
            || {
                let mut ra = nettool(&lab.outside);
                ra.args(["ra", "lan0", "--lifetime", "1800"]);
                ok("send an RA", output(ra));
                learned = v6_defaults(&ip_json(&lab.host, &["-6", "route"]));
                !learned.is_empty()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    learned
}

#[test]
fn a_route_learned_from_router_advertisements_survives_the_first_ipv6_network() {
    let lab = lab();
    let host = &lab.host;
    // A host as distributions set one up: forwarding off, the uplink taking RAs.
    assert_eq!(sysctl(host, "net.ipv6.conf.all.forwarding"), "0");
    assert_eq!(sysctl(host, "net.ipv6.conf.lan0.accept_ra"), "1");
    wait_link_local(&lab);
    let learned = learn_default_route(&lab);
    assert_eq!(learned.len(), 1, "{learned:?}");
    let (gw, dev, proto) = &learned[0];
    assert!(
        gw.starts_with("fe80:") && dev == "lan0" && proto == "ra",
        "{learned:?}"
    );
    let before = ipv6_conf(host);

    // An IPv4-only network changes nothing of IPv6.
    podnet_ok(host, &["network", "create", "v4only"]);
    assert_eq!(sysctl(host, "net.ipv6.conf.all.forwarding"), "0");
    assert_eq!(sysctl(host, "net.ipv6.conf.lan0.accept_ra"), "1");

    let out = host.podnet(["network", "create", "web", "--ipv6"]);
    let said = stderr(&out);
    assert!(out.status.success(), "{said}");
    assert_eq!(sysctl(host, "net.ipv6.conf.all.forwarding"), "1");
    let after_routes = v6_defaults(&ip_json(host, &["-6", "route"]));
    assert_eq!(
        after_routes, learned,
        "the host's RA-learned default route must survive IPv6 forwarding"
    );
    // Said once, on one line, naming the interface.
    let lines: Vec<&str> = said.lines().filter(|l| l.contains("accept_ra")).collect();
    assert_eq!(lines.len(), 1, "{said}");
    assert!(
        lines[0].starts_with("podnet: ") && lines[0].contains("lan0") && lines[0].contains("2"),
        "{said}"
    );
    // Nothing else of the host's IPv6 configuration changed: lan0's accept_ra went 1 -> 2,
    // forwarding went on (the kernel sets every interface's and the default's with `all`),
    // and the new bridges have their own entries (podnet's bridge takes no RA).
    let after = ipv6_conf(host);
    let keep = |l: &&String| {
        let key = l.split('=').next().unwrap_or_default();
        !key.ends_with(".forwarding") && !key.starts_with("pn-") && key != "lan0.accept_ra"
    };
    let b: Vec<&String> = before.iter().filter(keep).collect();
    let a: Vec<&String> = after.iter().filter(keep).collect();
    assert_eq!(
        a, b,
        "IPv6 settings other than forwarding and lan0.accept_ra changed"
    );
    assert!(after.contains(&"lan0.accept_ra=2".to_string()));
    assert!(
        after.contains(&"pn-web.accept_ra=0".to_string()),
        "{after:?}"
    );
    assert!(
        after.contains(&"pn-v4only.accept_ra=1".to_string()),
        "podnet's IPv4-only bridge is left as it was: {after:?}"
    );
    assert!(after.contains(&"default.accept_ra=1".to_string()));
    assert!(after.contains(&"lo.accept_ra=1".to_string()));

    // RAs keep being honoured: a new one still refreshes the route under forwarding.
    let mut ra = nettool(&lab.outside);
    ra.args(["ra", "lan0", "--lifetime", "0"]);
    ok("send an RA retiring the router", output(ra));
    host.wait_until(
        "the router retired by its RA",
        Duration::from_secs(10),
        || v6_defaults(&ip_json(host, &["-6", "route"])).is_empty(),
    )
    .unwrap_or_else(|e| panic!("{e}: RAs are no longer honoured on lan0"));

    // A second IPv6 network says nothing more (forwarding is on already).
    let out = host.podnet(["network", "create", "web2", "--ipv6"]);
    assert!(
        out.status.success() && !stderr(&out).contains("accept_ra"),
        "{}",
        stderr(&out)
    );
}
