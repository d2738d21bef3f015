//! The service plan without a kernel: the whole table as text (rules as the
//! kernel expressions nft would compile) and the shape of every batch.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use podnet::kernel::nft::Batch;
use podnet::model::service::{parse_service_port, with_node_port, NODE_PORT_RANGE};
use podnet::model::{Backend, Service};
use podnet::plan::netfilter::describe;
use podnet::plan::services as sv;

fn be(last: u8) -> Backend {
    Backend::new(Ipv4Addr::new(10, 88, 0, last))
}

fn web() -> Service {
    let mut ports = vec![
        parse_service_port("80:8080/tcp").unwrap(),
        parse_service_port("53/udp").unwrap(),
    ];
    with_node_port(&mut ports, 30080, &NODE_PORT_RANGE).unwrap();
    Service {
        name: "web".into(),
        vip: Ipv4Addr::new(10, 43, 0, 10),
        ports,
        affinity_timeout: Some(10800),
    }
}

fn plain(n: u8) -> Service {
    Service {
        name: format!("s{n}"),
        vip: Ipv4Addr::new(10, 43, 1, n),
        ports: vec![parse_service_port("443").unwrap()],
        affinity_timeout: None,
    }
}

fn messages(b: &Batch) -> Vec<String> {
    (0..b.len()).map(|i| b.describe(i).to_string()).collect()
}

#[test]
fn whole_table_as_text() {
    let rs = sv::ruleset(&[(web(), vec![be(3), be(2)]), (plain(1), vec![])]);
    let text = describe(&rs);
    if text != GOLDEN {
        println!("{text}");
    }
    assert_eq!(text, GOLDEN);
}

/// Chains and rules depend only on the backend counts and timeouts in use.
#[test]
fn chains_do_not_depend_on_the_number_of_services() {
    let shape = |n: u8| {
        let list: Vec<_> = (1..=n).map(|i| (plain(i), vec![be(2), be(3)])).collect();
        let t = sv::ruleset(&list).tables.remove(0);
        (t.chains, t.rules)
    };
    assert_eq!(shape(1), shape(200));
}

#[test]
fn add_service_creates_a_bucket_only_when_new() {
    let s = plain(1);
    let new = messages(&sv::add_service(&s, &[be(2), be(3)], &BTreeSet::new()));
    assert_eq!(
        new,
        [
            "add chain bucket_2",
            "flush chain bucket_2",
            "add rule to chain bucket_2",
            "add chain np_bucket_2",
            "flush chain np_bucket_2",
            "add rule to chain np_bucket_2",
            "add 2 elements to set eps",
            "add 1 elements to set service_ips",
        ]
        .map(|m| format!("{m} in table ip podnet-svc"))
    );
    let known = messages(&sv::add_service(&s, &[be(2), be(3)], &BTreeSet::from([2])));
    assert_eq!(known.len(), 2, "{known:?}");
    let empty = messages(&sv::add_service(&s, &[], &BTreeSet::new()));
    assert_eq!(
        empty,
        ["add 1 elements to set service_ips in table ip podnet-svc"]
    );
}

#[test]
fn changing_one_endpoint_touches_one_slot() {
    let s = web();
    let b = sv::set_backends(
        &s,
        &[be(2), be(3), be(4)],
        &[be(2), be(3), be(5)],
        &BTreeSet::from([3]),
    );
    // Slot 2 of each of the 2 ports, in eps and np_eps; liveness of 4 and 5.
    // (Slots follow the sorted order: a change shifts the slots after it,
    // at most the service's own backend count.)
    assert_eq!(
        messages(&b),
        [
            "delete 2 elements from set affinity_eps",
            "delete 2 elements from set affinity_np_eps",
            "delete 2 elements from set eps",
            "delete 2 elements from set np_eps",
            "add 2 elements to set affinity_eps",
            "add 2 elements to set affinity_np_eps",
            "add 2 elements to set eps",
            "add 2 elements to set np_eps",
        ]
        .map(|m| format!("{m} in table ip podnet-svc"))
    );
}

#[test]
fn count_change_moves_the_dispatch_elements() {
    let s = plain(1);
    let b = sv::set_backends(
        &s,
        &[be(2), be(3)],
        &[be(2), be(3), be(4)],
        &BTreeSet::from([2, 3]),
    );
    assert_eq!(
        messages(&b),
        [
            "delete 1 elements from set service_ips",
            "add 1 elements to set eps",
            "add 1 elements to set service_ips",
        ]
        .map(|m| format!("{m} in table ip podnet-svc"))
    );
    let to_zero = sv::set_backends(&s, &[be(2)], &[], &BTreeSet::from([1]));
    assert_eq!(to_zero.len(), 3, "{:?}", messages(&to_zero));
    assert!(sv::set_backends(
        &s,
        &[be(3), be(2)],
        &[be(2), be(3), be(2)],
        &BTreeSet::new()
    )
    .is_empty());
}

#[test]
fn remove_service_deletes_every_element_of_it() {
    let add = sv::add_service(&web(), &[be(2), be(3)], &BTreeSet::from([2]));
    let rm = sv::remove_service(&web(), &[be(3), be(2)]);
    let strip = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|m| m.contains("elements"))
            .map(|m| {
                m.replace("add ", "")
                    .replace("delete ", "")
                    .replace(" to set", "")
                    .replace(" from set", "")
            })
            .collect()
    };
    let mut a = strip(messages(&add));
    let mut r = strip(messages(&rm));
    a.sort();
    r.sort();
    assert_eq!(a, r);
    assert_eq!(r.len(), 8);
    assert_eq!(messages(&sv::delete_all()).len(), 2);
}

const GOLDEN: &str = include_str!("golden/services_ip.txt");
