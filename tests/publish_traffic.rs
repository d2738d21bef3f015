//! Netfilter acceptance, with real packets in a two-machine lab (podnet on `host`, a LAN
//! neighbour `outside`): masquerade, published TCP/UDP ports and ranges from every
//! vantage point (outside, host LAN address, host loopback, hairpin from containers),
//! loopback-only publishing, and port conflicts.

mod common;

use common::publish::*;
use common::*;

/// Acceptance 1: A container's connection to the outside host arrives from the host's LAN address.
#[test]
fn outbound_connections_leave_with_the_hosts_address() {
    let lab = lab();
    lab.outside
        .serve(None, "tcp", "0.0.0.0", 7100, "outside-tcp/{peer}")
        .unwrap();
    lab.outside
        .serve(None, "udp", "0.0.0.0", 7101, "outside-udp/{peer}")
        .unwrap();
    let c = run_idle(&lab.host, "c1", &[]);
    let cip = s(&c, "ip").to_string();
    assert_ne!(cip, HOST_IP);
    assert_eq!(
        reply(&lab, At::Container("c1"), "tcp", OUTSIDE_IP, 7100),
        format!("outside-tcp/{HOST_IP}"),
        "container {cip} -> outside over TCP must be masqueraded to the host's address"
    );
    assert_eq!(
        reply(&lab, At::Container("c1"), "udp", OUTSIDE_IP, 7101),
        format!("outside-udp/{HOST_IP}"),
        "container {cip} -> outside over UDP must be masqueraded to the host's address"
    );
}

/// Acceptance 2: Published TCP and UDP ports answer from the outside host, from the host (LAN
/// address and 127.0.0.1), from a neighbour container via the host's address, and from
/// the publishing container itself via the host's address.
#[test]
fn published_tcp_and_udp_ports_answer_from_everywhere() {
    let lab = lab();
    let web = run_servers(
        &lab.host,
        "web",
        &["-p", "8080:80", "-p", "8080:80/udp", "-p", "5353:53/udp"],
        &[("tcp", 80), ("udp", 80), ("udp", 53)],
    );
    run_idle(&lab.host, "client", &[]);
    let web_ip = s(&web, "ip").to_string();
    let gw = s(&web, "gateway").to_string();

    // `podnet ports` and `ps` report what was published.
    let listed = as_list(podnet_json(&lab.host, &["ports", "web"]));
    let mut seen: Vec<(String, u64, String, u64, String)> = listed
        .iter()
        .map(|p| {
            (
                s(p, "host_ip").to_string(),
                p["host_port"].as_u64().unwrap(),
                s(p, "container_ip").to_string(),
                p["container_port"].as_u64().unwrap(),
                s(p, "proto").to_string(),
            )
        })
        .collect();
    seen.sort();
    let row = |hp: u64, cp: u64, proto: &str| {
        ("0.0.0.0".to_string(), hp, web_ip.clone(), cp, proto.into())
    };
    let mut want = vec![
        row(8080, 80, "tcp"),
        row(8080, 80, "udp"),
        row(5353, 53, "udp"),
    ];
    want.sort();
    assert_eq!(seen, want, "podnet ports web: {listed:?}");
    let ps = ps(&lab.host);
    let ps_web = ps.iter().find(|r| r["name"] == "web").unwrap();
    let mut ps_ports: Vec<String> = as_list(ps_web["ports"].clone())
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    ps_ports.sort();
    assert_eq!(
        ps_ports,
        vec![
            "0.0.0.0:5353->53/udp",
            "0.0.0.0:8080->80/tcp",
            "0.0.0.0:8080->80/udp"
        ],
        "ps: {ps_web}"
    );

    for (proto, hport, cport) in [("tcp", 8080, 80), ("udp", 8080, 80), ("udp", 5353, 53)] {
        // From the LAN: the client's own address is preserved.
        let peer = answered_by(&lab, At::Outside, proto, HOST_IP, hport, "web", cport);
        assert_eq!(peer, OUTSIDE_IP, "{proto} {hport} from outside");
        // From the host itself, to its LAN address and to loopback.
        answered_by(&lab, At::Host, proto, HOST_IP, hport, "web", cport);
        answered_by(&lab, At::Host, proto, "127.0.0.1", hport, "web", cport);
        // Hairpin: a neighbour container and the container itself, via the host.
        answered_by(
            &lab,
            At::Container("client"),
            proto,
            HOST_IP,
            hport,
            "web",
            cport,
        );
        answered_by(
            &lab,
            At::Container("web"),
            proto,
            HOST_IP,
            hport,
            "web",
            cport,
        );
        // The gateway is a host address too.
        answered_by(
            &lab,
            At::Container("client"),
            proto,
            &gw,
            hport,
            "web",
            cport,
        );
    }
    // A port nobody published is not forwarded anywhere.
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8081);
}

