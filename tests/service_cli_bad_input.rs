//! `podnet service create` bad input: each is refused with exit 2 and a one-line
//! `podnet: ...` error naming the input, and changes nothing (`service ls`, the
//! `ip podnet-svc` and `ip podnet` tables, the IPv4 routes, the containers).
//!
//! Setup: containers `w1` (label app=web) and `pub` (`-p 31000:80`, `-p 31001:81/udp`),
//! and service `web` at 10.43.0.10 with tcp 80:8080 and udp 53 on node port 30080.

mod common;

use common::publish::nft;
use common::*;
use podnet::testbed::Sandbox;
use serde_json::{json, Value};

fn setup() -> Sandbox {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &[
            "run", "-d", "--name", "w1", "-l", "app=web", "--", "sleep", "infinity",
        ],
    );
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "pub",
            "-p",
            "31000:80",
            "-p",
            "31001:81/udp",
            "--",
            "sleep",
            "infinity",
        ],
    );
    podnet_ok(
        &sb,
        &[
            "service",
            "create",
            "web",
            "--vip",
            "10.43.0.10",
            "--port",
            "80:8080",
            "--port",
            "53/udp",
            "--selector",
            "app=web",
            "--node-port",
            "30080",
        ],
    );
    sb
}

/// What a refused `service create` must leave as it was.
fn snapshot(sb: &Sandbox) -> Value {
    let routes: Vec<Value> = as_list(ip_json(sb, &["-4", "route", "show", "table", "all"]))
        .iter()
        .map(|r| json!([r["dst"], r["dev"], r["gateway"], r["table"]]))
        .collect();
    json!({
        "services": podnet_json(sb, &["service", "ls"]),
        "table": nft(sb, &["list", "table", "ip", "podnet-svc"]),
        "podnet_table": nft(sb, &["list", "table", "ip", "podnet"]),
        "routes": routes,
        "ps": ps(sb),
    })
}

/// `podnet service create ARGS...` is bad input naming `needle`, and changes nothing.
fn refused(sb: &Sandbox, args: &[&str], needle: &str) {
    let before = snapshot(sb);
    let mut all = vec!["service", "create"];
    all.extend(args);
    let what = format!("podnet {}", all.join(" "));
    let out = sb.podnet(&all);
    assert_bad_input(&what, &out, needle);
    let after = snapshot(sb);
    for key in ["services", "table", "podnet_table", "routes", "ps"] {
        assert_eq!(before[key], after[key], "{what} changed {key}");
    }
}

#[test]
fn vip_outside_the_range_or_taken_is_refused() {
    let sb = setup();
    for v in [
        "10.44.0.5",
        "10.42.255.254",
        "192.168.1.10",
        "10.43.0.0",
        "10.43.255.255",
    ] {
        refused(
            &sb,
            &["x", "--vip", v, "--port", "80", "--selector", "app=web"],
            v,
        );
    }
    refused(
        &sb,
        &[
            "x",
            "--vip",
            "10.43.0.300",
            "--port",
            "80",
            "--selector",
            "app=web",
        ],
        "10.43.0.300",
    );
    // Already the VIP of `web`.
    refused(
        &sb,
        &[
            "x",
            "--vip",
            "10.43.0.10",
            "--port",
            "80",
            "--selector",
            "app=web",
        ],
        "10.43.0.10",
    );
    // The name is taken too.
    refused(
        &sb,
        &["web", "--port", "81", "--selector", "app=web"],
        "web",
    );
}

#[test]
fn ports_out_of_range_or_duplicated_are_refused() {
    let sb = setup();
    for (spec, needle) in [
        ("0", "0"),
        ("65536", "65536"),
        ("80:0", "80:0"),
        ("80:65536", "65536"),
        ("-1", "-1"),
        ("http", "http"),
        ("80/icmp", "icmp"),
        ("80-90", "80-90"),
    ] {
        refused(&sb, &["x", "--port", spec, "--selector", "app=web"], needle);
    }
    for dup in [
        ["80", "80/tcp"],
        ["80:8080", "80:9090"],
        ["53/udp", "53:5353/udp"],
    ] {
        refused(
            &sb,
            &[
                "x",
                "--port",
                dup[0],
                "--port",
                dup[1],
                "--selector",
                "app=web",
            ],
            dup[0].split(':').next().unwrap().split('/').next().unwrap(),
        );
    }
}

#[test]
fn unknown_backend_container_is_refused() {
    let sb = setup();
    refused(&sb, &["x", "--port", "80", "--backend", "nosuch"], "nosuch");
    // One good, one unknown: still nothing created.
    refused(
        &sb,
        &["x", "--port", "80", "--backend", "w1", "--backend", "ghost"],
        "ghost",
    );
    refused(&sb, &["x", "--port", "80", "--backend", "w1:0"], "w1:0");
    refused(
        &sb,
        &["x", "--port", "80", "--backend", "w1:99999"],
        "99999",
    );
}

