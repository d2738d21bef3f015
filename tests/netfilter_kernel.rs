//! The netfilter plan in a fresh lab (`testbed::thread_netns::ThreadLab`), proven with
//! real TCP and UDP: published ports, hairpin, masquerade, the loopback
//! guard, isolation between networks, `--icc=false` and `--internal`.

#[path = "common/nf_facts.rs"]
mod facts;

use facts::{assert_golden, assert_published_ports, blocked, guard, net, ok, ports, V4};
use podnet::kernel::nft::{Batch, Ruleset, Sel, Stmt};
use podnet::plan::netfilter::{self as nf, PortFacts};
use podnet::testbed::thread_netns::{ThreadLab as Lab, HOST_LAN, OUT_LAN};

/// `nft list ruleset` after [`nft_lists_the_planned_ruleset`]'s plan.
const LISTING: &str = include_str!("golden/netfilter_ip_bridge.nft");

/// c1 publishes tcp 8080→80 (all addresses), udp 5353→53, and
/// 127.0.0.1:8081→80 (the host only).
fn c1_ports() -> Vec<PortFacts> {
    let mut p = ports("10.88.0.2", None, "8080:80");
    p.extend(ports("10.88.0.2", None, "5353:53/udp"));
    p.extend(ports("10.88.0.2", None, "127.0.0.1:8081:80"));
    p
}

#[test]
fn published_ports_from_outside_host_and_containers() {
    let mut lab = Lab::new(true);
    lab.tcp_server("c1", 80, "c1");
    lab.udp_server("c1", 53, "c1");
    let nets = [
        net("pn0", "10.88.0.0/24", None, false, true),
        net("pn1", "10.89.0.0/24", None, false, true),
    ];
    lab.apply(nf::full(&nets, &[], &c1_ports())).unwrap();

    assert_published_ports(&lab, &V4);
}

/// CVE-2020-8558: the LAN neighbour routes 127.0.0.0/8 to the host's MAC.
/// Without the guard this reaches the container (control), with it not.
#[test]
fn loopback_ports_unreachable_from_the_lan() {
    let mut lab = Lab::new(true);
    lab.tcp_server("c1", 80, "c1");
    let nets = [net("pn0", "10.88.0.0/24", None, false, true)];
    lab.sh(
        "out",
        &format!(
            "sysctl -qw net.ipv4.conf.lan.route_localnet=1 \
             && ip route del 127.0.0.0/8 dev lo table local \
             && ip addr del 127.0.0.1/8 dev lo \
             && ip route add 127.0.0.0/8 via {HOST_LAN} dev lan src {OUT_LAN}"
        ),
    );
    // Control: the plan's rules without the guard and the prerouting
    // loopback exception — the attack works, so the test can see it.
    let mut rs = nf::ruleset(&nets, &[], &c1_ports());
    rs.tables[0].rules.retain(|r| {
        r.chain != "guard"
            && !(r.chain == "prerouting"
                && r.stmts.len() == 2
                && matches!(r.stmts[1], Stmt::Verdict(_)))
    });
    lab.apply(Ruleset::replace_batch(&rs)).unwrap();
    ok(
        lab.tcp("out", "127.0.0.1:8081"),
        &format!("c1 {OUT_LAN}"),
        "control: unguarded 127.0.0.1:8081 from the LAN",
    );

    lab.apply(nf::full(&nets, &[], &c1_ports())).unwrap();
    blocked(lab.tcp("out", "127.0.0.1:8081"), "LAN → 127.0.0.1:8081");
    blocked(lab.tcp("out", "127.0.0.1:8080"), "LAN → 127.0.0.1:8080");
    // The host itself still has both.
    ok(
        lab.tcp("host", "127.0.0.1:8081"),
        "c1 10.88.0.1",
        "host → 127.0.0.1:8081",
    );
}

