//! The cluster overlay's part of the netfilter plan (issue 11), without a kernel: nothing
//! changes when it is absent, and when present it adds exactly its sets, rules and elements.

#[path = "common/nf_facts.rs"]
mod facts;

use facts::{guard, messages, net, ports};
use podnet::kernel::nft::{Ruleset, TableDef};
use podnet::plan::netfilter::{self as nf, NetFacts, OverlayFacts};

fn nets() -> Vec<NetFacts> {
    vec![
        net("cbr0", "10.244.1.0/24", None, false, true),
        net("pn1", "10.88.0.0/24", None, false, true),
    ]
}

fn overlay() -> OverlayFacts {
    OverlayFacts {
        device: "podnet.1".into(),
        cluster: "10.244.0.0/16".parse().unwrap(),
    }
}

#[test]
fn without_an_overlay_nothing_changes() {
    let (n, g, p) = (
        nets(),
        vec![guard("pnv1", "10.244.1.2", None)],
        ports("10.244.1.2", None, "8080:80"),
    );
    assert_eq!(nf::ruleset_with(&n, &g, &p, None), nf::ruleset(&n, &g, &p));
    assert_eq!(
        messages(&nf::full_with(&n, &g, &p, None)),
        messages(&nf::full(&n, &g, &p))
    );
}

/// Against the same facts without it, the overlay adds three sets, four rules (at fixed
/// places: golden) and their elements to `ip podnet`, and changes nothing else.
#[test]
fn the_overlay_adds_its_sets_rules_and_elements_only() {
    let plain = nf::ruleset(&nets(), &[], &[]);
    let with = nf::ruleset_with(&nets(), &[], &[], Some(&overlay()));
    assert_eq!(
        with.tables[1..],
        plain.tables[1..],
        "only ip podnet changes"
    );
    let (p, w) = (&plain.tables[0], &with.tables[0]);
    assert_eq!(w.chains, p.chains);
    assert_eq!(w.sets[..p.sets.len()], p.sets[..]);
    let theirs: Vec<_> = w
        .elements
        .iter()
        .filter(|(set, _)| {
            !["overlay_devs", "cluster_subnets", "overlay_links"].contains(&set.as_str())
        })
        .cloned()
        .collect();
    assert_eq!(theirs, p.elements);
    // The rules: the plain ones in their order, with the overlay's between them.
    let mut rest = p.rules.iter().peekable();
    let mut added = TableDef::new(w.table.clone());
    added.sets = w.sets[p.sets.len()..].to_vec();
    let mut places = Vec::new();
    for (i, r) in w.rules.iter().enumerate() {
        if rest.peek() == Some(&r) {
            rest.next();
        } else {
            places.push(i);
            added.rules.push(r.clone());
        }
    }
    assert_eq!(rest.next(), None, "a plain rule is missing or moved");
    let text = format!(
        "at {places:?}\n{}",
        nf::describe(&Ruleset {
            tables: vec![added]
        })
    );
    if text != GOLDEN {
        println!("{text}");
    }
    assert_eq!(text, GOLDEN);
}

/// The elements the overlay adds to a full ruleset.
#[test]
fn the_overlay_elements_name_the_device_the_cidr_and_the_cluster_bridge() {
    let with = nf::ruleset_with(&nets(), &[], &[], Some(&overlay()));
    let text = nf::describe(&with);
    for want in [
        "elements cluster_subnets = { 10.244.0.0-10.244.255.255 }",
        "elements overlay_devs = { \"podnet.1\" }",
        "elements overlay_links = { \"podnet.1\" . \"cbr0\", \"cbr0\" . \"podnet.1\" }",
    ] {
        assert!(text.contains(want), "{want} not in:\n{text}");
    }
    assert!(
        !text.contains("\"pn1\" . \"podnet.1\""),
        "pn1 is not the cluster's network"
    );
}

/// A network added while in the cluster: its overlay elements when it is the cluster's
/// network, none otherwise.
#[test]
fn an_added_network_gets_overlay_links_only_inside_the_cluster() {
    let o = overlay();
    let cluster = nets()[0].clone();
    let other = nets()[1].clone();
    assert_eq!(
        messages(&nf::add_overlay_network(&o, &cluster)),
        ["add 2 elements to set overlay_links in table ip podnet"]
    );
    assert!(nf::add_overlay_network(&o, &other).is_empty());
}

/// Rules 8 (postrouting, before the outbound masquerade) and 15-17 (forward, after the
/// published ports' accept, before the isolation between bridges).
const GOLDEN: &str = r#"at [8, 15, 16, 17]
table ip podnet
  set overlay_devs { type ifname }
  set cluster_subnets { type ipv4_addr; flags interval }
  set overlay_links { type ifname . ifname }
  rule postrouting
    [ payload load 4b @ network header + 16 => reg 1 ]
    [ lookup reg 1 set cluster_subnets ]
    [ immediate reg 0 return ]
  rule forward
    [ meta load iifname => reg 1 ]
    [ meta load oifname => reg 2 ]
    [ lookup reg 1 set overlay_links ]
    [ immediate reg 0 accept ]
  rule forward
    [ meta load iifname => reg 1 ]
    [ lookup reg 1 set overlay_devs ]
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ immediate reg 0 drop ]
  rule forward
    [ meta load iifname => reg 1 ]
    [ lookup reg 1 set bridges ]
    [ meta load oifname => reg 1 ]
    [ lookup reg 1 set overlay_devs ]
    [ immediate reg 0 drop ]
"#;
