//! Never touch what podnet does not own (issue 7, items 8 and gap a): a second state root on
//! the same host, a truncated store and planted links. Every kernel object podnet makes carries
//! its store's identity; `gc` touches only its own, an empty store facing another state's
//! objects refuses, and `gc --remove-foreign` is the explicit way out. Kernel state is read
//! with `ip -d -j` and `nft list`, never through podnet.

mod common;

use common::publish::nft;
use common::*;
use podnet::testbed::{describe, stderr, Sandbox, SANDBOX_STATE_DIR};
use serde_json::{json, Value};
use std::process::Output;
use std::time::Duration;

/// A second state root inside the sandbox.
const ROOT_B: &str = "/run/testbed/root-b";
/// Its own run dir (for the cases where it does not share the first one's).
const RUN_B: &str = "/run/podnet-b";

/// `podnet ARGS...` against another state root (and run dir, if given).
fn podnet_in(sb: &Sandbox, root: &str, run_dir: Option<&str>, args: &[&str]) -> Output {
    let mut c = sb.podnet_cmd(args);
    c.env("PODNET_ROOT", root);
    if let Some(r) = run_dir {
        c.env("PODNET_RUN_DIR", r);
    }
    output(c)
}

/// `nft list ruleset` without counter values (traffic changes them).
fn ruleset(sb: &Sandbox) -> String {
    let text = nft(sb, &["list", "ruleset"]);
    let mut out = Vec::new();
    let mut words = text.split_whitespace().peekable();
    while let Some(w) = words.next() {
        out.push(w);
        if w == "packets" || w == "bytes" {
            words.next();
        }
    }
    out.join(" ")
}

/// What must not change: every link with its master and alias, namespace mounts, and the
/// whole ruleset.
fn kernel(sb: &Sandbox) -> Value {
    let links: Vec<Value> = as_list(ip_json(sb, &["-d", "link"]))
        .iter()
        .map(|l| json!([l["ifname"], l["master"], l["ifalias"]]))
        .collect();
    json!({ "links": links, "netns": netns_leftovers(sb), "ruleset": ruleset(sb) })
}

/// The links a gc report says it removed, sorted.
fn removed_links(report: &Value) -> Vec<String> {
    let mut l: Vec<String> = as_list(report["links"].clone())
        .iter()
        .map(|l| l.as_str().unwrap_or_default().to_string())
        .collect();
    l.sort();
    l
}

fn alias(sb: &Sandbox, link: &str) -> Option<String> {
    ip_json(sb, &["-d", "link", "show", link])[0]["ifalias"]
        .as_str()
        .map(str::to_string)
}

/// Asserts `out` exited `code` with one `podnet: ` line on stderr containing every needle.
fn refused(what: &str, out: &Output, code: i32, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(code), "{what}\n{}", describe(out));
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one line expected:\n{err}");
    assert!(lines[0].starts_with("podnet: "), "{what}: {}", lines[0]);
    for n in needles {
        assert!(
            lines[0].contains(n),
            "{what}: should mention {n:?}: {}",
            lines[0]
        );
    }
}

/// Two servers of the state at SANDBOX_STATE_DIR: a1 publishes 8081, a2 does not.
fn first_state(sb: &Sandbox) -> Vec<(String, String)> {
    let a1 = run_server(sb, "a1", &["-p", "8081:80"], 80, "a1");
    let a2 = run_server(sb, "a2", &[], 80, "a2");
    vec![
        ("a1".into(), s(&a1, "ip").to_string()),
        ("a2".into(), s(&a2, "ip").to_string()),
    ]
}

fn still_serving(sb: &Sandbox, what: &str, servers: &[(String, String)]) {
    for (name, ip) in servers {
        assert_eq!(
            tcp_reply(sb, None, ip, 80),
            *name,
            "{what}: {name} by its address"
        );
    }
    assert_eq!(
        tcp_reply(sb, None, "127.0.0.1", 8081),
        "a1",
        "{what}: a1's published port"
    );
}

/// State B's run dir (None: A's), its command, the exit code and what its error must name.
type Case<'a> = (Option<&'a str>, &'a [&'a str], i32, &'a [&'a str]);

