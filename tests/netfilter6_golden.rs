//! The IPv6 half of the netfilter plan without a kernel: the `ip6 podnet` and `netdev
//! podnet` tables and the bridge table's IPv6 rules as text, the IPv4 table byte-identical
//! with or without IPv6, and the shape of every dual-stack batch.

#[path = "common/nf_facts.rs"]
mod facts;

use facts::{assert_golden, guard, messages, net, ports};
use podnet::kernel::nft::{Family, Ruleset};
use podnet::plan::netfilter as nf;

/// [`sample`]'s `ip6 podnet` and `netdev podnet` tables as text.
const GOLDEN6: &str = include_str!("golden/netfilter_ip6_netdev.txt");

fn table(rs: &Ruleset, family: Family) -> Option<&podnet::kernel::nft::TableDef> {
    rs.tables.iter().find(|t| t.table.family == family)
}

fn sample() -> Ruleset {
    let nets = [
        net("pn0", "10.88.0.0/24", Some("fd00:88::/64"), false, true),
        net("pn1", "10.89.0.0/24", Some("fd00:89::/64"), true, false),
        net("pn2", "10.90.0.0/24", None, false, true),
    ];
    let mut routed = nets[0].clone();
    routed.bridge = "pn3".into();
    routed.subnet = "10.91.0.0/24".parse().unwrap();
    routed.subnet6 = Some("2001:db8:91::/64".parse().unwrap());
    routed.nat6 = false;
    let mut p = ports("10.88.0.2", Some("fd00:88::2"), "8080:80");
    p.extend(ports("10.88.0.2", Some("fd00:88::2"), "[::1]:8081:80/udp"));
    p.extend(ports("10.88.0.2", Some("fd00:88::2"), "0.0.0.0:8082:80"));
    p.extend(ports("10.88.0.2", Some("fd00:88::2"), "[::]:8083:80"));
    p.extend(ports("10.90.0.2", None, "9090:90"));
    let guards = [
        guard("pnv1", "10.88.0.2", Some("fd00:88::2")),
        guard("pnv2", "10.90.0.2", None),
    ];
    let mut all = nets.to_vec();
    all.push(routed);
    nf::ruleset(&all, &guards, &p)
}

#[test]
fn ipv6_tables_as_text() {
    let rs = sample();
    let ip6 = Ruleset {
        tables: rs
            .tables
            .iter()
            .filter(|t| matches!(t.table.family, Family::Ip6 | Family::Netdev))
            .cloned()
            .collect(),
    };
    assert_golden(&nf::describe(&ip6), GOLDEN6);
}

/// `ip podnet` is byte-identical whether or not a network is dual-stack: IPv6 never
/// changes the IPv4 table (its elements are the IPv4 facts' alone).
#[test]
fn the_ipv4_table_does_not_change_with_ipv6() {
    let dual = sample();
    let mut nets = vec![
        net("pn0", "10.88.0.0/24", None, false, true),
        net("pn1", "10.89.0.0/24", None, true, false),
        net("pn2", "10.90.0.0/24", None, false, true),
        net("pn3", "10.91.0.0/24", None, false, true),
    ];
    let mut p = ports("10.88.0.2", None, "8080:80");
    p.extend(ports("10.88.0.2", None, "0.0.0.0:8082:80"));
    p.extend(ports("10.90.0.2", None, "9090:90"));
    let guards = [
        guard("pnv1", "10.88.0.2", None),
        guard("pnv2", "10.90.0.2", None),
    ];
    let v4 = nf::ruleset(&nets, &guards, &p);
    let ip = |rs: &Ruleset| {
        nf::describe(&Ruleset {
            tables: vec![table(rs, Family::Ip).unwrap().clone()],
        })
    };
    assert_eq!(ip(&dual), ip(&v4));
    assert_eq!(v4.tables.len(), 2, "IPv4 only: ip and bridge tables");
    nets.truncate(0);
    assert_eq!(nf::ruleset(&nets, &[], &[]).tables.len(), 2);
}

/// The bridge table gains the IPv6 sets and rules only while a network is dual-stack; its
/// IPv4 rules stay first and unchanged, and the final drop stays last.
#[test]
fn bridge_table_ipv6_rules_come_before_the_final_drop() {
    let dual = sample();
    let br = table(&dual, Family::Bridge).unwrap();
    let v4 = nf::ruleset(&[net("pn0", "10.88.0.0/24", None, false, true)], &[], &[]);
    let br4 = table(&v4, Family::Bridge).unwrap();
    let pre = |t: &podnet::kernel::nft::TableDef| {
        t.rules
            .iter()
            .filter(|r| r.chain == "prerouting")
            .cloned()
            .collect::<Vec<_>>()
    };
    let (p6, p4) = (pre(br), pre(br4));
    assert_eq!(p6.len(), p4.len() + 3);
    assert_eq!(p6[..p4.len() - 1], p4[..p4.len() - 1]);
    assert_eq!(p6.last(), p4.last(), "the final drop");
    assert_eq!(br.sets.len(), br4.sets.len() + 2);
    assert_eq!(br.sets[..br4.sets.len()], br4.sets[..]);
}