/// A container named twice as a backend (issue 7, item 17): bad input naming it, not the
/// store's UNIQUE constraint.
#[test]
fn duplicate_backends_are_refused() {
    let sb = setup();
    for dup in [
        &["--backend", "w1", "--backend", "w1"][..],
        &["--backend", "w1:80", "--backend", "w1:81"],
        &["--backend", "pub", "--backend", "w1", "--backend", "pub:90"],
    ] {
        let mut args = vec!["x", "--port", "80"];
        args.extend(dup);
        refused(&sb, &args, "twice");
    }
}

#[test]
fn node_port_outside_the_range_or_taken_is_refused() {
    let sb = setup();
    for n in ["29999", "32768", "80", "0", "65536", "abc"] {
        refused(
            &sb,
            &[
                "x",
                "--port",
                "80",
                "--selector",
                "app=web",
                "--node-port",
                n,
            ],
            n,
        );
    }
    // Two TCP ports take N and N+1: 32767 + 1 is outside.
    refused(
        &sb,
        &[
            "x",
            "--port",
            "80",
            "--port",
            "81",
            "--selector",
            "app=web",
            "--node-port",
            "32767",
        ],
        "32767",
    );
    // Taken by service `web` (tcp and udp).
    refused(
        &sb,
        &[
            "x",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--node-port",
            "30080",
        ],
        "30080",
    );
    refused(
        &sb,
        &[
            "x",
            "--port",
            "53/udp",
            "--selector",
            "app=web",
            "--node-port",
            "30080",
        ],
        "30080",
    );
    // Taken by container `pub`'s published host ports.
    refused(
        &sb,
        &[
            "x",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--node-port",
            "31000",
        ],
        "31000",
    );
    refused(
        &sb,
        &[
            "x",
            "--port",
            "81/udp",
            "--selector",
            "app=web",
            "--node-port",
            "31001",
        ],
        "31001",
    );
}

#[test]
fn selector_syntax_errors_are_refused() {
    let sb = setup();
    for sel in [
        "",
        "app",
        "=web",
        "app=",
        "app=web,",
        ",app=web",
        "app=web,app=api",
        "app=web,tier",
        "a b=c",
        "app=we b",
        "app==web",
        "app=web;tier=x",
    ] {
        let needle = if sel.is_empty() { "--selector" } else { sel };
        refused(&sb, &["x", "--port", "80", "--selector", sel], needle);
    }
}

#[test]
fn selector_with_backend_is_refused() {
    let sb = setup();
    refused(
        &sb,
        &[
            "x",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--backend",
            "w1",
        ],
        "--selector",
    );
    refused(
        &sb,
        &[
            "x",
            "--port",
            "80",
            "--backend",
            "w1",
            "--selector",
            "app=web",
        ],
        "--backend",
    );
}

#[test]
fn affinity_timeout_without_affinity_is_refused() {
    let sb = setup();
    refused(
        &sb,
        &[
            "x",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--affinity-timeout",
            "60",
        ],
        "--affinity-timeout",
    );
    refused(
        &sb,
        &[
            "x",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--affinity",
            "none",
            "--affinity-timeout",
            "60",
        ],
        "--affinity-timeout",
    );
    // And the timeout itself or the affinity kind wrong.
    for t in ["0", "86401", "-5", "1h"] {
        refused(
            &sb,
            &[
                "x",
                "--port",
                "80",
                "--selector",
                "app=web",
                "--affinity",
                "client-ip",
                "--affinity-timeout",
                t,
            ],
            t,
        );
    }
    refused(
        &sb,
        &[
            "x",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--affinity",
            "cookie",
        ],
        "cookie",
    );
}

/// Control: the setup's service works as given, and a good `service create` in the same
/// sandbox succeeds (so the refusals above are about the input, not the sandbox).
#[test]
fn a_good_create_next_to_the_refusals_succeeds() {
    let sb = setup();
    refused(
        &sb,
        &[
            "x",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--node-port",
            "30080",
        ],
        "30080",
    );
    podnet_ok(
        &sb,
        &[
            "service",
            "create",
            "x",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--node-port",
            "30081",
            "--affinity",
            "client-ip",
            "--affinity-timeout",
            "60",
        ],
    );
    let names: Vec<String> = as_list(podnet_json(&sb, &["service", "ls"]))
        .iter()
        .map(|r| s(r, "name").to_string())
        .collect();
    assert_eq!(names, vec!["web", "x"]);
}
