//! The IPv6 half of the netfilter plan in a dual-stack lab (`ThreadLab::with_ipv6`), proven
//! with real TCP and UDP over IPv6: NAT66 and routed egress, published ports on the host's
//! IPv6 addresses and on `[::1]`, family-restricted ports, hairpin, isolation, `--internal`
//! and `--icc=false`. Each blocking rule has a control that shows the traffic gets through
//! without it, so no assertion here can pass by accident.

#[path = "common/nf_facts.rs"]
mod facts;

use facts::{
    assert_golden, assert_published_ports, at6, blocked, net, nettool, ok, ports, probe_packets, V6,
};
use podnet::kernel::nft::Ruleset;
use podnet::plan::netfilter::{self as nf, NetFacts, PortFacts};
use podnet::testbed::thread_netns::{ThreadLab as Lab, HOST_LAN, HOST_LAN6, OUT_LAN, OUT_LAN6};

/// `nft list table` of `ip6 podnet`, `netdev podnet` and `bridge podnet` after
/// [`nft_lists_the_planned_ipv6_ruleset`]'s plan.
const LISTING6: &str = include_str!("golden/netfilter_ip6_netdev_bridge.nft");

fn nets() -> [NetFacts; 2] {
    [
        net("pn0", "10.88.0.0/24", Some("fd00:88::/64"), false, true),
        net("pn1", "10.89.0.0/24", Some("fd00:89::/64"), false, true),
    ]
}

/// The plan without one rule of `ip6 podnet`'s `chain`, chosen by `pick` (a control).
fn without(rs: &mut Ruleset, chain: &str, pick: impl Fn(&str) -> bool) {
    let t = rs
        .tables
        .iter_mut()
        .find(|t| t.table.family == podnet::kernel::nft::Family::Ip6)
        .unwrap();
    let before = t.rules.len();
    t.rules
        .retain(|r| !(r.chain == chain && pick(&format!("{:?}", r.stmts))));
    assert_eq!(t.rules.len(), before - 1, "exactly one rule left out");
}

/// Acceptance 2: NAT66 hides the container behind the host's address; `--ipv6-nat=false`
/// routes it (the outside sees the container's own address), and the outside still cannot
/// open a connection to either.
#[test]
fn ipv6_egress_nat66_and_routed() {
    let mut lab = Lab::new(true).with_ipv6(true);
    lab.tcp_server6("out", 80, "out");
    lab.tcp_server6("c1", 81, "c1");
    lab.tcp_server6("c3", 81, "c3");
    let mut n = nets();
    n[1].nat6 = false;
    // The routed subnet is announced to the outside (as a router would be told); the NAT66
    // one is too, to show that being routable is not what keeps the outside out.
    lab.sh(
        "out",
        &format!(
            "ip -6 route add fd00:89::/64 via {HOST_LAN6} && ip -6 route add fd00:88::/64 via {HOST_LAN6}"
        ),
    );
    lab.apply(nf::full(&n, &[], &[])).unwrap();
    let out = at6(OUT_LAN6, 80);
    ok(lab.tcp("c1", &out), &format!("out {HOST_LAN6}"), "NAT66");
    ok(lab.tcp("c3", &out), "out fd00:89::2", "routed");
    blocked(lab.tcp("out", &at6("fd00:89::2", 81)), "outside → routed");
    blocked(lab.tcp("out", &at6("fd00:88::2", 81)), "outside → NAT66");
    // Control: without the last forward rule the outside gets in.
    let mut rs = nf::ruleset(&n, &[], &[]);
    without(&mut rs, "forward", |s| {
        s.contains("Drop") && s.contains("OifName") && s.contains("set: \"bridges\"")
    });
    lab.apply(rs.replace_batch()).unwrap();
    ok(
        lab.tcp("out", &at6("fd00:89::2", 81)),
        &format!("c3 {OUT_LAN6}"),
        "control",
    );
    // IPv4 is untouched by all this.
    lab.tcp_server("out", 80, "out4");
    ok(
        lab.tcp("c3", &format!("{OUT_LAN}:80")),
        &format!("out4 {HOST_LAN}"),
        "IPv4",
    );
}

