//! `podnet service` lifecycle through the CLI with real traffic: a backend port override,
//! containers without an address never becoming backends, `service rm` (the other services
//! keep working; the last one takes the table and the VIP route with it), and concurrent
//! creates getting distinct VIPs.

mod common;

use common::publish::*;
use common::service::*;
use common::*;

/// `--backend NAME:PORT` sends that backend's traffic to PORT instead of the target port.
#[test]
fn backend_port_override_is_used() {
    let lab = lab();
    run_servers(&lab.host, "alt", &[], &[("tcp", 9090)]);
    backend(&lab.host, "w1", &[], &[]);
    run_idle(&lab.host, "cl", &[]);
    let svc = service(
        &lab.host,
        "mixed",
        &[
            "--port",
            "80:8080",
            "--backend",
            "w1",
            "--backend",
            "alt:9090",
        ],
    );
    let m = spread(&lab, At::Container("cl"), "tcp", &vip(&svc), 80, 40);
    assert_spread("w1 on 8080 and alt on 9090", &m, &["alt", "w1"], 1, 40);
}

/// A matching container with no address (`--network none`) is not a backend: no connection
/// is sent into the void.
#[test]
fn matching_container_without_an_address_is_not_a_backend() {
    let lab = lab();
    backend(&lab.host, "w1", &["app=web"], &[]);
    podnet_ok(
        &lab.host,
        &[
            "run",
            "-d",
            "--name",
            "loner",
            "--network",
            "none",
            "-l",
            "app=web",
            "--",
            "sleep",
            "infinity",
        ],
    );
    run_idle(&lab.host, "cl", &[]);
    let svc = service(
        &lab.host,
        "web",
        &["--port", "80:8080", "--selector", "app=web"],
    );
    assert_eq!(backend_ips(&lab.host, "web").len(), 1, "{svc}");
    let m = spread(&lab, At::Container("cl"), "tcp", &vip(&svc), 80, 30);
    assert_spread("only w1", &m, &["w1"], 30, 30);
}

/// `service rm` of one service leaves the others working; removing the last one removes the
/// `ip podnet-svc` table and the VIP route, and its VIP answers no more.
#[test]
fn service_rm_removes_only_that_service_then_everything() {
    let lab = lab();
    backend(&lab.host, "w1", &["app=web"], &[]);
    run_idle(&lab.host, "cl", &[]);
    let a = service(
        &lab.host,
        "a",
        &["--port", "80:8080", "--selector", "app=web"],
    );
    let b = service(
        &lab.host,
        "b",
        &[
            "--port",
            "81:8080",
            "--backend",
            "w1",
            "--node-port",
            "30081",
        ],
    );
    let (av, bv) = (vip(&a), vip(&b));
    assert_ne!(av, bv);
    podnet_ok(&lab.host, &["service", "rm", "a"]);
    no_answer(&lab, At::Container("cl"), "tcp", &av, 80);
    assert!(reply(&lab, At::Container("cl"), "tcp", &bv, 81).starts_with("w1/"));
    assert!(reply(&lab, At::Outside, "tcp", HOST_IP, 30081).starts_with("w1/"));
    let names = as_list(podnet_json(&lab.host, &["service", "ls"]));
    assert_eq!(names.len(), 1, "{names:?}");

    podnet_ok(&lab.host, &["service", "rm", "b"]);
    no_answer(&lab, At::Container("cl"), "tcp", &bv, 81);
    no_answer(&lab, At::Outside, "tcp", HOST_IP, 30081);
    let t = svc_table(&lab.host);
    assert!(!t.ends_with("rc=0\n"), "ip podnet-svc should be gone:\n{t}");
    let routes = ok("ip route", lab.host.sh("ip route show 10.43.0.0/16"));
    assert!(routes.trim().is_empty(), "VIP route left: {routes}");
    // Removing a service that is not there is bad input.
    let out = lab.host.podnet(["service", "rm", "b"]);
    assert_bad_input("podnet service rm b (gone)", &out, "b");
}

/// Two `service create` at once, without `--vip`: both succeed with distinct VIPs, and both
/// answer.
#[test]
fn concurrent_creates_get_distinct_vips() {
    let lab = lab();
    backend(&lab.host, "w1", &["app=web"], &[]);
    run_idle(&lab.host, "cl", &[]);
    let spawn = |name: &str| {
        lab.host
            .podnet_cmd([
                "service",
                "create",
                name,
                "--port",
                "80:8080",
                "--selector",
                "app=web",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = ["s1", "s2", "s3", "s4"].into_iter().map(spawn).collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        ok("concurrent service create", out);
    }
    let mut vips = vec![];
    for name in ["s1", "s2", "s3", "s4"] {
        let v = vip(&podnet_json(&lab.host, &["service", "inspect", name]));
        assert!(
            reply(&lab, At::Container("cl"), "tcp", &v, 80).starts_with("w1/"),
            "{name} at {v}"
        );
        vips.push(v);
    }
    vips.sort();
    vips.dedup();
    assert_eq!(vips.len(), 4, "VIPs must be distinct: {vips:?}");
}
