//! The IPv6 half of the netfilter plan without a kernel: the `ip6 podnet` and `netdev
//! podnet` tables and the bridge table's IPv6 rules as text, the IPv4 table byte-identical
//! with or without IPv6, and the shape of every dual-stack batch.

#[path = "common/nf_facts.rs"]
mod facts;

use facts::{guard, messages, net, ports};
use podnet::kernel::nft::{Family, Ruleset};
use podnet::plan::netfilter as nf;

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
    let text = nf::describe(&ip6);
    if text != GOLDEN6 {
        println!("{text}");
    }
    assert_eq!(text, GOLDEN6);
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

const GOLDEN6: &str = r#"table ip6 podnet
  set bridges { type ifname }
  set subnets { type ipv6_addr; flags interval }
  set masq_subnets { type ipv6_addr; flags interval }
  set internal_bridges { type ifname }
  set same_bridge { type ifname . ifname }
  map ports { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service }
  map ports_any { type inet_proto . inet_service : ipv6_addr . inet_service }
  chain guard { type filter hook prerouting priority -300; policy accept }
  chain prerouting { type nat hook prerouting priority -100; policy accept }
  chain loopback_replies { type filter hook prerouting priority -99; policy accept }
  chain output { type nat hook output priority -100; policy accept }
  chain postrouting { type nat hook postrouting priority 100; policy accept }
  chain forward { type filter hook forward priority 0; policy accept }
  rule guard
    [ meta load iifname => reg 1 ]
    [ cmp neq reg 1 0x00006f6c 0x00000000 0x00000000 0x00000000 ]
    [ payload load 16b @ network header + 24 => reg 1 ]
    [ cmp eq reg 1 0x00000000 0x00000000 0x00000000 0x01000000 ]
    [ immediate reg 0 drop ]
  rule prerouting
    [ payload load 16b @ network header + 24 => reg 1 ]
    [ cmp eq reg 1 0x00000000 0x00000000 0x00000000 0x01000000 ]
    [ immediate reg 0 return ]
  rule prerouting
    [ fib daddr type => reg 1 ]
    [ cmp eq reg 1 0x00000002 ]
    [ payload load 16b @ network header + 24 => reg 1 ]
    [ meta load l4proto => reg 2 ]
    [ payload load 2b @ transport header + 2 => reg 13 ]
    [ lookup reg 1 set ports dreg 1 ]
    [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]
  rule prerouting
    [ fib daddr type => reg 1 ]
    [ cmp eq reg 1 0x00000002 ]
    [ meta load l4proto => reg 1 ]
    [ payload load 2b @ transport header + 2 => reg 9 ]
    [ lookup reg 1 set ports_any dreg 1 ]
    [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]
  rule output
    [ fib daddr type => reg 1 ]
    [ cmp eq reg 1 0x00000002 ]
    [ payload load 16b @ network header + 24 => reg 1 ]
    [ meta load l4proto => reg 2 ]
    [ payload load 2b @ transport header + 2 => reg 13 ]
    [ lookup reg 1 set ports dreg 1 ]
    [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]
  rule output
    [ fib daddr type => reg 1 ]
    [ cmp eq reg 1 0x00000002 ]
    [ meta load l4proto => reg 1 ]
    [ payload load 2b @ transport header + 2 => reg 9 ]
    [ lookup reg 1 set ports_any dreg 1 ]
    [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]
  rule loopback_replies
    [ meta load iifname => reg 1 ]
    [ cmp neq reg 1 0x00006f6c 0x00000000 0x00000000 0x00000000 ]
    [ payload load 16b @ network header + 24 => reg 1 ]
    [ cmp eq reg 1 0x00000000 0x00000000 0x00000000 0x01000000 ]
    [ ct load direction => reg 1 ]
    [ cmp eq reg 1 0x00000001 ]
    [ ct load status => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]
    [ cmp neq reg 1 0x00000000 ]
    [ meta load mark => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0xffefffff ) ^ 0x00100000 ]
    [ meta set mark with reg 1 ]
  rule postrouting
    [ ct load status => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]
    [ cmp neq reg 1 0x00000000 ]
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ payload load 16b @ network header + 8 => reg 1 ]
    [ lookup reg 1 set subnets ]
    [ masq ]
  rule postrouting
    [ payload load 16b @ network header + 8 => reg 1 ]
    [ cmp eq reg 1 0x00000000 0x00000000 0x00000000 0x01000000 ]
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ masq ]
  rule postrouting
    [ payload load 16b @ network header + 8 => reg 1 ]
    [ lookup reg 1 set masq_subnets ]
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set bridges 0x1 ]
    [ masq ]
  rule forward
    [ ct load state => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]
    [ cmp neq reg 1 0x00000000 ]
    [ immediate reg 0 accept ]
  rule forward
    [ meta load iifname => reg 1 ]
    [ meta load oifname => reg 2 ]
    [ lookup reg 1 set same_bridge ]
    [ immediate reg 0 accept ]
  rule forward
    [ meta load iifname => reg 1 ]
    [ lookup reg 1 set internal_bridges ]
    [ immediate reg 0 drop ]
  rule forward
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set internal_bridges ]
    [ immediate reg 0 drop ]
  rule forward
    [ ct load status => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]
    [ cmp neq reg 1 0x00000000 ]
    [ immediate reg 0 accept ]
  rule forward
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ immediate reg 0 drop ]
  elements bridges = { "pn0", "pn1", "pn3" }
  elements internal_bridges = { "pn1" }
  elements masq_subnets = { fd00:88::-fd00:88::ffff:ffff:ffff:ffff }
  elements ports = { ::1 . udp . 8081 : fd00:88::2 . 80 }
  elements ports_any = { tcp . 8080 : fd00:88::2 . 80, tcp . 8083 : fd00:88::2 . 80 }
  elements same_bridge = { "pn0" . "pn0", "pn3" . "pn3" }
  elements subnets = { fd00:88::-fd00:88::ffff:ffff:ffff:ffff, fd00:89::-fd00:89::ffff:ffff:ffff:ffff, 2001:db8:91::-2001:db8:91:0:ffff:ffff:ffff:ffff }
