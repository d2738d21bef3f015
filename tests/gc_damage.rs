//! Issue 7, item 4: damage from outside — a bridge deleted, a container's veth deleted, its
//! namespace unmounted, its process killed — is detected by `podnet gc`, which repairs what it
//! can and retires what it cannot, saying per container what it did and why. Checked with
//! `ip -j` and real traffic, never with podnet's own view alone.

mod common;

use common::*;
use podnet::testbed::Sandbox;
use serde_json::Value;
use std::time::Duration;

const SUBNET: &str = "10.232.9.0/24";

fn setup() -> Sandbox {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", "web", "--subnet", SUBNET]);
    sb
}

/// gc's actions on containers (or networks) as `NAME ACTION` lines, and the reasons.
fn actions(report: &Value, key: &str) -> Vec<(String, String)> {
    as_list(report[key].clone())
        .iter()
        .map(|a| {
            (
                format!("{} {}", s(a, "name"), s(a, "action")),
                s(a, "why").to_string(),
            )
        })
        .collect()
}

fn only_action(report: &Value, key: &str, want: &str, why: &str) {
    let got = actions(report, key);
    assert_eq!(got.len(), 1, "{report}");
    assert_eq!(got[0].0, want, "{report}");
    assert!(
        got[0].1.contains(why),
        "reason should mention {why:?}: {report}"
    );
}

/// c1 at .10 serving "c1" with -p 8080:80; c2 at .11 idle.
fn two_containers(sb: &Sandbox) {
    run_server(
        sb,
        "c1",
        &["--network", "web", "--ip", "10.232.9.10", "-p", "8080:80"],
        80,
        "c1",
    );
    run_server(
        sb,
        "c2",
        &["--network", "web", "--ip", "10.232.9.11"],
        80,
        "c2",
    );
}

/// A TCP exchange from c2 to c1, through `podnet exec`.
fn c2_to_c1(sb: &Sandbox) -> String {
    let mut c = sb.podnet_cmd(["exec", "c2", "--"]);
    c.args(nettool_argv());
    c.args(["connect", "tcp", "10.232.9.10", "80", "--retry-for", "10"]);
    ok("c2 -> c1", output(c)).trim().to_string()
}

#[test]
fn gc_recreates_a_deleted_bridge_and_puts_the_veths_back_on_it() {
    let sb = setup();
    two_containers(&sb);
    ok("ip link del", sb.sh("ip link del pn-web"));
    let report = podnet_json(&sb, &["gc"]);
    only_action(
        &report,
        "networks",
        "web repaired",
        "bridge pn-web was gone",
    );
    let got = actions(&report, "containers");
    assert_eq!(
        got.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(),
        ["c1 repaired", "c2 repaired"],
        "{report}"
    );
    let addrs = ip_json(&sb, &["addr"]);
    assert_eq!(
        v4_addrs(&addrs, "pn-web"),
        vec![net("10.232.9.1/24")],
        "{addrs}"
    );
    for c in ["c1", "c2"] {
        let veth = s(&inspect(&sb, c), "host_veth").to_string();
        let l = ip_json(&sb, &["link", "show", "dev", &veth]);
        assert_eq!(l[0]["master"], "pn-web", "{l}");
    }
    assert_eq!(c2_to_c1(&sb), "c1");
    assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 8080), "c1");
    assert_eq!(tcp_reply(&sb, None, "10.232.9.10", 80), "c1");
    // Whole again: a second gc has nothing to do.
    let again = podnet_json(&sb, &["gc"]);
    assert!(actions(&again, "containers").is_empty(), "{again}");
    assert!(actions(&again, "networks").is_empty(), "{again}");
}

