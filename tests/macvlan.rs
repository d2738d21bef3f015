//! Issue 13, macvlan networks: containers directly on the LAN with their own addresses.
//! Acceptance 1-4 with real packets in the LAN lab (`common::macvlan`), bad input as a table.

mod common;

use common::macvlan::*;
use common::*;
use podnet::testbed::{describe, Sandbox};

const RANGE: &str = "198.18.0.64/27";

/// Acceptance 1: a machine on the LAN reaches a macvlan container at its own address (TCP
/// both ways), and the container's packets reach the LAN with its own address as source.
#[test]
fn lan_and_container_reach_each_other_at_their_own_addresses() {
    let lab = lan_lab();
    let sb = &lab.host;
    create_lan(sb, "lan", RANGE, &[]);
    let c = run_server(sb, "web", &["--network", "lan"], 7000, "web/{peer}");
    let cip = s(&c, "ip").to_string();
    assert!(
        net(RANGE).contains(&ipv4(&cip)),
        "address {cip} outside {RANGE}"
    );
    // Inside: eth0 is a macvlan on the parent; the LAN's router is the default route.
    let ns = s(&c, "netns");
    let links = ip_json_in(sb, ns, &["-d", "link", "show", "dev", "eth0"]);
    assert_eq!(links[0]["linkinfo"]["info_kind"], "macvlan", "{links}");
    let routes = ip_json_in(sb, ns, &["route", "show", "default"]);
    assert_eq!(routes[0]["gateway"], ROUTER, "{routes}");
    // LAN -> container, at its own address: the server sees the router's own address.
    assert_eq!(
        tcp_reply(&lab.outside, None, &cip, 7000),
        format!("web/{ROUTER}")
    );
    // Container -> LAN: the LAN sees the container's address (no masquerade).
    lab.outside
        .serve(None, "tcp", "0.0.0.0", 7100, "lan/{peer}")
        .unwrap();
    assert_eq!(
        tcp_from_container(sb, "web", ROUTER, 7100, "10").as_deref(),
        Some(format!("lan/{cip}").as_str())
    );
    // Nothing of podnet's on the host: no bridge, no veth, no nftables table.
    let tables = ok("nft list tables", sb.sh("nft list tables"));
    assert!(!tables.contains("podnet"), "tables: {tables}");
    assert!(pnv_links(sb).is_empty());
}

/// Acceptance 2: two macvlan containers reach each other; `--ip` is honoured; the range and
/// the gateway (and the host's own address) are never handed out.
#[test]
fn containers_reach_each_other_and_addresses_stay_in_the_range() {
    let lab = lan_lab();
    let sb = &lab.host;
    // A /29 range holding the host's .1 and the router's .2: four addresses remain.
    create_lan(sb, "lan", "198.18.0.0/29", &[]);
    run_server(
        sb,
        "a",
        &["--network", "lan", "--ip", "198.18.0.5"],
        7000,
        "a/{peer}",
    );
    let b = run_server(sb, "b", &["--network", "lan"], 7000, "b/{peer}");
    let bip = s(&b, "ip").to_string();
    assert_eq!(
        tcp_from_container(sb, "b", "198.18.0.5", 7000, "10").as_deref(),
        Some(format!("a/{bip}").as_str())
    );
    let idle = |n: &str| sb.podnet(idle_args(n, &["--network", "lan"]));
    let mut got = vec![ipv4("198.18.0.5"), ipv4(&bip)];
    for n in ["c", "d"] {
        ok(n, idle(n));
        got.push(ipv4(s(&inspect(sb, n), "ip")));
    }
    got.sort();
    let want: Vec<_> = ["198.18.0.3", "198.18.0.4", "198.18.0.5", "198.18.0.6"]
        .map(ipv4)
        .to_vec();
    assert_eq!(
        got, want,
        "never the host (.1), the router (.2) or outside the range"
    );
    assert_bad_input("range full", &idle("e"), "no free address");
    for (ip, needle) in [
        ("198.18.0.9", "outside the range"),
        ("198.18.0.2", "gateway"),
        ("198.18.0.1", "host's own address"),
    ] {
        let out = sb.podnet(["run", "--network", "lan", "--ip", ip, "--", "true"]);
        assert_bad_input(&format!("--ip {ip}"), &out, needle);
    }
}

