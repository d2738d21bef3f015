//! Netfilter acceptance 7 and 8: removing a container removes exactly the map elements
//! it added and the last network takes podnet's tables with it; the rule count does not
//! grow with the number of published ports. Real traffic confirms each state.

mod common;

use common::publish::*;
use common::*;
use podnet::testbed::Sandbox;
use std::time::Duration;

/// `(elements of ports, elements of ports_any)`.
fn counts(sb: &Sandbox) -> (usize, usize) {
    (map_len(sb, "ports"), map_len(sb, "ports_any"))
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

fn both_tables() -> Vec<(String, String)> {
    sorted(vec![
        ("bridge".into(), "podnet".into()),
        ("ip".into(), "podnet".into()),
    ])
}

#[test]
fn rm_removes_every_element_and_the_last_network_removes_the_tables() {
    let lab = lab();
    let sb = &lab.host;
    assert!(podnet_tables(sb).is_empty(), "tables before any network");
    run_idle(sb, "base", &[]);
    assert_eq!(sorted(podnet_tables(sb)), both_tables());
    let empty = counts(sb);

    run_servers(sb, "keep", &["-p", "8090:80"], &[("tcp", 80)]);
    let with_keep = counts(sb);
    assert_eq!(with_keep, (empty.0, empty.1 + 1), "one port on any address");

    let mut servers = vec![("tcp", 80), ("udp", 80)];
    servers.extend((9000..=9002).map(|p| ("tcp", p)));
    run_servers(
        sb,
        "gone",
        &[
            "-p",
            "8080:80",
            "-p",
            "8080:80/udp",
            "-p",
            "127.0.0.1:8081:80",
            "-p",
            "9000-9002:9000-9002",
        ],
        &servers,
    );
    assert_eq!(
        counts(sb),
        (with_keep.0 + 1, with_keep.1 + 5),
        "gone adds 1 element to ports (127.0.0.1) and 5 to ports_any"
    );
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8080, "gone", 80);
    answered_by(&lab, At::Outside, "udp", HOST_IP, 8080, "gone", 80);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 9002, "gone", 9002);
    answered_by(&lab, At::Host, "tcp", "127.0.0.1", 8081, "gone", 80);

    podnet_ok(sb, &["rm", "-f", "gone"]);
    assert_eq!(counts(sb), with_keep, "podnet rm -f gone left elements");
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8080);
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 9002);
    no_answer(&lab, At::Host, "tcp", "127.0.0.1", 8081);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8090, "keep", 80);
    // The freed ports can be published again, by someone else.
    run_servers(sb, "again", &["-p", "8080:80"], &[("tcp", 80)]);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8080, "again", 80);
    podnet_ok(sb, &["rm", "-f", "again"]);
    assert_eq!(counts(sb), with_keep);

    // A foreground container removes its elements when its command exits.
    podnet_ok(
        sb,
        &[
            "run",
            "--name",
            "short",
            "-p",
            "8200:80",
            "-p",
            "127.0.0.1:8201:80/udp",
            "--",
            "true",
        ],
    );
    assert!(!ps(sb).iter().any(|r| r["name"] == "short"));
    assert_eq!(
        counts(sb),
        with_keep,
        "foreground run of 'short' left elements"
    );

    // A detached container whose command exited, removed without -f.
    podnet_ok(
        sb,
        &[
            "run",
            "-d",
            "--name",
            "brief",
            "-p",
            "8210:80",
            "-p",
            "127.0.0.1:8211:80/udp",
            "--",
            "true",
        ],
    );
    sb.wait_until("brief to exit", Duration::from_secs(30), || {
        s(&inspect(sb, "brief"), "status") == "exited"
    })
    .unwrap_or_else(|e| panic!("{e}: {}", inspect(sb, "brief")));
    podnet_ok(sb, &["rm", "brief"]);
    assert_eq!(
        counts(sb),
        with_keep,
        "rm of the exited 'brief' left elements"
    );

    // An attached namespace, detached.
    ok("ip netns add spare", sb.sh("ip netns add spare"));
    podnet_ok(
        sb,
        &[
            "attach",
            "--netns",
            "/run/netns/spare",
            "--name",
            "spare",
            "-p",
            "8300:80",
            "-p",
            "127.0.0.1:8301:80",
        ],
    );
    assert_eq!(counts(sb), (with_keep.0 + 1, with_keep.1 + 1));
    lab.host
        .serve(
            Some("/run/netns/spare"),
            "tcp",
            "0.0.0.0",
            80,
            "spare/{peer}",
        )
        .unwrap();
    assert_eq!(
        reply(&lab, At::Outside, "tcp", HOST_IP, 8300),
        format!("spare/{OUTSIDE_IP}")
    );
    podnet_ok(sb, &["detach", "spare"]);
    assert_eq!(counts(sb), with_keep, "detach left elements");
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8300);

    // Stop, then rm.
    podnet_ok(sb, &["stop", "keep"]);
    podnet_ok(sb, &["rm", "keep"]);
    assert_eq!(counts(sb), empty, "stop + rm of 'keep' left elements");
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8090);

    // The last container and the last network gone: no podnet table at all.
    podnet_ok(sb, &["rm", "-f", "base"]);
    assert_eq!(
        sorted(podnet_tables(sb)),
        both_tables(),
        "network still there"
    );
    podnet_ok(sb, &["network", "rm", "podnet0"]);
    let left = nft(sb, &["list", "tables"]);
    assert!(
        !left.contains("podnet"),
        "podnet tables left after the last network: {left}"
    );
    assert!(networks(sb).is_empty(), "{:?}", networks(sb));
}

