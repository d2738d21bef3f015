//! The netfilter plan without a kernel: the whole ruleset as text (rules as
//! the kernel expressions nft would compile), and the shape of every batch.

#[path = "common/nf_facts.rs"]
mod facts;

use facts::{guard, messages, net, ports};
use podnet::plan::netfilter::{self as nf, GuardFacts, NetFacts, PortFacts};

#[test]
fn full_ruleset_as_text() {
    let text = nf::describe(&sample());
    if text != GOLDEN {
        // Shows the new text, to check it and paste it below.
        println!("{text}");
    }
    assert_eq!(text, GOLDEN);
}

/// Tables and rules are the same whatever the facts: only elements change.
#[test]
fn chains_and_rules_do_not_depend_on_facts() {
    let shape = |rs: podnet::kernel::nft::Ruleset| {
        rs.tables
            .into_iter()
            .map(|t| (t.table, t.chains, t.sets, t.rules))
            .collect::<Vec<_>>()
    };
    let many: Vec<PortFacts> = (0..300)
        .flat_map(|i| ports("10.88.1.2", None, &format!("{}:80", 20000 + i)))
        .collect();
    let nets: Vec<NetFacts> = (0..50)
        .map(|i| {
            net(
                &format!("pn{i}"),
                &format!("10.{i}.0.0/24"),
                None,
                i % 2 == 0,
                i % 3 == 0,
            )
        })
        .collect();
    let guards: Vec<GuardFacts> = (0..300)
        .map(|i| {
            guard(
                &format!("pnv{i}"),
                &format!("10.88.{}.{}", i / 200, 2 + i % 200),
                None,
            )
        })
        .collect();
    assert_eq!(shape(nf::ruleset(&[], &[], &[])), shape(sample()));
    assert_eq!(shape(nf::ruleset(&nets, &guards, &many)), shape(sample()));
}

#[test]
fn full_replaces_both_tables_in_one_batch() {
    let m = messages(&nf::full(
        &[net("pn0", "10.88.0.0/24", None, false, true)],
        &[],
        &[],
    ));
    assert_eq!(
        &m[..3],
        [
            "add table in table ip podnet",
            "delete table in table ip podnet",
            "add table in table ip podnet"
        ]
    );
    let bridge_start = m
        .iter()
        .position(|s| s.ends_with("table bridge podnet"))
        .unwrap();
    assert_eq!(
        &m[bridge_start..bridge_start + 3],
        [
            "add table in table bridge podnet",
            "delete table in table bridge podnet",
            "add table in table bridge podnet"
        ]
    );
    assert_eq!(
        messages(&nf::delete_all()),
        [
            "add table in table ip podnet",
            "delete table in table ip podnet",
            "add table in table bridge podnet",
            "delete table in table bridge podnet"
        ]
    );
}

#[test]
fn attach_and_detach_are_element_changes_only() {
    let p = ports("10.88.0.2", None, "8080-8082:80-82/udp");
    let mut p2 = p.clone();
    p2.extend(ports("10.88.0.2", None, "127.0.0.1:9000:90"));
    assert_eq!(
        messages(&nf::add_ports(&p)),
        ["add 3 elements to set ports_any in table ip podnet"]
    );
    assert_eq!(
        messages(&nf::remove_ports(&p2)),
        [
            "delete 1 elements from set ports in table ip podnet",
            "delete 3 elements from set ports_any in table ip podnet"
        ]
    );
    assert!(nf::add_ports(&[]).is_empty());
}

/// A container on a bridge: its port and source go in with its published ports (one
/// transaction) and out with them.
#[test]
fn endpoint_lifecycle_is_element_changes_only() {
    let g = guard("pnv7", "10.88.0.2", None);
    let p = ports("10.88.0.2", None, "8080:80");
    assert_eq!(
        messages(&nf::add_endpoint(&g, &p)),
        [
            "add 1 elements to set ports_any in table ip podnet",
            "add 1 elements to set container_ports in table bridge podnet",
            "add 1 elements to set port_sources in table bridge podnet",
        ]
    );
    assert_eq!(
        messages(&nf::add_endpoint(&g, &[])),
        [
            "add 1 elements to set container_ports in table bridge podnet",
            "add 1 elements to set port_sources in table bridge podnet",
        ]
    );
    assert_eq!(
        messages(&nf::remove_endpoint(&g, &p)),
        [
            "delete 1 elements from set ports_any in table ip podnet",
            "delete 1 elements from set container_ports in table bridge podnet",
            "delete 1 elements from set port_sources in table bridge podnet",
        ]
    );
}

