//! The netfilter plan without a kernel: the whole ruleset as text (rules as
//! the kernel expressions nft would compile), and the shape of every batch.

#[path = "common/nf_facts.rs"]
mod facts;

use facts::{assert_golden, guard, messages, net, ports};
use podnet::plan::netfilter::{self as nf, GuardFacts, NetFacts, PortFacts};

/// [`sample`]'s `ip podnet` and `bridge podnet` tables as text.
const GOLDEN: &str = include_str!("golden/netfilter_ip_bridge.txt");

#[test]
fn full_ruleset_as_text() {
    assert_golden(&nf::describe(&sample()), GOLDEN);
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