/// c1 publishes 8080 (both families), [::1]:8081, 0.0.0.0:8082 (IPv4 only), [::]:8083
/// (IPv6 only) and 5353/udp.
fn c1_ports() -> Vec<PortFacts> {
    let (a, b) = ("10.88.0.2", "fd00:88::2");
    [
        "8080:80",
        "[::1]:8081:80",
        "0.0.0.0:8082:80",
        "[::]:8083:80",
        "5353:53/udp",
    ]
    .iter()
    .flat_map(|s| ports(a, Some(b), s))
    .collect()
}

/// Acceptance 3, with and without br_netfilter.
fn published(br_netfilter: bool) {
    let mut lab = Lab::new(br_netfilter).with_ipv6(br_netfilter);
    lab.tcp_server("c1", 80, "c1");
    lab.tcp_server6("c1", 80, "c1");
    lab.udp_server6("c1", 53, "c1");
    lab.apply(nf::full(&nets(), &[], &c1_ports())).unwrap();
    assert_published_ports(&lab, &V6);
    // Family restrictions.
    let lan = |p| at6(HOST_LAN6, p);
    blocked(lab.tcp("out", &lan(8082)), "0.0.0.0:8082 over IPv6");
    ok(
        lab.tcp("out", &format!("{HOST_LAN}:8082")),
        &format!("c1 {OUT_LAN}"),
        "0.0.0.0:8082 over IPv4",
    );
    ok(
        lab.tcp("out", &lan(8083)),
        &format!("c1 {OUT_LAN6}"),
        "[::]:8083",
    );
    blocked(
        lab.tcp("out", &format!("{HOST_LAN}:8083")),
        "[::]:8083 IPv4",
    );
    // IPv4 as before, the host's 127.0.0.1 included.
    ok(
        lab.tcp("host", "127.0.0.1:8080"),
        "c1 10.88.0.1",
        "127.0.0.1",
    );
}

#[test]
fn published_ports_over_ipv6_with_br_netfilter() {
    published(true);
}

#[test]
fn published_ports_over_ipv6_without_br_netfilter() {
    published(false);
}

/// The host's `[::1]:PORT` needs the `::1` reply chain (with br_netfilter) and `local ::1`
/// on the bridge: without either, it times out.
#[test]
fn loopback_port_needs_the_reply_chain_and_the_route() {
    let mut lab = Lab::new(true).with_ipv6(true);
    lab.tcp_server6("c1", 80, "c1");
    let p = c1_ports();
    let mut rs = nf::ruleset(&nets(), &[], &p);
    rs.tables
        .retain(|t| t.table.family != podnet::kernel::nft::Family::Netdev);
    lab.apply(rs.replace_batch()).unwrap();
    blocked(lab.tcp("host", "[::1]:8081"), "without the netdev chain");
    lab.apply(nf::full(&nets(), &[], &p)).unwrap();
    ok(lab.tcp("host", "[::1]:8081"), "c1 fd00:88::1", "with it");
    lab.sh("host", "ip -6 route del local ::1 dev pn0 table local");
    blocked(lab.tcp("host", "[::1]:8081"), "without the route");
}

/// A `[::1]`-only port is not reachable from outside even when the outside routes `::1`
/// to the host: its raw SYNs never reach the container, whose own counter (an independent
/// view) sees the same SYNs when they are sent to the host's address (the control).
#[test]
fn ipv6_loopback_ports_unreachable_from_the_lan() {
    for br_netfilter in [true, false] {
        let lab = Lab::new(br_netfilter).with_ipv6(br_netfilter);
        lab.apply(nf::full(&nets(), &[], &c1_ports())).unwrap();
        lab.sh(
            "c1",
            "nft add table ip6 probe && nft add chain ip6 probe in '{ type filter hook input priority 0; }' \
             && nft add rule ip6 probe in tcp dport 80 'tcp flags syn' counter",
        );
        let host_mac = lab.sh("host", "ip -br link show lan0 | awk '{print $3}'");
        let syn = |dst: &str, port: u16| {
            lab.sh(
                "out",
                &format!(
                    "python3 {} raw6 lan --kind syn --src {OUT_LAN6} --dst {dst} --dport {port} --eth-dst {}",
                    nettool(),
                    host_mac.trim()
                ),
            );
            std::thread::sleep(std::time::Duration::from_millis(300));
            probe_packets(&lab, "c1")
        };
        assert_eq!(
            syn("::1", 8081),
            0,
            "[::1]:8081 from the LAN (br_nf {br_netfilter})"
        );
        assert_eq!(syn("::1", 8080), 0, "[::1]:8080 from the LAN");
        assert!(syn(HOST_LAN6, 8080) > 0, "control: the host's address");
    }
}

