//! Lifecycles around the acceptance criteria: attach/detach of a namespace we own,
//! exited containers, stop/rm, network rm/prune, address reuse, racing network creates.

mod common;

use common::*;
use podnet::testbed::describe;
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn attach_and_detach_a_namespace_we_own() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "att", "--subnet", "10.230.0.0/24"],
    );
    let base = link_names(&sb);
    ok("ip netns add", sb.sh("ip netns add mine"));
    let ns = "/run/netns/mine";
    podnet_ok(
        &sb,
        &[
            "attach",
            "--netns",
            ns,
            "--name",
            "mine",
            "--network",
            "att",
            "--ip",
            "10.230.0.50",
        ],
    );
    let c = inspect(&sb, "mine");
    assert_eq!(s(&c, "status"), "attached", "{c}");
    assert_eq!(s(&c, "ip"), "10.230.0.50", "{c}");
    let addrs = ip_json_in(&sb, ns, &["addr"]);
    assert_eq!(
        v4_addrs(&addrs, "eth0"),
        vec![net("10.230.0.50/24")],
        "{addrs}"
    );
    sb.serve(Some(ns), "tcp", "0.0.0.0", 7000, "mine saw {peer}")
        .unwrap();
    assert_eq!(
        tcp_reply(&sb, None, "10.230.0.50", 7000),
        "mine saw 10.230.0.1"
    );
    podnet_ok(&sb, &["detach", "mine"]);
    // Our namespace stays (podnet did not make it), without podnet's interface.
    let links = ip_json_in(&sb, ns, &["link"]);
    assert_eq!(names(&links), vec!["lo"], "{links}");
    assert_clean(&sb, "after detach", "att", &base);
}

#[test]
fn an_exited_detached_container_shows_exited_and_rm_cleans_it() {
    let sb = sandbox();
    podnet_ok(&sb, &["run", "-d", "--name", "brief", "--", "true"]);
    sb.wait_until("brief to exit", Duration::from_secs(30), || {
        s(&inspect(&sb, "brief"), "status") == "exited"
    })
    .unwrap_or_else(|e| panic!("{e}: {}", inspect(&sb, "brief")));
    podnet_ok(&sb, &["rm", "brief"]);
    let mut base = vec!["lo".to_string(), "podnet0".to_string()];
    base.sort();
    assert_clean(&sb, "after rm of the exited container", "podnet0", &base);
}

#[test]
fn stop_then_rm_and_the_address_is_reused() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "tiny", "--subnet", "10.232.0.0/30"],
    );
    let base = link_names(&sb);
    // A /30 has one address besides the gateway.
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "one",
            "--network",
            "tiny",
            "--",
            "sleep",
            "infinity",
        ],
    );
    assert_eq!(s(&inspect(&sb, "one"), "ip"), "10.232.0.2");
    let full = sb.podnet([
        "run",
        "-d",
        "--name",
        "two",
        "--network",
        "tiny",
        "--",
        "sleep",
        "9",
    ]);
    assert!(
        !full.status.success(),
        "a full /30 gave out a second address"
    );
    podnet_ok(&sb, &["stop", "one"]);
    assert_eq!(s(&inspect(&sb, "one"), "status"), "exited");
    podnet_ok(&sb, &["rm", "one"]);
    assert_clean(&sb, "after stop + rm", "tiny", &base);
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "two",
            "--network",
            "tiny",
            "--",
            "sleep",
            "infinity",
        ],
    );
    assert_eq!(s(&inspect(&sb, "two"), "ip"), "10.232.0.2");
}

#[test]
fn network_rm_and_prune_remove_bridges() {
    let sb = sandbox();
    for n in ["keep", "gone", "unused"] {
        podnet_ok(&sb, &["network", "create", n]);
    }
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "k",
            "--network",
            "keep",
            "--",
            "sleep",
            "infinity",
        ],
    );
    podnet_ok(&sb, &["network", "rm", "gone"]);
    assert!(!link_names(&sb).contains(&"pn-gone".to_string()));
    podnet_ok(&sb, &["network", "prune"]);
    let left: BTreeSet<String> = networks(&sb)
        .iter()
        .map(|n| s(n, "name").to_string())
        .collect();
    assert!(
        left.contains("keep"),
        "prune removed a network in use: {left:?}"
    );
    assert!(
        !left.contains("unused") && !left.contains("gone"),
        "{left:?}"
    );
    let links = link_names(&sb);
    assert!(!links.contains(&"pn-unused".to_string()), "{links:?}");
    assert!(links.contains(&"pn-keep".to_string()), "{links:?}");
    let out = sb.podnet(["network", "inspect", "gone"]);
    assert!(
        !out.status.success(),
        "inspect of a removed network\n{}",
        describe(&out)
    );
}

#[test]
fn racing_network_creates_get_distinct_subnets() {
    let sb = sandbox();
    let children: Vec<_> = (0..10)
        .map(|i| {
            let mut c = sb.podnet_cmd(["network", "create", &format!("race{i}")]);
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().expect("spawn")
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "race{i}: {}", describe(&out));
    }
    let subnets: Vec<_> = networks(&sb).iter().map(|n| net(s(n, "subnet"))).collect();
    assert_eq!(subnets.len(), 10);
    for (i, a) in subnets.iter().enumerate() {
        for b in &subnets[i + 1..] {
            assert!(!overlaps(a, b), "{a} overlaps {b}");
        }
    }
    let bridges = link_names(&sb)
        .iter()
        .filter(|l| l.starts_with("pn-race"))
        .count();
    assert_eq!(bridges, 10);
}

#[test]
fn exec_returns_the_commands_exit_status() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "x", "--", "sleep", "infinity"],
    );
    let out = sb.podnet(["exec", "x", "--", "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
}

#[test]
fn names_of_every_allowed_character_and_15_bytes_are_accepted() {
    let sb = sandbox();
    for name in ["A.b-c_9", "abcdefghijklmno"] {
        podnet_ok(
            &sb,
            &["run", "-d", "--name", name, "--", "sleep", "infinity"],
        );
        assert_eq!(s(&inspect(&sb, name), "status"), "running");
        podnet_ok(&sb, &["network", "create", name]);
        assert_eq!(s(&net_inspect(&sb, name), "name"), name);
    }
}
