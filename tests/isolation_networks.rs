//! Netfilter acceptance 4, with real packets in a two-machine lab: networks are isolated
//! from each other, `--icc=false` isolates the containers of one network (published
//! ports still work), `--internal` networks have no way out and cannot publish.

mod common;

use common::publish::*;
use common::*;

fn create(lab: &podnet::testbed::Lab, args: &[&str]) {
    let mut all = vec!["network", "create"];
    all.extend(args);
    podnet_ok(&lab.host, &all);
}

#[test]
fn two_networks_cannot_reach_each_other_but_both_reach_outside() {
    let lab = lab();
    lab.outside
        .serve(None, "tcp", "0.0.0.0", 7100, "outside/{peer}")
        .unwrap();
    lab.outside
        .serve(None, "udp", "0.0.0.0", 7100, "outside-udp/{peer}")
        .unwrap();
    create(&lab, &["netA"]);
    create(&lab, &["netB"]);
    let both = [("tcp", 80), ("udp", 80)];
    let a1 = run_servers(
        &lab.host,
        "a1",
        &["--network", "netA", "-p", "8080:80", "-p", "8080:80/udp"],
        &both,
    );
    let b1 = run_servers(&lab.host, "b1", &["--network", "netB"], &both);
    run_idle(&lab.host, "a2", &["--network", "netA"]);
    run_idle(&lab.host, "b2", &["--network", "netB"]);
    let (a1_ip, b1_ip) = (s(&a1, "ip").to_string(), s(&b1, "ip").to_string());
    for info in [
        net_inspect(&lab.host, "netA"),
        net_inspect(&lab.host, "netB"),
    ] {
        assert_eq!(info["internal"], false, "{info}");
        assert_eq!(info["icc"], true, "{info}");
    }

    for proto in ["tcp", "udp"] {
        // Control: each network's own containers talk.
        answered_by(&lab, At::Container("a2"), proto, &a1_ip, 80, "a1", 80);
        answered_by(&lab, At::Container("b2"), proto, &b1_ip, 80, "b1", 80);
        // Across networks: nothing, either way.
        no_answer(&lab, At::Container("a2"), proto, &b1_ip, 80);
        no_answer(&lab, At::Container("a1"), proto, &b1_ip, 80);
        no_answer(&lab, At::Container("b2"), proto, &a1_ip, 80);
        no_answer(&lab, At::Container("b1"), proto, &a1_ip, 80);
        // A published port is for everyone, other networks included.
        answered_by(&lab, At::Container("b2"), proto, HOST_IP, 8080, "a1", 80);
    }
    // Both reach the outside machine (masqueraded to the host's address).
    for c in ["a1", "a2", "b1", "b2"] {
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
}

#[test]
fn icc_false_isolates_containers_of_one_network_but_published_ports_work() {
    let lab = lab();
    lab.outside
        .serve(None, "tcp", "0.0.0.0", 7100, "outside/{peer}")
        .unwrap();
    create(&lab, &["quiet", "--icc=false"]);
    let info = net_inspect(&lab.host, "quiet");
    assert_eq!(info["icc"], false, "{info}");
    assert_eq!(info["internal"], false, "{info}");
    let both = [("tcp", 80), ("udp", 80)];
    let q1 = run_servers(
        &lab.host,
        "q1",
        &["--network", "quiet", "-p", "8080:80", "-p", "8080:80/udp"],
        &both,
    );
    let q2 = run_servers(&lab.host, "q2", &["--network", "quiet"], &both);
    let (q1_ip, q2_ip) = (s(&q1, "ip").to_string(), s(&q2, "ip").to_string());
    let gw = s(&info, "gateway").to_string();
    lab.host
        .serve(None, "tcp", &gw, 7200, "host-gw/{peer}")
        .unwrap();

    for proto in ["tcp", "udp"] {
        // Container to container on the same network: nothing, either way.
        no_answer(&lab, At::Container("q2"), proto, &q1_ip, 80);
        no_answer(&lab, At::Container("q1"), proto, &q2_ip, 80);
        // The published port works from the LAN and from the host.
        let peer = answered_by(&lab, At::Outside, proto, HOST_IP, 8080, "q1", 80);
        assert_eq!(peer, OUTSIDE_IP);
        answered_by(&lab, At::Host, proto, HOST_IP, 8080, "q1", 80);
        answered_by(&lab, At::Host, proto, "127.0.0.1", 8080, "q1", 80);
        // So does it from the other container, and from the publisher, via the host.
        answered_by(&lab, At::Container("q2"), proto, HOST_IP, 8080, "q1", 80);
        answered_by(&lab, At::Container("q1"), proto, HOST_IP, 8080, "q1", 80);
        // The host still reaches each container directly.
        answered_by(&lab, At::Host, proto, &q2_ip, 80, "q2", 80);
    }
    // And the containers still reach the host and the outside.
    for c in ["q1", "q2"] {
        assert_eq!(
            reply(&lab, At::Container(c), "tcp", &gw, 7200),
            format!("host-gw/{}", if c == "q1" { &q1_ip } else { &q2_ip }),
        );
        assert_eq!(
            reply(&lab, At::Container(c), "tcp", OUTSIDE_IP, 7100),
            format!("outside/{HOST_IP}"),
        );
    }

    // Control in the same lab: on a network with icc the same pair talks.
    create(&lab, &["chatty"]);
    let c1 = run_servers(&lab.host, "c1", &["--network", "chatty"], &both);
    run_idle(&lab.host, "c2", &["--network", "chatty"]);
    let c1_ip = s(&c1, "ip").to_string();
    for proto in ["tcp", "udp"] {
        answered_by(&lab, At::Container("c2"), proto, &c1_ip, 80, "c1", 80);
    }
}

#[test]
fn internal_network_has_no_way_out_and_refuses_publishing() {
    let lab = lab();
    lab.outside
        .serve(None, "tcp", "0.0.0.0", 7100, "outside/{peer}")
        .unwrap();
    lab.outside
        .serve(None, "udp", "0.0.0.0", 7100, "outside-udp/{peer}")
        .unwrap();
    create(&lab, &["sealed", "--internal"]);
    let info = net_inspect(&lab.host, "sealed");
    assert_eq!(info["internal"], true, "{info}");
    let subnet = s(&info, "subnet").to_string();
    let both = [("tcp", 80), ("udp", 80)];
    let i1 = run_servers(&lab.host, "i1", &["--network", "sealed"], &both);
    run_idle(&lab.host, "i2", &["--network", "sealed"]);
    let i1_ip = s(&i1, "ip").to_string();
    // Control: a container on the default network does get out.
    run_idle(&lab.host, "free", &[]);
    assert_eq!(
        reply(&lab, At::Container("free"), "tcp", OUTSIDE_IP, 7100),
        format!("outside/{HOST_IP}")
    );

    for proto in ["tcp", "udp"] {
        // Inside the internal network containers talk.
        answered_by(&lab, At::Container("i2"), proto, &i1_ip, 80, "i1", 80);
        // Nothing leaves it...
        no_answer(&lab, At::Container("i1"), proto, OUTSIDE_IP, 7100);
        no_answer(&lab, At::Container("i2"), proto, OUTSIDE_IP, 7100);
    }
    // ...and nothing from the LAN gets in, even routed straight at the subnet.
    ok(
        "outside: route the internal subnet via the host",
        lab.outside
            .sh(&format!("ip route add {subnet} via {HOST_IP} dev lan0")),
    );
    for proto in ["tcp", "udp"] {
        no_answer(&lab, At::Outside, proto, &i1_ip, 80);
    }

    // Publishing on it is refused, as bad input, and changes nothing.
    ok("ip netns add spare", lab.host.sh("ip netns add spare"));
    let before_links = link_names(&lab.host);
    let before_ps = ps(&lab.host);
    let before_nft = nft(&lab.host, &["list", "ruleset"]);
    for args in [
        vec![
            "run",
            "-d",
            "--name",
            "pub",
            "--network",
            "sealed",
            "-p",
            "8080:80",
            "--",
            "sleep",
            "9",
        ],
        vec![
            "attach",
            "--netns",
            "/run/netns/spare",
            "--name",
            "pub",
            "--network",
            "sealed",
            "-p",
            "8080:80/udp",
        ],
    ] {
        let what = format!("podnet {}", args.join(" "));
        let out = lab.host.podnet(&args);
        assert_bad_input(&what, &out, "internal");
        assert_eq!(link_names(&lab.host), before_links, "{what} changed links");
        assert_eq!(ps(&lab.host), before_ps, "{what} changed ps");
        assert_eq!(
            nft(&lab.host, &["list", "ruleset"]),
            before_nft,
            "{what} changed the ruleset"
        );
    }
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8080);
}