/// Containers cannot reach the host's loopback services although
/// route_localnet=1 is set on their bridge.
#[test]
fn containers_cannot_reach_host_loopback() {
    let mut lab = Lab::new(true);
    lab.tcp_server("host", 9999, "host-lo");
    // c1 sends 127.0.0.0/8 to the gateway's MAC.
    lab.sh(
        "c1",
        "sysctl -qw net.ipv4.conf.eth0.route_localnet=1 \
         && ip route del 127.0.0.0/8 dev lo table local \
         && ip addr del 127.0.0.1/8 dev lo \
         && ip route add 127.0.0.0/8 via 10.88.0.1 dev eth0 src 10.88.0.2",
    );
    let nets = [net("pn0", "10.88.0.0/24", None, false, true)];
    // Control: without podnet's tables the host answers on 127.0.0.1.
    ok(
        lab.tcp("c1", "127.0.0.1:9999"),
        "host-lo 10.88.0.2",
        "control: c1 → host loopback",
    );
    lab.apply(nf::full(&nets, &[], &[])).unwrap();
    blocked(
        lab.tcp("c1", "127.0.0.1:9999"),
        "c1 → host's 127.0.0.1:9999",
    );
}

/// Why the input rule carries `ct direction original`: the replies of the
/// host's own 127.0.0.1:PORT connections arrive from the bridge with a
/// loopback destination (after de-NAT). Without it (control) they are dropped.
#[test]
fn host_loopback_port_replies_pass_the_input_rule() {
    let mut lab = Lab::new(true);
    lab.tcp_server("c1", 80, "c1");
    let nets = [net("pn0", "10.88.0.0/24", None, false, true)];
    let mut rs = nf::ruleset(&nets, &[], &c1_ports());
    for r in rs.tables[0].rules.iter_mut().filter(|r| r.chain == "input") {
        r.stmts.retain(|s| {
            !matches!(
                s,
                Stmt::Cmp {
                    sel: Sel::CtDirection,
                    ..
                }
            )
        });
    }
    lab.apply(rs.replace_batch()).unwrap();
    blocked(
        lab.tcp("host", "127.0.0.1:8081"),
        "control: without ct direction",
    );
    lab.apply(nf::full(&nets, &[], &c1_ports())).unwrap();
    ok(
        lab.tcp("host", "127.0.0.1:8081"),
        "c1 10.88.0.1",
        "host → 127.0.0.1:8081",
    );
}

#[test]
fn outbound_is_masqueraded_to_the_host_lan_address() {
    let mut lab = Lab::new(true);
    lab.tcp_server("out", 9000, "out");
    lab.sh("out", &format!("ip route add default via {HOST_LAN}"));
    let nets = [net("pn0", "10.88.0.0/24", None, false, true)];
    lab.apply(nf::full(&nets, &[], &[])).unwrap();
    ok(
        lab.tcp("c1", &format!("{OUT_LAN}:9000")),
        &format!("out {HOST_LAN}"),
        "c1 → outside",
    );
}

#[test]
fn networks_are_isolated_from_each_other() {
    let mut lab = Lab::new(true);
    lab.tcp_server("c1", 80, "c1");
    lab.tcp_server("c3", 80, "c3");
    // Control: the host routes between its bridges.
    ok(
        lab.tcp("c1", "10.89.0.2:80"),
        "c3 10.88.0.2",
        "control: c1 → c3",
    );
    let nets = [
        net("pn0", "10.88.0.0/24", None, false, true),
        net("pn1", "10.89.0.0/24", None, false, true),
    ];
    lab.apply(nf::full(&nets, &[], &[])).unwrap();
    blocked(lab.tcp("c1", "10.89.0.2:80"), "c1 → c3");
    blocked(lab.tcp("c3", "10.88.0.2:80"), "c3 → c1");
    // Same network still talks, with and without br_netfilter (bridged
    // frames pass the ip forward hook as pn0 → pn0 when it is on).
    ok(
        lab.tcp("c2", "10.88.0.2:80"),
        "c1 10.88.0.3",
        "c2 → c1 (same network)",
    );
}

#[test]
fn same_network_talks_without_br_netfilter_too() {
    let mut lab = Lab::new(false);
    lab.tcp_server("c1", 80, "c1");
    lab.tcp_server("c3", 80, "c3");
    let nets = [
        net("pn0", "10.88.0.0/24", None, false, true),
        net("pn1", "10.89.0.0/24", None, false, true),
    ];
    lab.apply(nf::full(&nets, &[], &[])).unwrap();
    ok(
        lab.tcp("c2", "10.88.0.2:80"),
        "c1 10.88.0.3",
        "c2 → c1 (same network)",
    );
    blocked(lab.tcp("c1", "10.89.0.2:80"), "c1 → c3");
}

