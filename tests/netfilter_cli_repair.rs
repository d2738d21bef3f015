//! Netfilter acceptance 6, with real packets in a two-machine lab: `podnet gc` restores
//! podnet's tables after `nft flush ruleset`, and podnet coexists with a Docker-style
//! `iptables -P FORWARD DROP` (iptables-nft).

mod common;

use common::publish::*;
use common::*;

#[test]
fn gc_restores_published_ports_and_masquerade_after_a_ruleset_flush() {
    let lab = lab();
    lab.outside
        .serve(None, "tcp", "0.0.0.0", 7100, "outside/{peer}")
        .unwrap();
    run_servers(
        &lab.host,
        "web",
        &["-p", "8080:80", "-p", "8080:80/udp"],
        &[("tcp", 80), ("udp", 80)],
    );
    let check_all = |when: &str| {
        for proto in ["tcp", "udp"] {
            let peer = answered_by(&lab, At::Outside, proto, HOST_IP, 8080, "web", 80);
            assert_eq!(peer, OUTSIDE_IP, "{when}");
            answered_by(&lab, At::Host, proto, "127.0.0.1", 8080, "web", 80);
        }
        assert_eq!(
            reply(&lab, At::Container("web"), "tcp", OUTSIDE_IP, 7100),
            format!("outside/{HOST_IP}"),
            "{when}: container -> outside"
        );
    };
    check_all("before the flush");
    let before = nft(&lab.host, &["list", "ruleset"]);

    ok("nft flush ruleset", lab.host.sh("nft flush ruleset"));
    assert!(
        podnet_tables(&lab.host).is_empty(),
        "flush left podnet tables"
    );
    for proto in ["tcp", "udp"] {
        no_answer(&lab, At::Outside, proto, HOST_IP, 8080);
        no_answer(&lab, At::Host, proto, "127.0.0.1", 8080);
    }
    // Without masquerade the container's packets reach outside from an address the
    // outside machine has no route back to.
    no_answer(&lab, At::Container("web"), "tcp", OUTSIDE_IP, 7100);

    podnet_ok(&lab.host, &["gc"]);
    check_all("after podnet gc");
    assert_eq!(
        nft(&lab.host, &["list", "ruleset"]),
        before,
        "gc must restore exactly podnet's ruleset"
    );
    // A second gc changes nothing and a new container publishes as usual.
    podnet_ok(&lab.host, &["gc"]);
    assert_eq!(nft(&lab.host, &["list", "ruleset"]), before);
    run_servers(&lab.host, "web2", &["-p", "8081:80"], &[("tcp", 80)]);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8081, "web2", 80);
    check_all("after a second container");
}

#[test]
fn podnet_works_with_a_docker_style_forward_drop_policy() {
    let lab = lab();
    let version = ok("iptables -V", lab.host.sh("iptables -V"));
    assert!(
        version.contains("nf_tables"),
        "this test needs the iptables-nft backend, found: {version}"
    );
    lab.outside
        .serve(None, "tcp", "0.0.0.0", 7100, "outside/{peer}")
        .unwrap();
    lab.outside
        .serve(None, "udp", "0.0.0.0", 7100, "outside-udp/{peer}")
        .unwrap();
    // One container before the policy change, one after.
    run_servers(
        &lab.host,
        "early",
        &["-p", "8080:80", "-p", "8080:80/udp"],
        &[("tcp", 80), ("udp", 80)],
    );
    ok(
        "iptables -P FORWARD DROP",
        lab.host
            .sh("iptables -P FORWARD DROP && iptables -S FORWARD"),
    );
    run_servers(
        &lab.host,
        "late",
        &["-p", "8081:80", "-p", "8081:80/udp"],
        &[("tcp", 80), ("udp", 80)],
    );
    for (c, port) in [("early", 8080), ("late", 8081)] {
        for proto in ["tcp", "udp"] {
            let peer = answered_by(&lab, At::Outside, proto, HOST_IP, port, c, 80);
            assert_eq!(peer, OUTSIDE_IP, "{c} {proto}");
        }
        assert_eq!(
            reply(&lab, At::Container(c), "tcp", OUTSIDE_IP, 7100),
            format!("outside/{HOST_IP}"),
            "{c} -> outside"
        );
        assert_eq!(
            reply(&lab, At::Container(c), "udp", OUTSIDE_IP, 7100),
            format!("outside-udp/{HOST_IP}"),
            "{c} -> outside (udp)"
        );
    }
    // The policy is still the administrator's: podnet did not undo it.
    let rules = ok("iptables -S FORWARD", lab.host.sh("iptables -S FORWARD"));
    assert!(rules.lines().any(|l| l == "-P FORWARD DROP"), "{rules}");
}

/// After a flush, the next container's element-only change is refused by the kernel and
/// podnet re-renders everything from its store: the earlier container's ports come back
/// too, without `gc`.
#[test]
fn the_next_publish_after_a_flush_restores_every_port() {
    let lab = lab();
    run_servers(&lab.host, "web", &["-p", "8080:80"], &[("tcp", 80)]);
    let before = nft(&lab.host, &["list", "ruleset"]);
    ok("nft flush ruleset", lab.host.sh("nft flush ruleset"));
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8080);
    run_servers(&lab.host, "web2", &["-p", "8081:80"], &[("tcp", 80)]);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8080, "web", 80);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8081, "web2", 80);
    // And removing one after another flush leaves exactly the other's state.
    ok("nft flush ruleset", lab.host.sh("nft flush ruleset"));
    podnet_ok(&lab.host, &["rm", "-f", "web2"]);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8080, "web", 80);
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8081);
    assert_eq!(nft(&lab.host, &["list", "ruleset"]), before);
}

/// An element removed behind podnet's back: removing its container still works and
/// leaves the tables exactly as the store says.
#[test]
fn rm_after_an_element_vanished_still_cleans_up() {
    let lab = lab();
    run_servers(&lab.host, "keep", &["-p", "8090:80"], &[("tcp", 80)]);
    let before = nft(&lab.host, &["list", "ruleset"]);
    run_servers(
        &lab.host,
        "web",
        &["-p", "8080:80", "-p", "8081:81"],
        &[("tcp", 80), ("tcp", 81)],
    );
    ok(
        "delete one element",
        lab.host
            .sh("nft delete element ip podnet ports_any '{ tcp . 8080 }'"),
    );
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8080);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8081, "web", 81);
    podnet_ok(&lab.host, &["rm", "-f", "web"]);
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8081);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8090, "keep", 80);
    assert_eq!(nft(&lab.host, &["list", "ruleset"]), before);
}