/// Acceptance 2: `-p 9000-9002:9000-9002` (TCP and UDP) maps each port of the range to its own
/// container port, from every vantage point.
#[test]
fn published_port_ranges_work_for_each_port() {
    let lab = lab();
    let mut servers = vec![];
    for port in 9000..=9002u16 {
        servers.push(("tcp", port));
        servers.push(("udp", port));
    }
    run_servers(
        &lab.host,
        "rng",
        &["-p", "9000-9002:9000-9002", "-p", "9000-9002:9000-9002/udp"],
        &servers,
    );
    run_idle(&lab.host, "client", &[]);
    let listed = as_list(podnet_json(&lab.host, &["ports", "rng"]));
    assert_eq!(listed.len(), 6, "podnet ports rng: {listed:?}");
    for port in 9000..=9002u16 {
        for proto in ["tcp", "udp"] {
            let peer = answered_by(&lab, At::Outside, proto, HOST_IP, port, "rng", port);
            assert_eq!(peer, OUTSIDE_IP);
            answered_by(&lab, At::Host, proto, HOST_IP, port, "rng", port);
            answered_by(&lab, At::Host, proto, "127.0.0.1", port, "rng", port);
            answered_by(
                &lab,
                At::Container("client"),
                proto,
                HOST_IP,
                port,
                "rng",
                port,
            );
            answered_by(
                &lab,
                At::Container("rng"),
                proto,
                HOST_IP,
                port,
                "rng",
                port,
            );
        }
    }
    // Just past either end of the range: nothing.
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8999);
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 9003);
}

/// Acceptance 3: `-p 127.0.0.1:P:C` answers the host on 127.0.0.1 only: never the LAN, not even
/// when the outside machine routes 127.0.0.1 to the host's MAC (CVE-2020-8558).
#[test]
fn loopback_published_port_answers_the_host_but_not_the_lan() {
    let lab = lab();
    let web = run_servers(
        &lab.host,
        "lo-web",
        &["-p", "127.0.0.1:8081:80", "-p", "127.0.0.1:8081:80/udp"],
        &[("tcp", 80), ("udp", 80)],
    );
    let gw = s(&web, "gateway").to_string();
    run_idle(&lab.host, "other", &[]);
    let listed = as_list(podnet_json(&lab.host, &["ports", "lo-web"]));
    assert!(
        listed.iter().all(|p| p["host_ip"] == "127.0.0.1"),
        "{listed:?}"
    );
    for proto in ["tcp", "udp"] {
        answered_by(&lab, At::Host, proto, "127.0.0.1", 8081, "lo-web", 80);
        // Not on the host's LAN address, from the LAN or from the host.
        no_answer(&lab, At::Outside, proto, HOST_IP, 8081);
        no_answer(&lab, At::Host, proto, HOST_IP, 8081);
        // Nor for containers, through any host address.
        no_answer(&lab, At::Container("other"), proto, HOST_IP, 8081);
        no_answer(&lab, At::Container("other"), proto, &gw, 8081);
    }

    // Count, in the host, packets that arrive on the LAN for 127.0.0.1 (before any other
    // hook), to prove the attack really reaches the host.
    ok(
        "host: counting table",
        lab.host.sh("nft add table ip probe && \
             nft add chain ip probe pre '{ type filter hook prerouting priority -400; }' && \
             nft add rule ip probe pre iifname lan0 ip daddr 127.0.0.1 counter"),
    );
    // The outside machine sends 127.0.0.1 to the host's MAC: its own loopback route goes
    // (so the /32 via the host wins), route_localnet lets it route 127/8 at all.
    ok(
        "outside: route 127.0.0.1 via the host",
        lab.outside.sh(&format!(
            "sysctl -qw net.ipv4.conf.all.route_localnet=1 && \
             sysctl -qw net.ipv4.conf.lan0.route_localnet=1 && \
             ip addr flush dev lo && \
             ip route add 127.0.0.1/32 via {HOST_IP} dev lan0 && \
             ip route get 127.0.0.1"
        )),
    );
    for proto in ["tcp", "udp"] {
        no_answer(&lab, At::Outside, proto, "127.0.0.1", 8081);
    }
    let counted = nft(&lab.host, &["-j", "list", "chain", "ip", "probe", "pre"]);
    let v = parse("nft -j list chain", &counted);
    let packets: u64 = as_list(v["nftables"].clone())
        .iter()
        .filter_map(|o| o.get("rule"))
        .flat_map(|r| as_list(r["expr"].clone()))
        .filter_map(|e| e.get("counter").map(|c| c["packets"].as_u64().unwrap()))
        .sum();
    assert!(
        packets >= 2,
        "the outside machine's packets for 127.0.0.1 never reached the host, so the \
         test proved nothing: {counted}"
    );
    // And the server still answers the host.
    answered_by(&lab, At::Host, "tcp", "127.0.0.1", 8081, "lo-web", 80);
}

