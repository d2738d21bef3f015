//! Issue 7, item 3: after a reboot the kernel's state and `/run` are gone while the store
//! (`/var/lib`) is intact. A reboot here is two sandboxes sharing one state root on a real
//! directory: sandbox 1 makes networks, containers with published ports and a service, then is
//! dropped (every process, link, namespace, table and its /run go with it); sandbox 2 starts
//! fresh on the same state. The first command there must work, dead containers must be retired
//! (their leases and ports free again), and bridges, tables and the service route rebuilt.

mod common;

use common::*;
use podnet::testbed::{describe, Sandbox};
use serde_json::Value;
use std::path::PathBuf;

/// A real directory for the state, removed at the end.
struct StateDir(PathBuf);

impl StateDir {
    fn new(name: &str) -> StateDir {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("reboot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        StateDir(dir)
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sandbox 1's life: network `web` with c1 (10.77.0.10, -p 8080:80) and c2 (label app=api),
/// c3 on the default network (-p 9090:80), service `api` selecting app=api. Returns the VIP.
fn before_reboot(state: &StateDir) -> String {
    let sb = sandbox_with_state(&state.0);
    podnet_ok(
        &sb,
        &["network", "create", "web", "--subnet", "10.77.0.0/24"],
    );
    run_server(
        &sb,
        "c1",
        &["--network", "web", "--ip", "10.77.0.10", "-p", "8080:80"],
        80,
        "c1",
    );
    run_server(&sb, "c2", &["--network", "web", "-l", "app=api"], 80, "c2");
    run_server(&sb, "c3", &["-p", "9090:80"], 80, "c3");
    podnet_ok(
        &sb,
        &[
            "service",
            "create",
            "api",
            "--port",
            "80/tcp",
            "--selector",
            "app=api",
        ],
    );
    let vip = s(&podnet_json(&sb, &["service", "inspect", "api"]), "vip").to_string();
    assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 8080), "c1");
    assert_eq!(tcp_reply(&sb, None, &vip, 80), "c2");
    vip
}

fn assert_rebuilt(sb: &Sandbox, vip: &str, backend: &str) {
    // Bridges with their gateway addresses.
    let addrs = ip_json(sb, &["addr"]);
    assert_eq!(
        v4_addrs(&addrs, "pn-web"),
        vec![net("10.77.0.1/24")],
        "{addrs}"
    );
    let default = net_inspect(sb, "podnet0");
    assert_eq!(
        v4_addrs(&addrs, s(&default, "bridge")).len(),
        1,
        "default bridge: {addrs}"
    );
    // The service route, through the default bridge.
    let routes = ip_json(sb, &["route", "show", "10.43.0.0/16"]);
    assert_eq!(routes[0]["dev"], s(&default, "bridge"), "{routes}");
    // Tables and real traffic: a published port and the service.
    assert_eq!(tcp_reply(sb, None, "127.0.0.1", 8080), backend);
    assert_eq!(tcp_reply(sb, None, vip, 80), backend);
}

fn names_of(list: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = list.iter().map(|c| s(c, "name").to_string()).collect();
    n.sort();
    n
}

#[test]
fn the_first_command_after_a_reboot_works_and_rebuilds_everything() {
    let state = StateDir::new("run");
    let vip = before_reboot(&state);
    let sb = sandbox_with_state(&state.0);
    // Read-only commands change nothing: they report the containers as dead.
    let listed = ps(&sb);
    assert_eq!(names_of(&listed), ["c1", "c2", "c3"], "{listed:?}");
    for c in &listed {
        assert_eq!(s(c, "status"), "dead", "{c}");
    }
    // The first command that changes anything: c1's address and c1's host port, which the
    // retirement must have freed, on the old network, selected by the old service.
    let ready = format!("{}/n1.ready", sb.scratch());
    let mut args: Vec<String> = [
        "run",
        "-d",
        "--name",
        "n1",
        "--network",
        "web",
        "--ip",
        "10.77.0.10",
        "-p",
        "8080:80",
        "-l",
        "app=api",
        "--",
    ]
    .map(String::from)
    .to_vec();
    args.extend(nettool_argv());
    args.extend(
        [
            "serve",
            "tcp",
            "80",
            "--reply",
            "n1",
            "--ready-file",
            &ready,
        ]
        .map(String::from),
    );
    let out = sb.podnet(&args);
    assert!(
        out.status.success(),
        "first command after the reboot\n{}",
        describe(&out)
    );
    let note = podnet::testbed::stderr(&out);
    for dead in ["c1", "c2", "c3"] {
        assert!(
            note.contains(dead),
            "the first command must say it retired {dead}: {note}"
        );
    }
    let file = sb.host_path(&ready);
    sb.wait_until("n1's server", std::time::Duration::from_secs(20), || {
        file.exists()
    })
    .unwrap();
    let listed = ps(&sb);
    assert_eq!(names_of(&listed), ["n1"], "{listed:?}");
    assert_eq!(s(&listed[0], "status"), "running");
    assert_eq!(
        net_inspect(&sb, "web")["containers"]
            .as_array()
            .map(|a| a.len()),
        Some(1)
    );
    assert_rebuilt(&sb, &vip, "n1");
    // c3's port on the default network is free again too.
    run_server(&sb, "n3", &["-p", "9090:80"], 80, "n3");
    assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 9090), "n3");
    // Nothing is left for gc.
    let report = podnet_json(&sb, &["gc"]);
    for key in ["containers", "networks", "links", "namespaces"] {
        assert_eq!(report[key], serde_json::json!([]), "{report}");
    }
}

#[test]
fn gc_as_the_first_command_after_a_reboot_retires_the_dead_and_rebuilds() {
    let state = StateDir::new("gc");
    let vip = before_reboot(&state);
    let sb = sandbox_with_state(&state.0);
    let report = podnet_json(&sb, &["gc"]);
    let retired: Vec<String> = as_list(report["containers"].clone())
        .iter()
        .map(|a| {
            assert_eq!(s(a, "action"), "retired", "{a}");
            assert!(s(a, "why").contains("namespace"), "{a}");
            s(a, "name").to_string()
        })
        .collect();
    assert_eq!(retired, ["c1", "c2", "c3"], "{report}");
    let nets: Vec<String> = as_list(report["networks"].clone())
        .iter()
        .map(|a| format!("{} {}", s(a, "name"), s(a, "action")))
        .collect();
    assert_eq!(nets, ["web repaired", "podnet0 repaired"], "{report}");
    assert!(ps(&sb).is_empty());
    // Leases and ports are free: c1's address and port again, selected by the old service.
    run_server(
        &sb,
        "n1",
        &[
            "--network",
            "web",
            "--ip",
            "10.77.0.10",
            "-p",
            "8080:80",
            "-l",
            "app=api",
        ],
        80,
        "n1",
    );
    assert_rebuilt(&sb, &vip, "n1");
}