#[test]
fn a_second_state_root_cannot_hurt_the_first() {
    let sb = sandbox();
    let servers = first_state(&sb);
    let before = kernel(&sb);
    let ps_before = ps(&sb);
    let svc = [
        "service",
        "create",
        "s",
        "--port",
        "80/tcp",
        "--selector",
        "app=web",
    ];
    let run_d = ["run", "-d", "--name", "x", "--", "sleep", "infinity"];
    let none_d = [
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "y",
        "--",
        "sleep",
        "infinity",
    ];
    // B shares A's run dir, then has its own: either way, whatever needs a bridge network or
    // the tables is refused naming A's root, and B's empty gc refuses to delete A's objects.
    let cases: Vec<Case> = vec![
        (None, &["gc"], 1, &[SANDBOX_STATE_DIR, "--remove-foreign"]),
        (
            None,
            &run_d,
            125,
            &["run dir", SANDBOX_STATE_DIR, "--run-dir"],
        ),
        (
            None,
            &none_d,
            125,
            &["run dir", SANDBOX_STATE_DIR, "--run-dir"],
        ),
        (None, &["network", "create", "n2"], 1, &[SANDBOX_STATE_DIR]),
        (None, &svc, 1, &[SANDBOX_STATE_DIR]),
        (Some(RUN_B), &["gc"], 1, &[SANDBOX_STATE_DIR, "pnv1"]),
        (Some(RUN_B), &run_d, 125, &[SANDBOX_STATE_DIR]),
        (
            Some(RUN_B),
            &["network", "create", "n2"],
            1,
            &[SANDBOX_STATE_DIR],
        ),
        (
            Some(RUN_B),
            &["network", "create", "n3", "--bridge", "br-b"],
            1,
            &[SANDBOX_STATE_DIR],
        ),
        (Some(RUN_B), &svc, 1, &[SANDBOX_STATE_DIR]),
    ];
    for (run_dir, args, code, needles) in cases {
        let what = format!("B (run dir {run_dir:?}): podnet {}", args.join(" "));
        refused(&what, &podnet_in(&sb, ROOT_B, run_dir, args), code, needles);
        assert_eq!(kernel(&sb), before, "{what} changed A's kernel objects");
        let listed = as_list(parse(
            "B ps",
            &ok(
                "B ps",
                podnet_in(&sb, ROOT_B, run_dir, &["ps", "--format", "json"]),
            ),
        ));
        assert!(listed.is_empty(), "{what} left a record in B: {listed:?}");
    }
    // What needs neither works for B: host networking anywhere, `none` in its own run dir.
    ok(
        "B run --network host",
        podnet_in(
            &sb,
            ROOT_B,
            None,
            &["run", "--network", "host", "--", "true"],
        ),
    );
    ok(
        "B run -d --network none",
        podnet_in(&sb, ROOT_B, Some(RUN_B), &none_d),
    );
    // B now has a record: its gc runs, removes nothing of A's and says what it left alone.
    let gc = podnet_in(&sb, ROOT_B, Some(RUN_B), &["gc", "--format", "json"]);
    let report = parse("B gc", &ok("B gc", gc.clone()));
    assert_eq!(report["links"], json!([]), "{report}");
    assert_eq!(report["namespaces"], json!([]), "{report}");
    assert!(stderr(&gc).contains("pnv1"), "{}", describe(&gc));
    ok(
        "B rm -f y",
        podnet_in(&sb, ROOT_B, Some(RUN_B), &["rm", "-f", "y"]),
    );
    // A is whole: same kernel objects, same containers, same traffic, and its own gc is clean.
    assert_eq!(
        kernel(&sb),
        before,
        "B's commands changed A's kernel objects"
    );
    assert_eq!(ps(&sb), ps_before);
    still_serving(&sb, "after B", &servers);
    let report = podnet_json(&sb, &["gc"]);
    assert_eq!(report["links"], json!([]), "A's gc: {report}");
    assert_eq!(report["namespaces"], json!([]), "A's gc: {report}");
    assert_eq!(report["foreign"], json!([]), "A's gc: {report}");
}