/// Acceptance 3: without `--host-access` the host cannot reach its macvlan children and
/// `network inspect` says why; with it, it can.
#[test]
fn the_host_reaches_containers_only_with_host_access() {
    let lab = lan_lab();
    let sb = &lab.host;
    create_lan(sb, "lan", RANGE, &[]);
    create_lan(sb, "lanh", "198.18.0.128/27", &["--host-access"]);
    let plain = run_server(sb, "plain", &["--network", "lan"], 7000, "plain/{peer}");
    let shimmed = run_server(
        sb,
        "shimmed",
        &["--network", "lanh"],
        7000,
        "shimmed/{peer}",
    );
    let note = net_inspect(sb, "lan")["macvlan"]["host_reach"].clone();
    assert!(
        note.as_str().is_some_and(|n| n.contains("cannot reach")),
        "{note}"
    );
    let table = podnet_ok(sb, &["network", "inspect", "lan"]);
    assert!(table.contains("note: the host cannot reach"), "{table}");
    // The LAN reaches both; the host only the one behind its shim, from its LAN address.
    assert!(tcp_try(&lab.outside, s(&plain, "ip"), 7000, "10").is_some());
    assert_eq!(tcp_try(sb, s(&plain, "ip"), 7000, "2"), None);
    assert_eq!(
        tcp_try(sb, s(&shimmed, "ip"), 7000, "10"),
        Some(format!("shimmed/{HOST}"))
    );
    let shim = net_inspect(sb, "lanh")["macvlan"]["shim"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(link_names(sb).contains(&shim));
    podnet_ok(sb, &["rm", "-f", "shimmed"]);
    podnet_ok(sb, &["network", "rm", "lanh"]);
    assert!(!link_names(sb).contains(&shim), "shim {shim} left");
}

/// Acceptance 4 (first half): `rm` removes the container's macvlan interface with it.
#[test]
fn rm_removes_the_macvlan_interface() {
    let lab = lan_lab();
    let sb = &lab.host;
    create_lan(sb, "lan", RANGE, &[]);
    let baseline = link_names(sb);
    let c = run_server(sb, "web", &["--network", "lan"], 7000, "web");
    let cip = s(&c, "ip").to_string();
    assert!(tcp_try(&lab.outside, &cip, 7000, "10").is_some());
    podnet_ok(sb, &["rm", "-f", "web"]);
    assert_clean(sb, "after rm", "lan", &baseline);
    // Its address answers no more on the LAN: the interface is gone, not just unused.
    assert_eq!(tcp_try(&lab.outside, &cip, 7000, "1"), None);
}

/// Bad input: one-line error, nothing created.
/// A container removed and one run at once with its address: the new child carries the same
/// MAC (made from the address) while the kernel may still be destroying the old one's
/// namespace, whose child holds that MAC on the parent (macvlan refuses a busy address).
#[test]
fn an_address_is_reused_at_once_after_rm() {
    let lab = lan_lab();
    let sb = &lab.host;
    create_lan(sb, "lan", RANGE, &[]);
    let ip = "198.18.0.70";
    for round in 0..15 {
        let out = sb.podnet(idle_args("c", &["--network", "lan", "--ip", ip]));
        assert!(out.status.success(), "round {round}: {}", describe(&out));
        podnet_ok(sb, &["rm", "-f", "c"]);
    }
}

#[test]
fn bad_macvlan_input_is_refused_and_creates_nothing() {
    let lab = lan_lab();
    let sb = &lab.host;
    create_lan(sb, "lan", RANGE, &[]);
    podnet_ok(sb, &["network", "create", "br", "--subnet", "10.91.0.0/24"]);
    let before = (link_names(sb), networks(sb).len());
    let mv = |extra: &[&str]| {
        let mut a = vec!["network", "create", "x", "--driver", "macvlan"];
        a.extend_from_slice(extra);
        sb.podnet(&a)
    };
    // `--parent lan0 --subnet LAN` and more.
    let on_lan = |extra: &[&str]| {
        let mut a = vec!["--parent", PARENT, "--subnet", LAN];
        a.extend_from_slice(extra);
        mv(&a)
    };
    let cases: Vec<(&str, std::process::Output, &str)> = vec![
        (
            "parent missing",
            mv(&["--parent", "nosuch0", "--subnet", LAN]),
            "no such interface",
        ),
        (
            "parent a podnet bridge",
            mv(&["--parent", "pn-br", "--subnet", "10.91.0.0/24"]),
            "podnet bridge",
        ),
        (
            "subnet not on the LAN",
            mv(&["--parent", PARENT, "--subnet", "10.77.0.0/24"]),
            "not on the LAN",
        ),
        (
            "overlapping ranges",
            on_lan(&["--ip-range", "198.18.0.80/28"]),
            "overlaps the range",
        ),
        (
            "range outside the subnet",
            on_lan(&["--ip-range", "10.0.0.0/28"]),
            "inside --subnet",
        ),
        ("no parent", mv(&["--subnet", LAN]), "--parent"),
        (
            "host access in vepa mode",
            on_lan(&[
                "--ip-range",
                "198.18.0.160/28",
                "--mode",
                "vepa",
                "--host-access",
            ]),
            "mode bridge",
        ),
        ("unknown mode", on_lan(&["--mode", "source"]), "passthru"),
        (
            "parent without the driver",
            sb.podnet(["network", "create", "y", "--parent", PARENT]),
            "--driver macvlan",
        ),
        (
            "publishing a port",
            sb.podnet(["run", "--network", "lan", "-p", "8080:80", "--", "true"]),
            "reachable at its own address",
        ),
    ];
    for (what, out, needle) in &cases {
        assert_bad_input(what, out, needle);
    }
    assert_eq!(
        (link_names(sb), networks(sb).len()),
        before,
        "something was created"
    );
    assert!(ps(sb).is_empty());
}

/// Acceptance 4 (second half): a crash after every step of attach and of detach on a macvlan
/// network (`PODNET_FAULT`), then `gc`, leaves no container, mount, lease or link: the range
/// has two addresses, and both can be leased afterwards.
#[test]
fn gc_after_a_crash_at_every_step_leaves_nothing() {
    let lab = lan_lab();
    let sb = &lab.host;
    create_lan(sb, "lan", "198.18.0.68/30", &["--host-access"]);
    let baseline = link_names(sb);
    let run = idle_args("c", &["--network", "lan"]);
    for op in ["attach", "detach"] {
        for k in 1..40 {
            let what = format!("{op}:{k}");
            let out = match op {
                "attach" => faulty(sb, &what, &run),
                _ => {
                    ok(&what, sb.podnet(&run));
                    faulty(sb, &what, &["rm", "-f", "c"].map(String::from))
                }
            };
            let done = out.status.success();
            if !done {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(
                    out.status.signal(),
                    Some(9),
                    "{what}: {}",
                    podnet::testbed::describe(&out)
                );
                ok(&format!("{what}: gc"), sb.podnet(["gc"]));
                // A crash after attach's last step leaves a whole container gc keeps.
                if !ps(sb).is_empty() {
                    ok(&what, sb.podnet(["rm", "-f", "c"]));
                }
            } else if op == "attach" {
                ok(&what, sb.podnet(["rm", "-f", "c"]));
            }
            assert_clean(sb, &what, "lan", &baseline);
            if done {
                break;
            }
        }
    }
    ok("after the crashes", sb.podnet(&run));
    ok(
        "both addresses free after the crashes",
        sb.podnet(idle_args("c2", &["--network", "lan"])),
    );
}

fn faulty(sb: &Sandbox, fault: &str, args: &[String]) -> std::process::Output {
    let mut c = sb.podnet_cmd(args);
    c.env("PODNET_FAULT", fault);
    output(c)
}

/// Acceptance 5: CNI ADD/CHECK/DEL on a macvlan conflist (podnet's `"mode": "macvlan"` and
/// the reference plugin's `master` shape) works as the CLI: the LAN reaches the runtime's
/// namespace at its own address; DEL removes the interface from the namespace, which stays.
#[test]
fn cni_add_check_del_on_a_macvlan_conflist() {
    use common::cni::*;
    use serde_json::json;
    let lab = lan_lab();
    let sb = &lab.host;
    let ours = conf(
        "1.0.0",
        "lan",
        json!({"mode": "macvlan", "parent": PARENT, "subnet": LAN, "gateway": ROUTER,
               "ipRange": RANGE}),
    );
    let reference = conf(
        "1.0.0",
        "lan",
        json!({"master": PARENT, "mode": "bridge", "subnet": LAN, "gateway": ROUTER,
               "ipRange": RANGE}),
    );
    for (i, c) in [ours, reference].iter().enumerate() {
        let what = format!("conflist {i}");
        let ns = netns(sb, &format!("rt{i}"));
        let id = format!("ctr{i}");
        let result = cni_verb(sb, "ADD", &id, &ns, c).ok(&what);
        let ip = result_ip(&result, "eth0");
        assert!(net(RANGE).contains(&ip.addr()), "{what}: {result}");
        // Only the container's interface: no bridge, no host veth.
        assert_eq!(
            as_list(result["interfaces"].clone()).len(),
            1,
            "{what}: {result}"
        );
        let link = ip_json_in(sb, &ns, &["-d", "link", "show", "dev", "eth0"]);
        assert_eq!(
            link[0]["linkinfo"]["info_kind"], "macvlan",
            "{what}: {link}"
        );
        let mut srv = serve_in(sb, &ns, 7000, "rt/{peer}");
        assert_eq!(
            tcp_try(&lab.outside, &ip.addr().to_string(), 7000, "10"),
            Some(format!("rt/{ROUTER}")),
            "{what}"
        );
        srv.stop();
        let mut checked = c.clone();
        checked["prevResult"] = result.clone();
        cni_verb(sb, "CHECK", &id, &ns, &checked).ok(&format!("{what}: CHECK"));
        cni_verb(sb, "DEL", &id, &ns, c).ok(&format!("{what}: DEL"));
        let links = ip_json_in(sb, &ns, &["link"]);
        assert_eq!(names(&links), vec!["lo"], "{what}: after DEL: {links}");
        assert!(leftovers(sb).is_empty(), "{what}: {:?}", leftovers(sb));
    }
    assert_eq!(net_inspect(sb, "lan")["driver"], "macvlan");
}