/// (An interval element is sent as two: its start and its end.)
#[test]
fn network_changes_are_element_changes_only() {
    assert_eq!(
        messages(&nf::add_network(&net(
            "pn0",
            "10.88.0.0/24",
            None,
            false,
            true
        ))),
        [
            "add 1 elements to set bridges in table ip podnet",
            "add 2 elements to set masq_subnets in table ip podnet",
            "add 1 elements to set same_bridge in table ip podnet",
            "add 2 elements to set subnets in table ip podnet",
        ]
    );
    assert_eq!(
        messages(&nf::remove_network(&net(
            "pn1",
            "10.89.0.0/24",
            None,
            true,
            false
        ))),
        [
            "delete 1 elements from set bridges in table ip podnet",
            "delete 1 elements from set internal_bridges in table ip podnet",
            "delete 2 elements from set subnets in table ip podnet",
            "delete 2 elements from set noicc_subnets in table bridge podnet",
        ]
    );
}

fn sample() -> podnet::kernel::nft::Ruleset {
    let nets = [
        net("pn0", "10.88.0.0/24", None, false, true),
        net("pn1", "10.89.0.7/24", None, true, false),
    ];
    let mut p = ports("10.88.0.2", None, "8080-8081:80-81");
    p.extend(ports("10.88.0.3", None, "127.0.0.1:5353:53/udp"));
    let guards = [
        guard("pnv1", "10.88.0.2", None),
        guard("pnv2", "10.88.0.3", None),
    ];
    nf::ruleset(&nets, &guards, &p)
}

const GOLDEN: &str = r#"table ip podnet
  set bridges { type ifname }
  set subnets { type ipv4_addr; flags interval }
  set masq_subnets { type ipv4_addr; flags interval }
  set internal_bridges { type ifname }
  set same_bridge { type ifname . ifname }
  map ports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
  map ports_any { type inet_proto . inet_service : ipv4_addr . inet_service }
  chain guard { type filter hook prerouting priority -300; policy accept }
  chain prerouting { type nat hook prerouting priority -100; policy accept }
  chain output { type nat hook output priority -100; policy accept }
  chain postrouting { type nat hook postrouting priority 100; policy accept }
  chain forward { type filter hook forward priority 0; policy accept }
  chain input { type filter hook input priority 0; policy accept }
  rule guard
    [ meta load iifname => reg 1 ]
    [ cmp neq reg 1 0x00006f6c 0x00000000 0x00000000 0x00000000 ]
    [ payload load 1b @ network header + 16 => reg 1 ]
    [ cmp eq reg 1 0x0000007f ]
    [ immediate reg 0 drop ]
  rule prerouting
    [ payload load 1b @ network header + 16 => reg 1 ]
    [ cmp eq reg 1 0x0000007f ]
    [ immediate reg 0 return ]
  rule prerouting
    [ fib daddr type => reg 1 ]
    [ cmp eq reg 1 0x00000002 ]
    [ payload load 4b @ network header + 16 => reg 1 ]
    [ meta load l4proto => reg 9 ]
    [ payload load 2b @ transport header + 2 => reg 10 ]
    [ lookup reg 1 set ports dreg 1 ]
    [ nat dnat ip addr_min reg 1 proto_min reg 9 ]
  rule prerouting
    [ fib daddr type => reg 1 ]
    [ cmp eq reg 1 0x00000002 ]
    [ meta load l4proto => reg 1 ]
    [ payload load 2b @ transport header + 2 => reg 9 ]
    [ lookup reg 1 set ports_any dreg 1 ]
    [ nat dnat ip addr_min reg 1 proto_min reg 9 ]
  rule output
    [ fib daddr type => reg 1 ]
    [ cmp eq reg 1 0x00000002 ]
    [ payload load 4b @ network header + 16 => reg 1 ]
    [ meta load l4proto => reg 9 ]
    [ payload load 2b @ transport header + 2 => reg 10 ]
    [ lookup reg 1 set ports dreg 1 ]
    [ nat dnat ip addr_min reg 1 proto_min reg 9 ]
  rule output
    [ fib daddr type => reg 1 ]
    [ cmp eq reg 1 0x00000002 ]
    [ meta load l4proto => reg 1 ]
    [ payload load 2b @ transport header + 2 => reg 9 ]
    [ lookup reg 1 set ports_any dreg 1 ]
    [ nat dnat ip addr_min reg 1 proto_min reg 9 ]
  rule postrouting
    [ ct load status => reg 1 ]
    [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]
    [ cmp neq reg 1 0x00000000 ]
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ payload load 4b @ network header + 12 => reg 1 ]
    [ lookup reg 1 set subnets ]
    [ masq ]
  rule postrouting
    [ payload load 1b @ network header + 12 => reg 1 ]
    [ cmp eq reg 1 0x0000007f ]
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ masq ]
  rule postrouting
    [ payload load 4b @ network header + 12 => reg 1 ]
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
    [ meta load iifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ immediate reg 0 drop ]
  rule input
    [ meta load iifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ payload load 1b @ network header + 16 => reg 1 ]
    [ cmp eq reg 1 0x0000007f ]
    [ ct load direction => reg 1 ]
    [ cmp eq reg 1 0x00000000 ]
    [ immediate reg 0 drop ]
  elements bridges = { "pn0", "pn1" }
  elements internal_bridges = { "pn1" }
  elements masq_subnets = { 10.88.0.0-10.88.0.255 }
  elements ports = { 127.0.0.1 . udp . 5353 : 10.88.0.3 . 53 }
  elements ports_any = { tcp . 8080 : 10.88.0.2 . 80, tcp . 8081 : 10.88.0.2 . 81 }
  elements same_bridge = { "pn0" . "pn0" }
  elements subnets = { 10.88.0.0-10.88.0.255, 10.89.0.0-10.89.0.255 }