fn icc_false(br_netfilter: bool) {
    let mut lab = Lab::new(br_netfilter);
    lab.tcp_server("c1", 80, "c1");
    lab.udp_server("c1", 53, "c1");
    lab.tcp_server("c3", 80, "c3");
    let nets = [
        net("pn0", "10.88.0.0/24", None, false, false),
        net("pn1", "10.89.0.0/24", None, false, true),
    ];
    lab.apply(nf::full(&nets, &[], &c1_ports())).unwrap();
    blocked(lab.tcp("c2", "10.88.0.2:80"), "icc=false: c2 → c1 directly");
    blocked(
        lab.udp("c2", "10.88.0.2:53"),
        "icc=false: c2 → c1 directly (udp)",
    );
    // Published ports still work: from outside, from the host, and from the
    // neighbour through the host address (hairpin).
    ok(
        lab.tcp("out", &format!("{HOST_LAN}:8080")),
        &format!("c1 {OUT_LAN}"),
        "outside → published",
    );
    ok(
        lab.tcp("c2", &format!("{HOST_LAN}:8080")),
        "c1 10.88.0.1",
        "c2 → c1 via published port",
    );
    ok(
        lab.udp("c2", &format!("{HOST_LAN}:5353")),
        "c1 10.88.0.1",
        "c2 → c1 via published udp port",
    );
    ok(
        lab.tcp("c1", "10.88.0.1:8080"),
        "c1 10.88.0.1",
        "c1 → own port via the gateway address",
    );
    // The other network keeps icc.
    ok(
        lab.tcp("c4", "10.89.0.2:80"),
        "c3 10.89.0.3",
        "icc=true network: c4 → c3",
    );
}

#[test]
fn icc_false_with_br_netfilter() {
    icc_false(true);
}

#[test]
fn icc_false_without_br_netfilter() {
    icc_false(false);
}

#[test]
fn internal_network_stays_inside() {
    let mut lab = Lab::new(true);
    lab.tcp_server("out", 9000, "out");
    lab.tcp_server("c3", 80, "c3");
    lab.tcp_server("c1", 80, "c1");
    lab.sh("out", &format!("ip route add default via {HOST_LAN}"));
    let nets = [
        net("pn0", "10.88.0.0/24", None, false, true),
        net("pn1", "10.89.0.0/24", None, true, true),
    ];
    let mut p = ports("10.89.0.2", None, "8089:80");
    p.extend(c1_ports());
    lab.apply(nf::full(&nets, &[], &p)).unwrap();
    let out = format!("{OUT_LAN}:9000");
    ok(
        lab.tcp("c1", &out),
        &format!("out {HOST_LAN}"),
        "control: c1 (not internal) → outside",
    );
    blocked(lab.tcp("c3", &out), "internal c3 → outside");
    blocked(
        lab.tcp("out", &format!("{HOST_LAN}:8089")),
        "outside → internal c3's published port",
    );
    blocked(
        lab.tcp("c3", &format!("{HOST_LAN}:8080")),
        "internal c3 → c1's published port",
    );
    ok(
        lab.tcp("c4", "10.89.0.2:80"),
        "c3 10.89.0.3",
        "internal c4 → c3 (same network)",
    );
}

