//! Issue 10, acceptance 1 for containers on several networks, and acceptance 5 on a
//! dual-stack network: real `dig` and `getent` from container namespaces (the agent's own
//! view is never trusted). A container on two networks is found from both, by its name and
//! by that network's aliases (A, AAAA, PTR), and from nowhere else; a name `connect` adds
//! answers when it returns and is gone when `disconnect` returns; a dual-stack network's
//! second interface gets both addresses and their routes (no default route) and carries
//! IPv6 traffic.

mod common;

use common::dns::{dig_at, Dug};
use common::invariants::{assert_consistent, assert_consistent_once_settled};
use common::v6::{run_server6, v6_addrs, v6_defaults};
use common::*;
use podnet::testbed::Sandbox;
use serde_json::Value;

const GW_FRONT: &str = "10.85.0.1";
const GW_FRONT6: &str = "fd00:85::1";
const GW_BACK: &str = "10.86.0.1";
const GW_OTHER: &str = "10.87.0.1";

/// `dig @server ARGS...` from container `from` (one try, no retry).
fn dig_from(sb: &Sandbox, from: &str, server: &str, args: &[&str]) -> Dug {
    let mut all = vec![format!("@{server}")];
    all.extend(args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    dig_at(sb, &format!("{NETNS_DIR}/{from}"), &refs)
}

fn run_d(sb: &Sandbox, name: &str, extra: &[&str]) -> Value {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(extra);
    args.extend(["--", "sleep", "infinity"]);
    podnet_ok(sb, &args);
    inspect(sb, name)
}

/// The container's address (`ip` or `ip6`) on `network`, as `inspect` lists it.
fn addr_on(c: &Value, network: &str, key: &str) -> String {
    as_list(c["networks"].clone())
        .iter()
        .find(|n| n["network"] == network)
        .map(|n| s(n, key).to_string())
        .unwrap_or_else(|| panic!("{} is not on {network}: {c}", s(c, "name")))
}

/// (from, server, question, status, sorted answers)
type Case = (
    &'static str,
    &'static str,
    Vec<String>,
    &'static str,
    Vec<String>,
);

fn check(sb: &Sandbox, when: &str, cases: Vec<Case>) {
    for (from, server, q, status, want) in cases {
        let q: Vec<&str> = q.iter().map(String::as_str).collect();
        let got = dig_from(sb, from, server, &q);
        assert_eq!(
            (got.status.as_str(), got.data()),
            (status, want),
            "{when}: {from} asks {server} {q:?}: {got:?}"
        );
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

/// `from` asks `server` question `q` and gets `want` (in any order).
fn answers(from: &'static str, server: &'static str, q: &[&str], want: &[&str]) -> Case {
    let mut want = strings(want);
    want.sort();
    (from, server, strings(q), "NOERROR", want)
}

/// `from` asks `server` question `q` and the name does not exist there.
fn nx(from: &'static str, server: &'static str, q: &[&str]) -> Case {
    (from, server, strings(q), "NXDOMAIN", Vec::new())
}

#[test]
fn a_container_on_two_networks_is_found_from_both_by_name_and_alias() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "front",
            "--subnet",
            "10.85.0.0/24",
            "--subnet",
            "fd00:85::/64",
        ],
    );
    podnet_ok(
        &sb,
        &["network", "create", "back", "--subnet", "10.86.0.0/24"],
    );
    podnet_ok(
        &sb,
        &["network", "create", "other", "--subnet", "10.87.0.0/24"],
    );
    // web starts on both (its alias on each), db on back only, a client on each network and
    // one on a network shared with neither.
    let web = run_d(
        &sb,
        "web",
        &[
            "--network",
            "front",
            "--network",
            "back",
            "--network-alias",
            "www",
        ],
    );
    let db = run_server6(
        &sb,
        "db",
        &["--network", "back", "--network-alias", "database"],
        5432,
        "db",
    );
    // fclient's resolv.conf searches the agent's zone (the host's search list may name
    // domains nothing in a sandbox answers).
    run_d(
        &sb,
        "fclient",
        &["--network", "front", "--dns-search", "dns.podnet"],
    );
    run_d(&sb, "bclient", &["--network", "back"]);
    run_d(&sb, "quiet", &["--network", "other"]);
    let web_f = addr_on(&web, "front", "ip");
    let web_f6 = addr_on(&web, "front", "ip6");
    let web_b = addr_on(&web, "back", "ip");
    let db_b = s(&db, "ip").to_string();
    let ptr_web = "web.dns.podnet.".to_string();
    check(
        &sb,
        "after run on two networks",
        vec![
            answers("fclient", GW_FRONT, &["web", "A"], &[&web_f]),
            answers("fclient", GW_FRONT, &["www", "A"], &[&web_f]),
            answers("fclient", GW_FRONT6, &["web", "AAAA"], &[&web_f6]),
            answers("fclient", GW_FRONT, &["-x", &web_f], &[&ptr_web]),
            answers("fclient", GW_FRONT, &["-x", &web_f6], &[&ptr_web]),
            answers("bclient", GW_BACK, &["web", "A"], &[&web_b]),
            answers("bclient", GW_BACK, &["www", "A"], &[&web_b]),
            answers("bclient", GW_BACK, &["-x", &web_b], &[&ptr_web]),
            answers("bclient", GW_BACK, &["database", "A"], &[&db_b]),
            // web shares back with db: found, whichever gateway it asks.
            answers("web", GW_FRONT, &["database", "A"], &[&db_b]),
            // fclient shares no network with db, quiet none with web.
            nx("fclient", GW_FRONT, &["db", "A"]),
            nx("fclient", GW_FRONT, &["database", "A"]),
            nx("quiet", GW_OTHER, &["web", "A"]),
            nx("quiet", GW_OTHER, &["www", "A"]),
        ],
    );

    // connect: db joins front (alias store) and answers there as soon as connect returns.
    podnet_ok(
        &sb,
        &["network", "connect", "front", "db", "--alias", "store"],
    );
    let db = inspect(&sb, "db");
    let db_f = addr_on(&db, "front", "ip");
    let db_f6 = addr_on(&db, "front", "ip6");
    check(
        &sb,
        "right after connect",
        vec![
            answers("fclient", GW_FRONT, &["db", "A"], &[&db_f]),
            answers("fclient", GW_FRONT6, &["store", "AAAA"], &[&db_f6]),
            answers("fclient", GW_FRONT, &["-x", &db_f6], &["db.dns.podnet."]),
            // An alias belongs to one network: database is back's, store is front's.
            nx("fclient", GW_FRONT, &["database", "A"]),
            nx("bclient", GW_BACK, &["store", "A"]),
            answers("bclient", GW_BACK, &["db", "A"], &[&db_b]),
            // web is on both networks of db: both addresses.
            answers("web", GW_BACK, &["db", "A"], &[&db_f, &db_b]),
        ],
    );
    // The C library's resolver with the container's own resolv.conf (front's DNS servers,
    // both families) finds db by name; the connection goes over IPv6 on db's eth1.
    let resolv = podnet_ok(
        &sb,
        &[
            "exec",
            "fclient",
            "--",
            "grep",
            "nameserver",
            "/etc/resolv.conf",
        ],
    );
    assert_eq!(
        resolv,
        format!("nameserver {GW_FRONT}\nnameserver {GW_FRONT6}\n")
    );
    let found = podnet_ok(
        &sb,
        &["exec", "fclient", "--", "getent", "ahostsv6", "store"],
    );
    assert!(found.starts_with(&format!("{db_f6} ")), "{found}");
    let fclient_ns = s(&inspect(&sb, "fclient"), "netns").to_string();
    assert_eq!(tcp_reply(&sb, Some(&fclient_ns), &db_f6, 5432), "db");
    assert_eq!(tcp_reply(&sb, Some(&fclient_ns), &db_f, 5432), "db");
    // db's eth1 has both addresses and both subnet routes, no default route of its own.
    let ns = s(&db, "netns");
    let have6: Vec<String> = v6_addrs(&ip_json_in(&sb, ns, &["addr"]), "eth1")
        .into_iter()
        .filter(|(a, _, _)| !a.starts_with("fe80:"))
        .map(|(a, l, _)| format!("{a}/{l}"))
        .collect();
    assert_eq!(have6, vec![format!("{db_f6}/64")]);
    let routes6: Vec<String> = as_list(ip_json_in(&sb, ns, &["-6", "route"]))
        .iter()
        .filter(|r| !s(r, "dst").starts_with("fe80:"))
        .map(|r| format!("{} {}", s(r, "dst"), s(r, "dev")))
        .collect();
    assert_eq!(routes6, ["fd00:85::/64 eth1"]);
    assert!(v6_defaults(&ip_json_in(&sb, ns, &["-6", "route"])).is_empty());
    assert_consistent(&sb, "after connect");

    // disconnect: gone from front when it returns, still found on back.
    podnet_ok(&sb, &["network", "disconnect", "front", "db"]);
    check(
        &sb,
        "right after disconnect",
        vec![
            nx("fclient", GW_FRONT, &["db", "A"]),
            nx("fclient", GW_FRONT6, &["store", "AAAA"]),
            nx("fclient", GW_FRONT, &["-x", &db_f]),
            answers("bclient", GW_BACK, &["db", "A"], &[&db_b]),
            answers("web", GW_BACK, &["db", "A"], &[&db_b]),
        ],
    );
    assert_consistent(&sb, "after disconnect");
    // rm of the multi-homed container: gone from both networks when rm returns.
    podnet_ok(&sb, &["rm", "-f", "web"]);
    check(
        &sb,
        "right after rm",
        vec![
            nx("fclient", GW_FRONT, &["web", "A"]),
            nx("fclient", GW_FRONT, &["www", "A"]),
            nx("bclient", GW_BACK, &["web", "A"]),
        ],
    );
    assert_consistent_once_settled(&sb, "after rm");
}

#[test]
fn run_whose_first_network_has_no_dns_is_named_on_its_later_one_when_run_returns() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "plain",
            "--subnet",
            "10.88.0.0/24",
            "--dns=false",
        ],
    );
    podnet_ok(
        &sb,
        &["network", "create", "back", "--subnet", "10.86.0.0/24"],
    );
    run_d(&sb, "bclient", &["--network", "back"]);
    let m = run_d(
        &sb,
        "m",
        &[
            "--network",
            "plain",
            "--network",
            "back",
            "--network-alias",
            "mm",
        ],
    );
    let m_b = addr_on(&m, "back", "ip");
    check(
        &sb,
        "right after run",
        vec![
            answers("bclient", GW_BACK, &["m", "A"], &[&m_b]),
            answers("bclient", GW_BACK, &["mm", "A"], &[&m_b]),
        ],
    );
    podnet_ok(&sb, &["rm", "-f", "m"]);
    check(
        &sb,
        "right after rm",
        vec![nx("bclient", GW_BACK, &["m", "A"])],
    );
}