#[test]
fn a_truncated_store_refuses_gc_until_told_its_objects_are_lost() {
    let sb = sandbox();
    let servers = first_state(&sb);
    let pids: Vec<i64> = ["a1", "a2"]
        .iter()
        .map(|n| inspect(&sb, n)["pid"].as_i64().expect("pid"))
        .collect();
    let before = kernel(&sb);
    ok(
        "truncate the store",
        sb.sh(&format!(
            "cd {SANDBOX_STATE_DIR} && truncate -s 0 podnet.db && rm -f podnet.db-wal podnet.db-shm"
        )),
    );
    assert!(ps(&sb).is_empty(), "a 0-byte store opens empty");
    // The new, empty store faces the old one's live containers: gc refuses, nothing goes.
    refused(
        "gc on the truncated store",
        &sb.podnet(["gc"]),
        1,
        &["--remove-foreign", "pnv1", "a1"],
    );
    refused(
        "run -d on the truncated store",
        &sb.podnet(["run", "-d", "--name", "x", "--", "sleep", "infinity"]),
        125,
        &["--remove-foreign"],
    );
    refused(
        "network create on the truncated store",
        &sb.podnet(["network", "create", "n2"]),
        1,
        &["--remove-foreign"],
    );
    assert_eq!(kernel(&sb), before, "refusals changed kernel objects");
    still_serving(&sb, "after the refusals", &servers);
    // Told the old state is lost: its namespaces, processes, links and tables go.
    let report = podnet_json(&sb, &["gc", "--remove-foreign"]);
    assert!(
        report["namespaces"]
            .as_array()
            .is_some_and(|n| n.len() == 2),
        "{report}"
    );
    wait_links(&sb, "after gc --remove-foreign", &["lo".to_string()]);
    assert!(netns_leftovers(&sb).is_empty());
    assert_eq!(common::publish::podnet_tables(&sb), vec![]);
    for pid in pids {
        sb.wait_until("container process gone", Duration::from_secs(20), || {
            !sb.host_path(format!("/proc/{pid}")).exists()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }
    // The store now owns the host: podnet works as on a fresh one.
    let c = run_server(&sb, "c1", &["-p", "8081:80"], 80, "c1");
    assert_eq!(tcp_reply(&sb, None, s(&c, "ip"), 80), "c1");
    assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 8081), "c1");
    let report = podnet_json(&sb, &["gc"]);
    assert_eq!(report["links"], json!([]), "{report}");
}

/// Gap (a): plant links a gc must tell apart — an orphan veth and an orphan bridge carrying
/// this store's mark (gc's to remove), a podnet-named veth without a mark and one with another
/// store's mark (not its to remove), and a foreign bridge.
#[test]
fn gc_removes_exactly_its_own_orphan_links() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "c1", "--", "sleep", "infinity"],
    );
    let mine = alias(&sb, "podnet0").expect("podnet0 carries the store's mark");
    assert!(mine.starts_with("podnet:"), "{mine}");
    assert_eq!(
        alias(&sb, "pnv1").as_deref(),
        Some(mine.as_str()),
        "c1's veth too"
    );
    let other = format!("podnet:{}", "f".repeat(32));
    ok(
        "plant links",
        sb.sh(&format!(
            "ip link add pnv900 type veth peer name x900 && ip link set pnv900 alias '{mine}' && \
             ip link add pnbr9 type bridge && ip link set pnbr9 alias '{mine}' && \
             ip link add pnv901 type veth peer name x901 && \
             ip link add pnv902 type veth peer name x902 && ip link set pnv902 alias '{other}' && \
             ip link add br-x type bridge"
        )),
    );
    let gc = sb.podnet(["gc", "--format", "json"]);
    let report = parse("gc", &ok("gc", gc.clone()));
    assert_eq!(removed_links(&report), vec!["pnbr9", "pnv900"], "{report}");
    for kept in ["pnv901", "pnv902"] {
        assert!(
            stderr(&gc).contains(kept),
            "gc says it left {kept} alone: {}",
            describe(&gc)
        );
    }
    let mut expected: Vec<String> = [
        "lo", "podnet0", "pnv1", "pnv901", "x901", "pnv902", "x902", "br-x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.sort();
    wait_links(&sb, "after gc", &expected);
    assert_eq!(ps(&sb).len(), 1, "c1 kept");
}