table bridge podnet
  set noicc_subnets { type ipv4_addr; flags interval }
  set container_ports { type ifname }
  set port_sources { type ifname . ether_addr . ipv4_addr }
  chain prerouting { type filter hook prerouting priority -200; policy accept }
  chain forward { type filter hook forward priority -200; policy accept }
  rule prerouting
    [ meta load iifname => reg 1 ]
    [ lookup reg 1 set container_ports 0x1 ]
    [ immediate reg 0 accept ]
  rule prerouting
    [ meta load protocol => reg 1 ]
    [ cmp eq reg 1 0x00000008 ]
    [ meta load iifname => reg 1 ]
    [ payload load 6b @ link header + 6 => reg 2 ]
    [ payload load 4b @ network header + 12 => reg 14 ]
    [ lookup reg 1 set port_sources ]
    [ immediate reg 0 accept ]
  rule prerouting
    [ meta load protocol => reg 1 ]
    [ cmp eq reg 1 0x00000608 ]
    [ payload load 6b @ network header + 0 => reg 1 ]
    [ cmp eq reg 1 0x00080100 0x00000406 ]
    [ meta load iifname => reg 1 ]
    [ payload load 6b @ link header + 6 => reg 2 ]
    [ payload load 4b @ network header + 14 => reg 14 ]
    [ lookup reg 1 set port_sources ]
    [ meta load iifname => reg 1 ]
    [ payload load 6b @ network header + 8 => reg 2 ]
    [ payload load 4b @ network header + 14 => reg 14 ]
    [ lookup reg 1 set port_sources ]
    [ immediate reg 0 accept ]
  rule prerouting
    [ immediate reg 0 drop ]
  rule forward
    [ meta load pkttype => reg 1 ]
    [ cmp eq reg 1 0x00000000 ]
    [ immediate reg 0 accept ]
  rule forward
    [ meta load protocol => reg 1 ]
    [ cmp eq reg 1 0x00000008 ]
    [ payload load 4b @ network header + 12 => reg 1 ]
    [ lookup reg 1 set noicc_subnets ]
    [ immediate reg 0 drop ]
  rule forward
    [ meta load protocol => reg 1 ]
    [ cmp eq reg 1 0x00000008 ]
    [ payload load 4b @ network header + 16 => reg 1 ]
    [ lookup reg 1 set noicc_subnets ]
    [ immediate reg 0 drop ]
  elements container_ports = { "pnv1", "pnv2" }
  elements noicc_subnets = { 10.89.0.0-10.89.0.255 }
  elements port_sources = { "pnv1" . 02:50:0a:58:00:02 . 10.88.0.2, "pnv2" . 02:50:0a:58:00:03 . 10.88.0.3 }
"#;
