//! The anti-spoofing elements follow the containers exactly (added by `run`/`attach`, gone
//! after `rm`/`detach`, re-rendered by `gc` after a flush, none for `container:NAME`), and
//! podnet's rule count does not grow with the number of containers.

mod common;

use common::guards::*;
use common::publish::{rule_count, run_idle};
use common::*;

#[test]
fn elements_follow_the_containers_and_the_rule_count_stays() {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", "n"]);
    run_idle(&sb, "c0", &["--network", "n"]);
    let rules = rule_count(&sb);
    let (ports, sources) = guard_elements(&sb);
    assert_eq!((ports.len(), sources.len()), (1, 1));
    assert_guards_match(&sb, "one container");

    for i in 1..=20 {
        let name = format!("c{i}");
        let port = format!("{}:80", 20000 + i);
        let mut extra = vec!["--network", "n"];
        if i % 3 == 0 {
            extra.extend(["-p", &port]);
        }
        run_idle(&sb, &name, &extra);
    }
    // Sharing c0's namespace (and its port): nothing of its own.
    run_idle(&sb, "joiner", &["--network", "container:c0"]);
    ok("ip netns add spare", sb.sh("ip netns add spare"));
    let spare = ["attach", "--netns", "/run/netns/spare", "--name", "spare"];
    podnet_ok(
        &sb,
        &[&spare[..], &["--network", "n", "-p", "8300:80"]].concat(),
    );
    assert_eq!(rule_count(&sb), rules, "rules with 22 containers");
    assert_eq!(guard_elements(&sb).0.len(), 22);
    assert_guards_match(&sb, "22 containers");

    for i in 1..=10 {
        podnet_ok(&sb, &["rm", "-f", &format!("c{i}")]);
    }
    podnet_ok(&sb, &["rm", "-f", "joiner"]);
    podnet_ok(&sb, &["detach", "spare"]);
    assert_eq!(guard_elements(&sb).0.len(), 11);
    assert_guards_match(&sb, "after rm and detach");

    ok("nft flush ruleset", sb.sh("nft flush ruleset"));
    podnet_ok(&sb, &["gc"]);
    assert_eq!(rule_count(&sb), rules, "rules after gc re-rendered them");
    assert_guards_match(&sb, "after a flush and gc");

    for i in 0..=20 {
        if i == 0 || i > 10 {
            podnet_ok(&sb, &["rm", "-f", &format!("c{i}")]);
        }
    }
    assert_eq!(
        guard_elements(&sb),
        Default::default(),
        "after removing all"
    );
    assert_eq!(rule_count(&sb), rules);
}

/// A crash half-way through `run -d` (elements in, record `creating`), `rm -f` or `detach`
/// (before or after the elements went): `gc` leaves no element behind. From the first step of a
/// removal on, the container's bridge port is down, so a crash never leaves a port that passes
/// unchecked frames (an attached namespace's processes live on).
#[test]
fn gc_after_a_crash_leaves_no_stale_element() {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", "n"]);
    run_idle(&sb, "keep", &["--network", "n"]);
    let run = [
        "run",
        "-d",
        "--name",
        "victim",
        "--network",
        "n",
        "--",
        "sleep",
        "infinity",
    ];
    let attach = [
        "attach",
        "--netns",
        "/run/netns/victim",
        "--name",
        "victim",
        "--network",
        "n",
    ];
    // (what crashes, fault, elements left by the crash)
    let table: [(&[&str], &str, bool); 5] = [
        (&run, "attach:3", true),
        (&["rm", "-f", "victim"], "detach:1", true),
        (&["rm", "-f", "victim"], "detach:2", false),
        (&["detach", "victim"], "detach:1", true),
        (&["detach", "victim"], "detach:2", false),
    ];
    for (args, fault, left) in table {
        let what = format!("{} at {fault}", args[0]);
        match args[0] {
            "rm" => {
                run_idle(&sb, "victim", &["--network", "n"]);
            }
            "detach" => {
                ok("ip netns add", sb.sh("ip netns add victim"));
                podnet_ok(&sb, &attach);
            }
            _ => {}
        }
        let mut c = sb.podnet_cmd(args);
        c.env("PODNET_FAULT", fault);
        let out = output(c);
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            Some(9),
            "{what}: {}",
            podnet::testbed::describe(&out)
        );
        let veth = s(&inspect(&sb, "victim"), "host_veth").to_string();
        let (ports, sources) = guard_elements(&sb);
        let has = (
            ports.contains(&veth),
            sources.iter().any(|(p, ..)| *p == veth),
        );
        assert_eq!(has, (left, left), "{what}: {ports:?} {sources:?}");
        if !left {
            // The bridge's own view of the port (iproute2's `bridge`), not podnet's.
            let port = sb.sh(&format!("bridge -j link show dev {veth}"));
            let port: serde_json::Value =
                serde_json::from_slice(&port.stdout).expect("bridge -j link");
            assert_eq!(
                port[0]["state"], "disabled",
                "{what}: {veth} passes frames without its elements: {port}"
            );
        }
        podnet_ok(&sb, &["gc"]);
        assert_guards_match(&sb, &format!("gc after {what}"));
        assert_eq!(
            guard_elements(&sb).0.len(),
            1,
            "{what}: only 'keep' is left"
        );
        let _ = sb.sh("ip netns del victim");
    }
}

