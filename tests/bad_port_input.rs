//! Publishing refused before anything is made: a host port a host program holds (TCP and UDP,
//! IPv4 and dual-stack IPv6 listeners, named by pid and command), a `-p HOSTIP` the host does
//! not own or that is no host's address, non-canonical address text, and bad `-P`/`--expose`/
//! `ps --filter`. Each exits 2 with one line naming the input and changes nothing; the host
//! programs keep their ports.

mod common;

use common::state::{check_says, setup};
use common::*;
use podnet::testbed::Sandbox;

/// `pid=N` and the command of the socket `ss` (an independent view) shows on `port`.
fn holder(sb: &Sandbox, proto: &str, port: u16) -> String {
    let flag = if proto == "tcp" { "-Hltnp" } else { "-Hlunp" };
    let out = ok("ss", sb.sh(&format!("ss {flag} 'sport = :{port}'")));
    // users:(("python3",pid=42,fd=3))
    let users = out
        .split("users:((\"")
        .nth(1)
        .unwrap_or_else(|| panic!("ss shows no holder of {port}/{proto}: {out}"));
    let command = users.split('"').next().unwrap();
    let pid = users
        .split("pid=")
        .nth(1)
        .and_then(|p| p.split(',').next())
        .unwrap();
    format!("by pid {pid} ({command})")
}

fn run(extra: &[&'static str]) -> Vec<&'static str> {
    let mut a = vec!["run", "-d", "--name", "z", "--network", "netA"];
    a.extend(extra);
    a.extend(["--", "sleep", "9"]);
    a
}

#[test]
fn ports_held_by_host_programs_are_refused_naming_them() {
    let sb = setup();
    sb.serve(None, "tcp", "0.0.0.0", 7070, "host-7070").unwrap();
    sb.serve(None, "tcp", "127.0.0.1", 7071, "host-7071")
        .unwrap();
    sb.serve(None, "tcp", "::", 7072, "host-7072").unwrap();
    sb.serve(None, "udp", "0.0.0.0", 7073, "host-7073").unwrap();
    sb.serve(None, "udp", "::", 7074, "host-7074").unwrap();
    ok("ip netns add spare", sb.sh("ip netns add spare"));
    let cases: Vec<(Vec<&str>, &str, u16, &str)> = vec![
        (run(&["-p", "7070:80"]), "tcp", 7070, "0.0.0.0:7070/tcp"),
        (
            run(&["-p", "127.0.0.1:7071:80"]),
            "tcp",
            7071,
            "127.0.0.1:7071/tcp",
        ),
        // A wildcard publish would steal the loopback listener's traffic too.
        (run(&["-p", "7071:80"]), "tcp", 7071, "0.0.0.0:7071/tcp"),
        // [::]:7072 takes IPv4 too (v6only off).
        (run(&["-p", "7072:80"]), "tcp", 7072, "0.0.0.0:7072/tcp"),
        (run(&["-p", "7073:53/udp"]), "udp", 7073, "0.0.0.0:7073/udp"),
        (run(&["-p", "7074:53/udp"]), "udp", 7074, "0.0.0.0:7074/udp"),
        (
            run(&["-p", "7069-7070:79-80"]),
            "tcp",
            7070,
            "0.0.0.0:7070/tcp",
        ),
        (
            vec!["run", "--network", "netA", "-p", "7070:80", "--", "true"],
            "tcp",
            7070,
            "0.0.0.0:7070/tcp",
        ),
        (
            vec![
                "attach",
                "--netns",
                "/run/netns/spare",
                "--name",
                "z",
                "--network",
                "netA",
                "-p",
                "7070:80",
            ],
            "tcp",
            7070,
            "0.0.0.0:7070/tcp",
        ),
    ];
    for (args, proto, port, shown) in cases {
        let by = holder(&sb, proto, port);
        check_says(
            &sb,
            &args,
            &[&format!("host port {shown} is already in use {by}")],
        );
    }
    // The host programs kept their ports.
    for port in [7070, 7071] {
        assert_eq!(
            tcp_reply(&sb, None, "127.0.0.1", port),
            format!("host-{port}")
        );
    }
    // Controls: the other protocol on a held port, and a free port, publish fine.
    podnet_ok(&sb, &run(&["-p", "7070:80/udp", "-p", "7075:80"]));
    let ports: Vec<String> = as_list(podnet_json(&sb, &["ports", "z"]))
        .iter()
        .map(|p| format!("{}/{}", p["host_port"], s(p, "proto")))
        .collect();
    assert_eq!(ports, ["7070/udp", "7075/tcp"]);
}

#[test]
fn bad_host_addresses_and_flags_are_refused() {
    let sb = setup();
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            run(&["-p", "10.99.0.1:8080:80"]),
            &["-p 10.99.0.1", "not an address of this host"],
        ),
        (
            run(&["-p", "10.99.0.1::80"]),
            &["-p 10.99.0.1", "not an address of this host"],
        ),
        (
            run(&["-p", "224.0.0.1:8080:80"]),
            &["224.0.0.1", "multicast"],
        ),
        (
            run(&["-p", "255.255.255.255:8080:80"]),
            &["255.255.255.255", "reserved"],
        ),
        (
            run(&["-p", "010.231.0.1:8080:80"]),
            &["\"010\"", "leading zero"],
        ),
        (
            run(&["--ip", "010.210.0.5"]),
            &["--ip '010.210.0.5'", "leading zero"],
        ),
        (run(&["-P"]), &["-P", "--expose"]),
        (run(&["--expose", "80:80"]), &["--expose \"80:80\""]),
        (
            run(&["-p", "8000-8001:80-82"]),
            &["8000-8001:80-82", "give one container port"],
        ),
        (
            vec![
                "service",
                "create",
                "s",
                "--port",
                "80",
                "--backend",
                "c1",
                "--vip",
                "010.43.0.9",
            ],
            &["--vip '010.43.0.9'", "leading zero"],
        ),
        (
            vec!["ps", "--filter", "color=red"],
            &["color=red", "unknown key"],
        ),
        (
            vec!["ps", "--filter", "status=paused"],
            &["status=paused", "running"],
        ),
        (vec!["ps", "--filter", "name"], &["'name'", "KEY=VALUE"]),
    ];
    for (args, needles) in cases {
        check_says(&sb, &args, needles);
    }
    // Control: the host's own LAN address is fine.
    podnet_ok(&sb, &run(&["-p", "10.231.0.1:8080:80"]));
}