#[test]
fn gc_recreates_a_deleted_veth_into_the_living_container() {
    let sb = setup();
    two_containers(&sb);
    podnet_ok(
        &sb,
        &[
            "service",
            "create",
            "api",
            "--port",
            "80/tcp",
            "--backend",
            "c1",
        ],
    );
    let vip = s(&podnet_json(&sb, &["service", "inspect", "api"]), "vip").to_string();
    assert_eq!(tcp_reply(&sb, None, &vip, 80), "c1");
    let c1 = inspect(&sb, "c1");
    let veth = s(&c1, "host_veth");
    ok("ip link del", sb.sh(&format!("ip link del {veth}")));
    let report = podnet_json(&sb, &["gc"]);
    only_action(
        &report,
        "containers",
        "c1 repaired",
        &format!("veth {veth} was gone"),
    );
    let addrs = ip_json_in(&sb, s(&c1, "netns"), &["addr"]);
    assert_eq!(
        v4_addrs(&addrs, "eth0"),
        vec![net("10.232.9.10/24")],
        "{addrs}"
    );
    let l = ip_json(&sb, &["link", "show", "dev", veth]);
    assert_eq!(l[0]["master"], "pn-web", "{l}");
    assert_eq!(c2_to_c1(&sb), "c1");
    assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 8080), "c1");
    assert_eq!(tcp_reply(&sb, None, &vip, 80), "c1");
}

#[test]
fn gc_remounts_an_unmounted_namespace_whose_process_lives() {
    let sb = setup();
    two_containers(&sb);
    let c1 = inspect(&sb, "c1");
    let ns = s(&c1, "netns");
    ok("umount", sb.sh(&format!("umount {ns}")));
    let report = podnet_json(&sb, &["gc"]);
    only_action(&report, "containers", "c1 repaired", "re-mounted");
    assert_eq!(s(&inspect(&sb, "c1"), "status"), "running");
    // The path names the container's namespace again: the same eth0, the same server.
    let addrs = ip_json_in(&sb, ns, &["addr"]);
    assert_eq!(
        v4_addrs(&addrs, "eth0"),
        vec![net("10.232.9.10/24")],
        "{addrs}"
    );
    let mut c = sb.podnet_cmd(["exec", "c1", "--"]);
    c.args(nettool_argv());
    c.args(["connect", "tcp", "127.0.0.1", "80"]);
    assert_eq!(ok("exec in c1", output(c)).trim(), "c1");
    assert_eq!(c2_to_c1(&sb), "c1");
}

#[test]
fn gc_retires_a_container_whose_namespace_and_process_are_gone() {
    let sb = setup();
    let baseline_web = || net_inspect(&sb, "web");
    two_containers(&sb);
    podnet_ok(
        &sb,
        &[
            "service",
            "create",
            "api",
            "--port",
            "80/tcp",
            "--backend",
            "c1",
            "--backend",
            "c2",
        ],
    );
    let vip = s(&podnet_json(&sb, &["service", "inspect", "api"]), "vip").to_string();
    let c1 = inspect(&sb, "c1");
    let pid = c1["pid"].as_i64().expect("c1 has a pid");
    ok("kill", sb.sh(&format!("kill -9 {pid}")));
    sb.wait_until("c1 to exit", Duration::from_secs(20), || {
        s(&inspect(&sb, "c1"), "status") != "running"
    })
    .unwrap();
    ok("umount", sb.sh(&format!("umount {}", s(&c1, "netns"))));
    let report = podnet_json(&sb, &["gc"]);
    only_action(
        &report,
        "containers",
        "c1 retired",
        "namespace and its process",
    );
    // Gone from podnet, its lease, its port and its place in the service released.
    assert_eq!(
        ps(&sb)
            .iter()
            .map(|c| s(c, "name").to_string())
            .collect::<Vec<_>>(),
        ["c2"]
    );
    assert_eq!(
        baseline_web()["containers"].as_array().map(|a| a.len()),
        Some(1)
    );
    let svc = podnet_json(&sb, &["service", "inspect", "api"]);
    let programmed = as_list(svc["backends"].clone());
    assert_eq!(programmed.len(), 1, "{svc}");
    assert!(
        programmed[0]
            .as_str()
            .is_some_and(|b| b.starts_with("10.232.9.11")),
        "{svc}"
    );
    for _ in 0..10 {
        assert_eq!(tcp_reply(&sb, None, &vip, 80), "c2");
    }
    run_server(
        &sb,
        "n1",
        &["--network", "web", "--ip", "10.232.9.10", "-p", "8080:80"],
        80,
        "n1",
    );
    assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 8080), "n1");
}