/// Acceptance 4: two IPv6 networks are isolated; `--internal` stops IPv6 egress both ways;
/// `--icc=false` holds for IPv6 on one bridge, with and without br_netfilter.
#[test]
fn ipv6_isolation_internal_and_icc() {
    for br_netfilter in [true, false] {
        let mut lab = Lab::new(br_netfilter).with_ipv6(br_netfilter);
        for c in ["c1", "c2", "c3", "c4"] {
            lab.tcp_server6(c, 80, "up");
        }
        lab.tcp_server6("out", 80, "out");
        let what = |w: &str| format!("{w} (br_netfilter {br_netfilter})");
        lab.apply(nf::full(&nets(), &[], &[])).unwrap();
        ok(
            lab.tcp("c1", &at6("fd00:88::3", 80)),
            "up fd00:88::2",
            &what("icc"),
        );
        blocked(lab.tcp("c1", &at6("fd00:89::2", 80)), &what("pn0 → pn1"));
        blocked(lab.tcp("c3", &at6("fd00:88::2", 80)), &what("pn1 → pn0"));
        ok(
            lab.tcp("c3", &at6(OUT_LAN6, 80)),
            &format!("out {HOST_LAN6}"),
            &what("out"),
        );
        let mut n = nets();
        n[0].icc = false;
        n[1].internal = true;
        lab.apply(nf::full(&n, &[], &[])).unwrap();
        blocked(lab.tcp("c1", &at6("fd00:88::3", 80)), &what("icc=false"));
        blocked(lab.tcp("c3", &at6(OUT_LAN6, 80)), &what("internal egress"));
        ok(
            lab.tcp("c3", &at6("fd00:89::3", 80)),
            "up fd00:89::2",
            &what("internal icc"),
        );
        lab.sh(
            "out",
            &format!("ip -6 route add fd00:89::/64 via {HOST_LAN6}"),
        );
        blocked(
            lab.tcp("out", &at6("fd00:89::2", 80)),
            &what("internal ingress"),
        );
    }
}

/// Without a dual-stack network nothing of IPv6 is made: no `ip6`/`netdev` table, and the
/// bridge table has its IPv4 rules only.
#[test]
fn ipv4_only_plan_makes_no_ipv6_tables() {
    let lab = Lab::new(true);
    let mut n = nets();
    for x in &mut n {
        x.subnet6 = None;
    }
    lab.apply(nf::full(&n, &[], &[])).unwrap();
    let tables = lab.nft("list tables");
    assert_eq!(tables, "table ip podnet\ntable bridge podnet\n");
    lab.apply(nf::full(&nets(), &[], &[])).unwrap();
    let tables = lab.nft("list tables");
    assert_eq!(
        tables,
        "table ip podnet\ntable bridge podnet\ntable ip6 podnet\ntable netdev podnet\n"
    );
    // Back to IPv4 only: the render removes them in the same transaction.
    let mut b = nf::full(&n, &[], &[]);
    b.append(nf::delete_ip6());
    lab.apply(b).unwrap();
    assert_eq!(
        lab.nft("list tables"),
        "table ip podnet\ntable bridge podnet\n"
    );
}

/// nft itself reads the tables back as the rules they were meant to be (an independent
/// decoding of the bytes podnet sent).
#[test]
fn nft_lists_the_planned_ipv6_ruleset() {
    let lab = Lab::new(true).with_ipv6(true);
    let mut n = nets();
    n[1].nat6 = false;
    n[1].icc = false;
    let g = [podnet::plan::netfilter::GuardFacts {
        port: "vc1".into(),
        mac: "02:50:0a:58:00:02".parse().unwrap(),
        ip: "10.88.0.2".parse().unwrap(),
        ip6: Some("fd00:88::2".parse().unwrap()),
    }];
    lab.apply(nf::full(&n, &g, &c1_ports())).unwrap();
    let listing = lab.nft("list table ip6 podnet")
        + &lab.nft("list table netdev podnet")
        + &lab.nft("list table bridge podnet");
    assert_golden(&listing, LISTING6);
}