/// A dual-stack container's attach is still one element-only batch: both families' ports,
/// its bridge port, its IPv4 source and its two IPv6 sources.
#[test]
fn dual_stack_endpoint_is_one_element_batch() {
    let g = guard("pnv7", "10.88.0.2", Some("fd00:88::2"));
    let mut p = ports("10.88.0.2", Some("fd00:88::2"), "8080:80");
    p.extend(ports("10.88.0.2", Some("fd00:88::2"), "[::1]:8081:80"));
    p.extend(ports("10.88.0.2", Some("fd00:88::2"), "127.0.0.1:8082:80"));
    assert_eq!(
        messages(&nf::add_endpoint(&g, &p)),
        [
            "add 1 elements to set ports in table ip podnet",
            "add 1 elements to set ports_any in table ip podnet",
            "add 1 elements to set ports in table ip6 podnet",
            "add 1 elements to set ports_any in table ip6 podnet",
            "add 1 elements to set container_ports in table bridge podnet",
            "add 1 elements to set port_sources in table bridge podnet",
            "add 2 elements to set port_sources6 in table bridge podnet",
        ]
    );
    assert_eq!(
        messages(&nf::remove_endpoint(&g, &p)),
        [
            "delete 1 elements from set ports in table ip podnet",
            "delete 1 elements from set ports_any in table ip podnet",
            "delete 1 elements from set ports in table ip6 podnet",
            "delete 1 elements from set ports_any in table ip6 podnet",
            "delete 1 elements from set container_ports in table bridge podnet",
            "delete 1 elements from set port_sources in table bridge podnet",
            "delete 2 elements from set port_sources6 in table bridge podnet",
        ]
    );
}

/// Which table each form of `-p` lands in, for a dual-stack container and for an IPv4-only
/// one (whose batch never mentions IPv6).
#[test]
fn ports_land_in_their_family() {
    let cases: [(&str, Option<&str>, &[&str]); 6] = [
        (
            "8080:80",
            Some("fd00:88::2"),
            &[
                "ports_any in table ip podnet",
                "ports_any in table ip6 podnet",
            ],
        ),
        ("8080:80", None, &["ports_any in table ip podnet"]),
        (
            "0.0.0.0:8080:80",
            Some("fd00:88::2"),
            &["ports_any in table ip podnet"],
        ),
        (
            "[::]:8080:80",
            Some("fd00:88::2"),
            &["ports_any in table ip6 podnet"],
        ),
        (
            "[::1]:8080:80",
            Some("fd00:88::2"),
            &["ports in table ip6 podnet"],
        ),
        (
            "127.0.0.1:8080:80",
            Some("fd00:88::2"),
            &["ports in table ip podnet"],
        ),
    ];
    for (spec, ip6, want) in cases {
        let got: Vec<String> = messages(&nf::add_ports(&ports("10.88.0.2", ip6, spec)))
            .into_iter()
            .map(|m| m.trim_start_matches("add 1 elements to set ").to_string())
            .collect();
        assert_eq!(got, want, "{spec} (IPv6 {ip6:?})");
    }
}

/// A dual-stack network: elements in both tables, plus its bridge's `[::1]` reply chain
/// (made afresh: a network realized twice keeps one rule); removal deletes that chain.
#[test]
fn dual_stack_network_changes() {
    let n = net("pn0", "10.88.0.0/24", Some("fd00:88::/64"), false, false);
    assert_eq!(
        messages(&nf::add_network(&n)),
        [
            "add 1 elements to set bridges in table ip podnet",
            "add 2 elements to set masq_subnets in table ip podnet",
            "add 2 elements to set subnets in table ip podnet",
            "add 1 elements to set bridges in table ip6 podnet",
            "add 2 elements to set masq_subnets in table ip6 podnet",
            "add 2 elements to set subnets in table ip6 podnet",
            "add 2 elements to set noicc_subnets in table bridge podnet",
            "add 2 elements to set noicc_subnets6 in table bridge podnet",
            "add chain lo6_pn0 in table netdev podnet",
            "flush chain lo6_pn0 in table netdev podnet",
            "add rule to chain lo6_pn0 in table netdev podnet",
        ]
    );
    let removal = messages(&nf::remove_network(&n));
    assert_eq!(
        removal[removal.len() - 2..],
        [
            "flush chain lo6_pn0 in table netdev podnet",
            "delete chain lo6_pn0 in table netdev podnet"
        ]
    );
    // An IPv4-only network's batches are what they were.
    let v4 = net("pn0", "10.88.0.0/24", None, false, true);
    assert!(messages(&nf::add_network(&v4))
        .iter()
        .all(|m| m.ends_with("table ip podnet")));
}