table netdev podnet
  chain lo6_pn0 { type filter hook ingress device "pn0" priority 0; policy accept }
  chain lo6_pn1 { type filter hook ingress device "pn1" priority 0; policy accept }
  chain lo6_pn3 { type filter hook ingress device "pn3" priority 0; policy accept }
  rule lo6_pn0
    [ meta load mark => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0x00100000 ) ^ 0x00000000 ]
    [ cmp neq reg 1 0x00000000 ]
    [ meta load protocol => reg 1 ]
    [ cmp eq reg 1 0x0000dd86 ]
    [ payload load 16b @ network header + 24 => reg 1 ]
    [ cmp eq reg 1 0x00000000 0x00000000 0x00000000 0x01000000 ]
    [ meta load mark => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0xffefffff ) ^ 0x00000000 ]
    [ meta set mark with reg 1 ]
    [ immediate reg 1 0x00000000 0x00000000 ]
    [ payload write reg 1 => 6b @ link header + 0 csum_type 0 csum_off 0 csum_flags 0x0 ]
    [ immediate reg 1 0x00000001 ]
    [ fwd sreg_dev 1 ]
  rule lo6_pn1
    [ meta load mark => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0x00100000 ) ^ 0x00000000 ]
    [ cmp neq reg 1 0x00000000 ]
    [ meta load protocol => reg 1 ]
    [ cmp eq reg 1 0x0000dd86 ]
    [ payload load 16b @ network header + 24 => reg 1 ]
    [ cmp eq reg 1 0x00000000 0x00000000 0x00000000 0x01000000 ]
    [ meta load mark => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0xffefffff ) ^ 0x00000000 ]
    [ meta set mark with reg 1 ]
    [ immediate reg 1 0x00000000 0x00000000 ]
    [ payload write reg 1 => 6b @ link header + 0 csum_type 0 csum_off 0 csum_flags 0x0 ]
    [ immediate reg 1 0x00000001 ]
    [ fwd sreg_dev 1 ]
  rule lo6_pn3
    [ meta load mark => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0x00100000 ) ^ 0x00000000 ]
    [ cmp neq reg 1 0x00000000 ]
    [ meta load protocol => reg 1 ]
    [ cmp eq reg 1 0x0000dd86 ]
    [ payload load 16b @ network header + 24 => reg 1 ]
    [ cmp eq reg 1 0x00000000 0x00000000 0x00000000 0x01000000 ]
    [ meta load mark => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0xffefffff ) ^ 0x00000000 ]
    [ meta set mark with reg 1 ]
    [ immediate reg 1 0x00000000 0x00000000 ]
    [ payload write reg 1 => 6b @ link header + 0 csum_type 0 csum_off 0 csum_flags 0x0 ]
    [ immediate reg 1 0x00000001 ]
    [ fwd sreg_dev 1 ]
"#;