#[test]
fn rule_count_does_not_grow_with_300_published_containers() {
    const N: u16 = 300;
    let lab = lab();
    let sb = &lab.host;
    ok(
        "ip netns add n1..n300",
        sb.sh(&format!(
            "for i in $(seq 1 {N}); do ip netns add n$i || exit 1; done"
        )),
    );
    let attach = |i: u16| {
        podnet_ok(
            sb,
            &[
                "attach",
                "--netns",
                &format!("/run/netns/n{i}"),
                "--name",
                &format!("n{i}"),
                "-p",
                &format!("{}:80", 10000 + i),
            ],
        );
    };
    attach(1);
    let one = rule_count(sb);
    assert!(one > 0, "no rules with one published container");
    assert_eq!(map_len(sb, "ports_any"), 1);

    let bin = sb.podnet_bin().display().to_string();
    ok(
        "attach n2..n300",
        sb.sh(&format!(
            "for i in $(seq 2 {N}); do \
               '{bin}' attach --netns /run/netns/n$i --name n$i -p $((10000 + i)):80 >/dev/null \
               || exit 1; done"
        )),
    );
    assert_eq!(ps(sb).len(), N as usize);
    assert_eq!(map_len(sb, "ports_any"), N as usize);
    assert_eq!(
        rule_count(sb),
        one,
        "rule count with {N} published containers differs from 1"
    );

    // Every published port is live: check the first, the last and one in between.
    for i in [1, 150, N] {
        lab.host
            .serve(
                Some(&format!("/run/netns/n{i}")),
                "tcp",
                "0.0.0.0",
                80,
                &format!("n{i}/{{peer}}"),
            )
            .unwrap();
        assert_eq!(
            reply(&lab, At::Outside, "tcp", HOST_IP, 10000 + i),
            format!("n{i}/{OUTSIDE_IP}")
        );
    }
}

/// `podnet rm -f` of a container whose command started a child process: nothing may keep
/// answering at the container's address afterwards (no veth on the bridge, no process
/// of the container left running), or its address, now free, is live twice.
#[test]
fn rm_leaves_nothing_answering_at_the_containers_address() {
    let lab = lab();
    let sb = &lab.host;
    // tcp/80 is a child of the container's shell; tcp/81 replaces the shell.
    let c = run_servers(sb, "forky", &["-p", "8080:80"], &[("tcp", 80), ("tcp", 81)]);
    let ip = s(&c, "ip").to_string();
    let veth = s(&c, "host_veth").to_string();
    answered_by(&lab, At::Host, "tcp", &ip, 80, "forky", 80);
    answered_by(&lab, At::Host, "tcp", &ip, 81, "forky", 81);
    answered_by(&lab, At::Outside, "tcp", HOST_IP, 8080, "forky", 80);

    podnet_ok(sb, &["rm", "-f", "forky"]);
    assert!(ps(sb).is_empty(), "{:?}", ps(sb));
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 8080);
    // The kernel removes a namespace's veth asynchronously: wait for it (readiness only).
    let gone = sb.wait_until(
        &format!("veth {veth} to go"),
        Duration::from_secs(30),
        || !link_names(sb).contains(&veth),
    );
    let left = ok(
        "processes",
        sb.sh("ps -eo pid,args | grep '[f]orky/tcp' || true"),
    );
    assert!(
        gone.is_ok() && left.trim().is_empty(),
        "after podnet rm -f forky: veth {veth} still present: {}; container processes \
         still running:\n{left}",
        gone.is_err()
    );
    no_answer(&lab, At::Host, "tcp", &ip, 80);
    no_answer(&lab, At::Host, "tcp", &ip, 81);
}