/// A container recorded by a podnet from before anti-spoofing (no MAC in its record, a random
/// one on its eth0) keeps working after the upgrade: its port is left unguarded, also when
/// `gc` re-renders the tables from the store, while new containers are guarded.
#[test]
fn a_container_from_before_anti_spoofing_keeps_working() {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", "n"]);
    let old = run_server(&sb, "old", &["--network", "n"], 80, "old");
    let db = format!("{}/podnet.db", podnet::testbed::SANDBOX_STATE_DIR);
    let forget = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute(\"UPDATE endpoints SET mac=NULL WHERE name='old'\")\nc.commit()";
    let mut py = sb.cmd(podnet::testbed::python());
    py.args(["-c", forget, &db]);
    ok("forget old's MAC in the store", output(py));
    let mut set = sb.in_netns(s(&old, "netns"), "ip");
    set.args(["link", "set", "dev", "eth0", "address", "0e:11:22:33:44:55"]);
    ok("change old's MAC", output(set));
    podnet_ok(&sb, &["gc"]);
    assert_eq!(inspect(&sb, "old")["mac"], serde_json::Value::Null);
    assert_eq!(tcp_reply(&sb, None, s(&old, "ip"), 80), "old");

    let new = run_server(&sb, "new", &["--network", "n"], 80, "new");
    let veth = s(&new, "host_veth").to_string();
    assert_eq!(
        guard_elements(&sb).0,
        std::collections::BTreeSet::from([veth])
    );
    let old_ns = s(&old, "netns");
    assert_eq!(tcp_reply(&sb, Some(old_ns), s(&new, "ip"), 80), "new");
}

/// The invariant checker compares the anti-spoofing sets with the store element for element
/// (and eth0's MAC with the record): each kind of damage is reported, and `gc` repairs the
/// sets.
#[test]
fn the_invariant_checker_sees_damaged_anti_spoofing_state() {
    use common::invariants::{assert_consistent, violations};
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", "n"]);
    let c = run_idle(&sb, "c", &["--network", "n"]);
    assert_consistent(&sb, "a fresh container");
    let (veth, ip, ns) = (s(&c, "host_veth"), s(&c, "ip"), s(&c, "netns"));
    let mac = s(&c, "mac");
    let source = format!("{{ \"{veth}\" . {mac} . {ip} }}");
    let stale = format!("{{ \"pnv999\" . 02:50:0a:00:00:09 . {ip} }}");
    let table: [(&str, String, &str); 4] = [
        (
            "a source deleted",
            format!("nft delete element bridge podnet port_sources {source}"),
            "port_sources",
        ),
        (
            "a port forgotten",
            format!("nft delete element bridge podnet container_ports {{ \"{veth}\" }}"),
            "container_ports",
        ),
        (
            "a stale source",
            format!("nft add element bridge podnet port_sources {stale}"),
            "port_sources",
        ),
        (
            "a stale port",
            "nft add element bridge podnet container_ports { \"pnv999\" }".to_string(),
            "container_ports",
        ),
    ];
    for (what, damage, set) in table {
        ok(what, sb.sh(&damage));
        let v = violations(&sb);
        assert!(
            v.iter().any(|l| l.contains(set)),
            "{what}: not reported: {v:?}"
        );
        podnet_ok(&sb, &["gc"]);
        assert_consistent(&sb, &format!("gc after {what}"));
    }
    let mut set = sb.in_netns(ns, "ip");
    set.args(["link", "set", "dev", "eth0", "address", "02:50:de:ad:be:ef"]);
    ok("change eth0's MAC", output(set));
    let v = violations(&sb);
    assert!(
        v.iter().any(|l| l.contains("eth0's MAC")),
        "a changed MAC is not reported: {v:?}"
    );
}