/// Acceptance 5: A second container asking for a published host port fails clearly (exit 2, one
/// line naming the first container) and changes nothing; the first keeps working.
#[test]
fn publishing_a_taken_port_is_refused_and_the_owner_keeps_it() {
    let lab = lab();
    let sb = &lab.host;
    run_servers(
        sb,
        "first",
        &["-p", "8080:80", "-p", "7000-7002:7000-7002/udp"],
        &[("tcp", 80), ("udp", 7001)],
    );
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8080, "first", 80);
    ok("ip netns add spare", sb.sh("ip netns add spare"));
    let before_links = link_names(sb);
    let before_ps = ps(sb);
    let before_nft = nft(sb, &["list", "ruleset"]);
    let attempts: Vec<Vec<&str>> = vec![
        vec![
            "run", "-d", "--name", "second", "-p", "8080:80", "--", "sleep", "9",
        ],
        vec!["run", "--name", "second", "-p", "8080:8080", "--", "true"],
        vec![
            "run",
            "-d",
            "--name",
            "second",
            "-p",
            "6000:60",
            "-p",
            "7002:80/udp",
            "--",
            "sleep",
            "9",
        ],
        vec![
            "run",
            "-d",
            "--name",
            "second",
            "-p",
            "8079-8081:79-81",
            "--",
            "sleep",
            "9",
        ],
        vec![
            "run",
            "-d",
            "--name",
            "second",
            "-p",
            "198.18.0.1:8080:80",
            "--",
            "sleep",
            "9",
        ],
        vec![
            "attach",
            "--netns",
            "/run/netns/spare",
            "--name",
            "second",
            "-p",
            "8080:80",
        ],
    ];
    for args in attempts {
        let what = format!("podnet {}", args.join(" "));
        let out = sb.podnet(&args);
        assert_bad_input(&what, &out, "'first'");
        assert_eq!(link_names(sb), before_links, "{what} changed links");
        assert_eq!(ps(sb), before_ps, "{what} changed ps");
        assert_eq!(
            nft(sb, &["list", "ruleset"]),
            before_nft,
            "{what} changed the ruleset"
        );
        answered_by(&lab, At::Outside, "tcp", HOST_IP, 8080, "first", 80);
        answered_by(&lab, At::Outside, "udp", HOST_IP, 7001, "first", 7001);
    }
    // The same port number with the other protocol is not a conflict.
    run_servers(sb, "second", &["-p", "8080:80/udp"], &[("udp", 80)]);
    answered_by(&lab, At::Outside, "udp", HOST_IP, 8080, "second", 80);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8080, "first", 80);
}

