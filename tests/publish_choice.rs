//! Host ports podnet chooses, as Docker does: `-p 80` and `-p IP::80` take a free port of the
//! kernel's ephemeral range, `-p 8000-8010:80` the first free one of the range, `-P` every
//! `--expose`d port; "free" means no container, node port, reserved port or host program holds
//! it, decided race-free among concurrent runs. Shown by `ports`, `inspect` and `ps`, and
//! answered with real traffic. Also: a port a host program left in TIME_WAIT is not "in use".

mod common;

use common::publish::*;
use common::*;
use podnet::testbed::Sandbox;
use std::collections::BTreeSet;

/// `(host_port, container_port, proto, host_ip)` of every port `podnet ports NAME` lists.
fn published(sb: &Sandbox, name: &str) -> Vec<(u16, u16, String, String)> {
    let mut v: Vec<_> = as_list(podnet_json(sb, &["ports", name]))
        .iter()
        .map(|p| {
            (
                p["host_port"].as_u64().unwrap() as u16,
                p["container_port"].as_u64().unwrap() as u16,
                s(p, "proto").to_string(),
                s(p, "host_ip").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The one host port NAME publishes.
fn only_port(sb: &Sandbox, name: &str) -> u16 {
    match published(sb, name).as_slice() {
        [one] => one.0,
        other => panic!("{name} publishes {other:?}, expected one port"),
    }
}

#[test]
fn free_host_ports_skip_whatever_holds_one_even_under_concurrency() {
    let sb = sandbox();
    // Ten ephemeral ports; 40009 reserved for fixed use, 40000 held by a host program,
    // 40001 published by a container: seven remain.
    ok(
        "sysctl",
        sb.sh("sysctl -qw net.ipv4.ip_local_port_range='40000 40009' net.ipv4.ip_local_reserved_ports=40009"),
    );
    sb.serve(None, "tcp", "0.0.0.0", 40000, "host").unwrap();
    run_server(&sb, "fixed", &["-p", "40001:80"], 80, "fixed");
    let names: Vec<String> = (0..7).map(|i| format!("r{i}")).collect();
    std::thread::scope(|scope| {
        for n in &names {
            let sb = &sb;
            scope.spawn(move || run_server(sb, n, &["-p", "80"], 80, n));
        }
    });
    let ports: BTreeSet<u16> = names.iter().map(|n| only_port(&sb, n)).collect();
    assert_eq!(
        ports,
        (40002..=40008).collect(),
        "seven runs, seven distinct free ports"
    );
    for n in &names {
        let port = only_port(&sb, n);
        assert_eq!(tcp_reply(&sb, None, "127.0.0.1", port), *n, "{n} on {port}");
        let row = inspect(&sb, n);
        assert_eq!(
            as_list(row["ports"].clone()),
            [format!("0.0.0.0:{port}->80/tcp")],
            "inspect {n}"
        );
    }
    assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 40000), "host");

    // None left for TCP: refused as bad input, nothing made.
    let out = sb.podnet([
        "run", "-d", "--name", "late", "-p", "80", "--", "sleep", "9",
    ]);
    assert_bad_input(
        "run -p 80 with none free",
        &out,
        "no free host port for container port 80/tcp in 40000-40009",
    );
    assert!(!ps(&sb).iter().any(|r| r["name"] == "late"));
    // UDP ports are a separate space: still free, and the reserved one stays out.
    podnet_ok(
        &sb,
        &[
            "run", "-d", "--name", "u", "-p", "53/udp", "--", "sleep", "infinity",
        ],
    );
    let (port, cport, proto, _) = published(&sb, "u").remove(0);
    assert!(
        (40000..=40008).contains(&port) && cport == 53 && proto == "udp",
        "{port}"
    );
}

#[test]
fn a_host_range_gives_its_first_free_port_and_an_address_keeps_its_own() {
    let sb = sandbox();
    sb.add_stub_link("hostlan0", "10.231.0.1/16").unwrap();
    sb.serve(None, "tcp", "0.0.0.0", 8000, "host").unwrap();
    run_server(&sb, "a", &["-p", "8001:80"], 80, "a");
    run_server(&sb, "b", &["-p", "8000-8003:80"], 80, "b");
    assert_eq!(
        published(&sb, "b"),
        [(8002, 80, "tcp".into(), "0.0.0.0".into())]
    );
    assert_eq!(tcp_reply(&sb, None, "10.231.0.1", 8002), "b");
    // 8000-8002 has nothing free left.
    let out = sb.podnet([
        "run",
        "-d",
        "--name",
        "c",
        "-p",
        "8000-8002:80",
        "--",
        "sleep",
        "9",
    ]);
    assert_bad_input("run -p 8000-8002:80", &out, "in 8000-8002");
    // IP::PORT: a free port on that address only.
    run_server(&sb, "d", &["-p", "10.231.0.1::80"], 80, "d");
    let (port, _, _, ip) = published(&sb, "d").remove(0);
    assert_eq!(ip, "10.231.0.1");
    assert_eq!(tcp_reply(&sb, None, "10.231.0.1", port), "d");
    let table = podnet_ok(&sb, &["ps"]);
    assert!(
        table.contains(&format!("10.231.0.1:{port}->80/tcp")),
        "ps shows d's port:\n{table}"
    );
}

#[test]
fn publish_all_puts_every_exposed_port_on_a_free_host_port() {
    let lab = lab();
    let sb = &lab.host;
    run_servers(
        sb,
        "e",
        &[
            "--expose",
            "80",
            "--expose",
            "5353/udp",
            "--expose",
            "7000-7001",
            "-p",
            "8080:7000",
            "-P",
        ],
        &[("tcp", 80), ("udp", 5353), ("tcp", 7000), ("tcp", 7001)],
    );
    let got = published(sb, "e");
    let by_container: Vec<(u16, &str)> = got.iter().map(|p| (p.1, p.2.as_str())).collect();
    let mut want = vec![(80, "tcp"), (5353, "udp"), (7000, "tcp"), (7001, "tcp")];
    want.sort();
    let mut by_sorted = by_container.clone();
    by_sorted.sort();
    assert_eq!(by_sorted, want, "{got:?}");
    for (host, cport, proto, _) in &got {
        if *cport == 7000 {
            assert_eq!(*host, 8080, "-p 8080:7000 keeps its host port");
        }
        // From another machine, on the host's LAN address.
        answered_by(&lab, At::Outside, proto, HOST_IP, *host, "e", *cport);
    }
}

#[test]
fn a_port_left_in_time_wait_is_not_in_use() {
    let sb = sandbox();
    let py = podnet::testbed::python().display().to_string();
    let tool = podnet::testbed::nettool_path().display().to_string();
    let ready = format!("{}/tw.ready", sb.scratch());
    // The server closes first, so its side of the connection lingers in TIME_WAIT after it
    // exits.
    ok(
        "serve, connect once, stop",
        sb.sh(&format!(
            "'{py}' '{tool}' serve tcp 7080 --reply tw --ready-file {ready} & pid=$!; \
             while [ ! -e {ready} ]; do sleep 0.02; done; \
             '{py}' '{tool}' connect tcp 127.0.0.1 7080 && kill $pid && wait $pid; true"
        )),
    );
    let tw = ok("ss", sb.sh("ss -Htan state time-wait '( sport = :7080 )'"));
    assert!(!tw.trim().is_empty(), "expected a TIME_WAIT socket on 7080");
    run_server(&sb, "web", &["-p", "7080:80"], 80, "web");
    assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 7080), "web");
}