/// Attach and detach are element-only transactions; the rule count does not
/// depend on the number of ports.
#[test]
fn rule_count_is_independent_of_ports() {
    let lab = Lab::new(true);
    let nets = [
        net("pn0", "10.88.0.0/24", None, false, true),
        net("pn1", "10.89.0.0/24", None, true, false),
    ];
    let one = ports("10.88.0.2", None, "20000:80");
    let many = ports("10.88.0.3", None, "20001-20299:1-299");
    let count = |lab: &Lab| -> (usize, usize) {
        let j: serde_json::Value = serde_json::from_str(&lab.nft("-j list ruleset")).unwrap();
        let items = j["nftables"].as_array().unwrap();
        let rules = items.iter().filter(|i| i.get("rule").is_some()).count();
        let elems: usize = items
            .iter()
            .filter_map(|i| i.get("map"))
            .filter(|m| m["name"].as_str().is_some_and(|n| n.starts_with("ports")))
            .map(|m| m["elem"].as_array().map_or(0, |e| e.len()))
            .sum();
        (rules, elems)
    };
    lab.apply(nf::full(&nets, &[], &one)).unwrap();
    let (r1, e1) = count(&lab);
    lab.apply(nf::add_ports(&many)).unwrap();
    let (r300, e300) = count(&lab);
    assert_eq!((e1, e300), (1, 300));
    assert_eq!(r1, r300, "rules with 1 and 300 ports");
    lab.apply(nf::remove_ports(&many)).unwrap();
    assert_eq!(count(&lab), (r1, 1));
    // Networks too are elements only.
    lab.apply(nf::remove_network(&nets[1])).unwrap();
    lab.apply(nf::add_network(&net(
        "pn2",
        "10.90.0.0/24",
        None,
        false,
        false,
    )))
    .unwrap();
    assert_eq!(count(&lab).0, r1);
    lab.apply(nf::delete_all()).unwrap();
    assert_eq!(lab.nft("list ruleset"), "");
}

/// Detach removes exactly the container's ports; traffic follows.
#[test]
fn detach_and_reattach_move_traffic() {
    let mut lab = Lab::new(true);
    lab.tcp_server("c1", 80, "c1");
    lab.tcp_server("c2", 80, "c2");
    let nets = [net("pn0", "10.88.0.0/24", None, false, true)];
    let p1 = ports("10.88.0.2", None, "8080:80");
    lab.apply(nf::full(&nets, &[], &p1)).unwrap();
    let to = format!("{HOST_LAN}:8080");
    ok(
        lab.tcp("out", &to),
        &format!("c1 {OUT_LAN}"),
        "before detach",
    );
    lab.apply(nf::remove_ports(&p1)).unwrap();
    blocked(lab.tcp("out", &to), "after detach");
    lab.apply(nf::add_ports(&ports("10.88.0.3", None, "8080:80")))
        .unwrap();
    ok(
        lab.tcp("out", &to),
        &format!("c2 {OUT_LAN}"),
        "after attach of c2",
    );
}

/// `full` works over an existing podnet ruleset and leaves others' tables alone.
#[test]
fn full_replaces_only_podnet_tables() {
    let lab = Lab::new(true);
    lab.nft("add table inet other");
    lab.nft("add chain inet other c '{ type filter hook forward priority 10; policy accept; }'");
    let nets = [net("pn0", "10.88.0.0/24", None, false, true)];
    lab.apply(nf::full(&nets, &[], &ports("10.88.0.2", None, "8080:80")))
        .unwrap();
    lab.apply(nf::full(&nets, &[], &[])).unwrap();
    let listing = lab.nft("list ruleset");
    assert!(listing.contains("table inet other"), "{listing}");
    assert!(!listing.contains("8080"), "{listing}");
    lab.apply(nf::delete_all()).unwrap();
    assert_eq!(lab.nft("list tables"), "table inet other\n");
    let empty: Batch = nf::delete_all();
    lab.apply(empty).unwrap();
}

/// What nft itself decompiles from the kernel after `full`: the rule text
/// the plan intends (`meta protocol ip` is implied by nft before `ip saddr`
/// in a bridge table; bridge priority -200 is printed as `filter`).
#[test]
fn nft_lists_the_planned_ruleset() {
    let lab = Lab::new(true);
    let nets = [
        net("pn0", "10.88.0.0/24", None, false, true),
        net("pn1", "10.89.0.0/24", None, true, false),
    ];
    let mut p = ports("10.88.0.2", None, "8080:80");
    p.extend(ports("10.88.0.2", None, "127.0.0.1:5353:53/udp"));
    let guards = [guard("pnv1", "10.88.0.2", None)];
    lab.apply(nf::full(&nets, &guards, &p)).unwrap();
    assert_golden(&lab.nft("list ruleset"), LISTING);
}