/// Without br_netfilter (`bridge-nf-call-iptables=0`, as on hosts that never load it)
/// bridged frames skip the ip hooks: `--icc=false` must still hold, and published ports,
/// hairpin included, must still work.
#[test]
fn icc_false_and_hairpin_hold_without_br_netfilter() {
    let lab = lab();
    ok(
        "bridge-nf-call-iptables=0",
        lab.host
            .sh("sysctl -qw net.bridge.bridge-nf-call-iptables=0"),
    );
    create(&lab, &["quiet", "--icc=false"]);
    create(&lab, &["other"]);
    let both = [("tcp", 80), ("udp", 80)];
    let q1 = run_servers(
        &lab.host,
        "q1",
        &["--network", "quiet", "-p", "8080:80", "-p", "8080:80/udp"],
        &both,
    );
    let q2 = run_servers(&lab.host, "q2", &["--network", "quiet"], &both);
    let o1 = run_servers(&lab.host, "o1", &["--network", "other"], &both);
    run_idle(&lab.host, "o2", &["--network", "other"]);
    let (q1_ip, q2_ip) = (s(&q1, "ip").to_string(), s(&q2, "ip").to_string());
    let o1_ip = s(&o1, "ip").to_string();
    for proto in ["tcp", "udp"] {
        no_answer(&lab, At::Container("q2"), proto, &q1_ip, 80);
        no_answer(&lab, At::Container("q1"), proto, &q2_ip, 80);
        no_answer(&lab, At::Container("o2"), proto, &q1_ip, 80);
        no_answer(&lab, At::Container("q2"), proto, &o1_ip, 80);
        answered_by(&lab, At::Container("o2"), proto, &o1_ip, 80, "o1", 80);
        let peer = answered_by(&lab, At::Outside, proto, HOST_IP, 8080, "q1", 80);
        assert_eq!(peer, OUTSIDE_IP);
        answered_by(&lab, At::Host, proto, "127.0.0.1", 8080, "q1", 80);
        for c in ["q1", "q2", "o2"] {
            answered_by(&lab, At::Container(c), proto, HOST_IP, 8080, "q1", 80);
        }
    }
}