/// `-p HOSTIP:P:C` with a LAN address answers on that address only; the same port may be
/// published on another address by another container, not on every address.
#[test]
fn port_published_on_one_host_address_answers_only_there() {
    let lab = lab();
    lab.host.add_stub_link("lan1", "198.19.0.1/24").unwrap();
    ok(
        "outside: route 198.19.0.0/24 via the host",
        lab.outside.sh(&format!(
            "ip route add 198.19.0.0/24 via {HOST_IP} dev lan0"
        )),
    );
    let spec = format!("{HOST_IP}:8082:80");
    let spec_udp = format!("{spec}/udp");
    run_servers(
        &lab.host,
        "one-addr",
        &["-p", &spec, "-p", &spec_udp],
        &[("tcp", 80), ("udp", 80)],
    );
    run_idle(&lab.host, "client", &[]);
    for proto in ["tcp", "udp"] {
        let peer = answered_by(&lab, At::Outside, proto, HOST_IP, 8082, "one-addr", 80);
        assert_eq!(peer, OUTSIDE_IP);
        answered_by(&lab, At::Host, proto, HOST_IP, 8082, "one-addr", 80);
        answered_by(
            &lab,
            At::Container("client"),
            proto,
            HOST_IP,
            8082,
            "one-addr",
            80,
        );
        no_answer(&lab, At::Outside, proto, "198.19.0.1", 8082);
        no_answer(&lab, At::Host, proto, "198.19.0.1", 8082);
        no_answer(&lab, At::Host, proto, "127.0.0.1", 8082);
    }
    // The same port on every address overlaps it: refused, naming the owner.
    let out = lab.host.podnet([
        "run", "-d", "--name", "any-addr", "-p", "8082:80", "--", "sleep", "9",
    ]);
    assert_bad_input("podnet run -p 8082:80", &out, "'one-addr'");
    // The same port on another address does not: each address has its own owner.
    run_servers(
        &lab.host,
        "other-addr",
        &["-p", "198.19.0.1:8082:80", "-p", "198.19.0.1:8082:80/udp"],
        &[("tcp", 80), ("udp", 80)],
    );
    for proto in ["tcp", "udp"] {
        answered_by(&lab, At::Outside, proto, HOST_IP, 8082, "one-addr", 80);
        answered_by(&lab, At::Host, proto, HOST_IP, 8082, "one-addr", 80);
        answered_by(
            &lab,
            At::Outside,
            proto,
            "198.19.0.1",
            8082,
            "other-addr",
            80,
        );
        answered_by(&lab, At::Host, proto, "198.19.0.1", 8082, "other-addr", 80);
        no_answer(&lab, At::Host, proto, "127.0.0.1", 8082);
    }
}

/// Acceptance 5, raced: eight containers ask for the same host port at once. Exactly one
/// gets it; every other fails clearly (exit 2, naming the winner); the port forwards to
/// the winner.
#[test]
fn racing_publishers_of_one_port_get_exactly_one_winner() {
    const N: usize = 8;
    let lab = lab();
    let sb = &lab.host;
    // The network (and tables) first, so the race is about the port only.
    run_idle(sb, "base", &[]);
    let bin = sb.podnet_bin().display().to_string();
    let dir = sb.scratch();
    ok(
        "racing attaches",
        sb.sh(&format!(
            "for i in $(seq 1 {N}); do ip netns add r$i || exit 1; done; \
             for i in $(seq 1 {N}); do \
               ( '{bin}' attach --netns /run/netns/r$i --name r$i -p 8080:80 \
                   >{dir}/r$i.out 2>{dir}/r$i.err; echo $? >{dir}/r$i.rc ) & \
             done; wait"
        )),
    );
    let read = |i: usize, ext: &str| {
        std::fs::read_to_string(sb.host_path(format!("{dir}/r{i}.{ext}"))).unwrap()
    };
    let winners: Vec<usize> = (1..=N).filter(|&i| read(i, "rc").trim() == "0").collect();
    assert_eq!(winners.len(), 1, "exactly one attach may win: {winners:?}");
    let winner = format!("r{}", winners[0]);
    for i in (1..=N).filter(|&i| i != winners[0]) {
        let (rc, err) = (read(i, "rc"), read(i, "err"));
        assert_eq!(rc.trim(), "2", "r{i}: exit {rc}, stderr {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "r{i}: {err}");
        assert!(
            lines[0].starts_with("podnet: ") && lines[0].contains(&format!("'{winner}'")),
            "r{i}: the error should name the winner {winner}: {err}"
        );
    }
    let names: Vec<String> = ps(sb).iter().map(|r| s(r, "name").to_string()).collect();
    let mut want = vec!["base".to_string(), winner.clone()];
    want.sort();
    let mut names = names;
    names.sort();
    assert_eq!(names, want);
    assert_eq!(map_len(sb, "ports_any"), 1);
    lab.host
        .serve(
            Some(&format!("/run/netns/{winner}")),
            "tcp",
            "0.0.0.0",
            80,
            "winner/{peer}",
        )
        .unwrap();
    assert_eq!(
        reply(&lab, At::Outside, "tcp", HOST_IP, 8080),
        format!("winner/{OUTSIDE_IP}")
    );
}