/// The upgrade path: a store made by a podnet before marks has unmarked links and tables.
/// gc adopts (marks) those its records name instead of refusing or deleting them.
#[test]
fn unmarked_objects_a_store_records_are_adopted() {
    let sb = sandbox();
    let servers = first_state(&sb);
    // What an older podnet left had no agent: with one, its nftables watch would restore the
    // unmarked tables below before `gc` could adopt them.
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "lab",
            "--subnet",
            "10.77.0.0/24",
            "--dns=false",
        ],
    );
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "l1",
            "--network",
            "lab",
            "--",
            "sleep",
            "infinity",
        ],
    );
    let mine = alias(&sb, "podnet0").expect("podnet0 marked");
    // What an older podnet would have left: no alias, tables without a comment.
    let marked: Vec<String> = as_list(ip_json(&sb, &["-d", "link"]))
        .iter()
        .filter(|l| l["ifalias"].as_str() == Some(mine.as_str()))
        .map(|l| s(l, "ifname").to_string())
        .collect();
    assert_eq!(
        marked.len(),
        5,
        "podnet0, pn-lab and three veths: {marked:?}"
    );
    for l in &marked {
        ok("clear alias", sb.sh(&format!("ip link set {l} alias ''")));
        assert_eq!(alias(&sb, l), None, "{l}");
    }
    for fam in ["ip", "bridge"] {
        ok(
            "unmark table",
            sb.sh(&format!(
                "nft list table {fam} podnet | grep -v '^\\s*comment ' > /run/testbed/t && \
                 nft delete table {fam} podnet && nft -f /run/testbed/t"
            )),
        );
    }
    assert!(!nft(&sb, &["list", "table", "ip", "podnet"]).contains("comment"));
    let report = podnet_json(&sb, &["gc"]);
    assert_eq!(report["links"], json!([]), "{report}");
    assert_eq!(report["foreign"], json!([]), "{report}");
    for l in &marked {
        assert_eq!(alias(&sb, l).as_deref(), Some(mine.as_str()), "{l} adopted");
    }
    for fam in ["ip", "bridge"] {
        let t = nft(&sb, &["list", "table", fam, "podnet"]);
        assert!(
            t.contains(&format!("comment \"{mine} {SANDBOX_STATE_DIR}\"")),
            "{fam} podnet re-stamped:\n{t}"
        );
    }
    still_serving(&sb, "after adoption", &servers);
    podnet_ok(&sb, &["rm", "-f", "l1"]);
    podnet_ok(&sb, &["network", "rm", "lab"]);
    assert!(!link_names(&sb).contains(&"pn-lab".to_string()));
}

/// An empty store facing podnet-named links without a mark (what a podnet older than marks, or
/// a lost store, left) refuses too; links with other names are none of its business.
#[test]
fn an_empty_store_refuses_unmarked_podnet_links() {
    let sb = sandbox();
    ok(
        "plant links",
        sb.sh(
            "ip link add pnv5 type veth peer name x5 && ip link add podnet0 type bridge && \
             ip link add br-y type bridge",
        ),
    );
    let before = kernel(&sb);
    refused(
        "gc with an empty store",
        &sb.podnet(["gc"]),
        1,
        &["pnv5", "podnet0", "--remove-foreign"],
    );
    assert_eq!(kernel(&sb), before);
    refused(
        "run -d with podnet0 unmarked",
        &sb.podnet(["run", "-d", "--name", "c", "--", "sleep", "infinity"]),
        125,
        &["podnet0"],
    );
    assert_eq!(kernel(&sb), before);
    let report = podnet_json(&sb, &["gc", "--remove-foreign"]);
    assert_eq!(removed_links(&report), vec!["pnv5", "podnet0"], "{report}");
    wait_links(
        &sb,
        "after --remove-foreign",
        &["br-y".to_string(), "lo".to_string()],
    );
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "c", "--", "sleep", "infinity"],
    );
}

/// A network whose bridge was replaced by another state's: a container is refused rather than
/// made a port of that bridge, and nothing is left behind.
#[test]
fn a_container_never_joins_another_states_bridge() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "lab", "--subnet", "10.77.0.0/24"],
    );
    let other = format!("podnet:{}", "e".repeat(32));
    ok(
        "replace pn-lab",
        sb.sh(&format!(
            "ip link del pn-lab && ip link add pn-lab type bridge && \
             ip link set pn-lab alias '{other}' && ip link set pn-lab up"
        )),
    );
    let before = kernel(&sb);
    refused(
        "run on the replaced bridge",
        &sb.podnet([
            "run",
            "-d",
            "--name",
            "c",
            "--network",
            "lab",
            "--",
            "sleep",
            "infinity",
        ]),
        125,
        &["pn-lab", "store eeeeeeee"],
    );
    assert_eq!(kernel(&sb), before, "no port added, nothing left");
    assert!(ps(&sb).is_empty());
}
