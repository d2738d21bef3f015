//! macvlan networks in the graph (issue 13, "shows in `podnet graph`"): the parent carries
//! the network, the shim hangs off it only with host access, containers join by a macvlan
//! child with no host end, and neither the missing veth nor the shim is flagged.

use super::diff::{flags, orphans};
use super::facts::{KernelFacts, StoreFacts};
use super::fixtures::{container, kernel, kinds, link, marked, network, store};
use super::{build, Body, EdgeKind, FlagKind};
use crate::model::{Macvlan, MacvlanMode, Network};

fn lan(host_access: bool) -> Network {
    Network {
        nat6: false,
        macvlan: Some(Macvlan {
            parent: "uplink0".into(),
            mode: MacvlanMode::Bridge,
            range: "192.168.1.192/27".parse().unwrap(),
            host_access,
        }),
        ..network(2, "lan", "pnm2", "192.168.1.0/24", "192.168.1.1")
    }
}

/// A macvlan network with one container, and the kernel exactly as they say (the shim,
/// marked with the store's identity, only with host access).
fn scene(host_access: bool) -> (StoreFacts, KernelFacts) {
    let s = store(
        vec![lan(host_access)],
        vec![container("m1", "lan", "192.168.1.193", None)],
    );
    let mut host = vec![link(1, "lo", "", None), link(3, "uplink0", "veth", None)];
    if host_access {
        host.push(marked(7, "pnm2", "macvlan"));
    }
    (s, kernel(host, "m1", "macvlan", "192.168.1.193"))
}

#[test]
fn a_macvlan_network_as_the_kernel_has_it_is_not_flagged() {
    for host_access in [false, true] {
        let (s, k) = scene(host_access);
        // No bridge, no gateway address, no host veth: none of that is a disagreement.
        assert_eq!(kinds(&s, &k), vec![], "host_access {host_access}");
        // The shim carries podnet's mark but the network's record names it.
        assert_eq!(orphans(&s, &k), Vec::<String>::new());
    }
}

#[test]
fn a_missing_parent_or_shim_is_flagged_on_the_network() {
    let (s, mut k) = scene(true);
    k.host.links.retain(|l| l.name != "pnm2");
    assert_eq!(
        kinds(&s, &k),
        vec![(FlagKind::MissingBridge, "network:lan".into())]
    );
    let (s, mut k) = scene(false);
    k.host.links.retain(|l| l.name != "uplink0");
    let f = flags(&s, &k);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].message.contains("parent uplink0"), "{f:?}");
    // Without host access a shim left behind is no longer explained: an orphan.
    let (s, mut k) = scene(false);
    k.host.links.push(marked(7, "pnm2", "macvlan"));
    assert_eq!(
        kinds(&s, &k),
        vec![(FlagKind::OrphanLink, "link:pnm2".into())]
    );
}

#[test]
fn the_graph_draws_parent_network_and_children_without_bridge_or_veth() {
    for host_access in [false, true] {
        let (s, k) = scene(host_access);
        let g = build(&s, &k);
        let net = g.nodes.iter().find(|n| n.id == "network:lan").unwrap();
        let Body::Network(n) = &net.body else {
            panic!("{net:?}")
        };
        assert_eq!(n.driver, "macvlan");
        assert_eq!(n.parent.as_deref(), Some("uplink0"));
        assert_eq!(n.macvlan_mode.as_deref(), Some("bridge"));
        assert_eq!(n.ip_range.as_deref(), Some("192.168.1.192/27"));
        assert_eq!(n.host_access, Some(host_access));
        assert!(n.present);
        let mut edges: Vec<_> = g
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str(), e.kind, e.detail.clone()))
            .collect();
        edges.sort();
        let mut want = vec![
            (
                "host",
                "network:lan",
                EdgeKind::Parent,
                Some("uplink0 (bridge mode, range 192.168.1.192/27)".to_string()),
            ),
            (
                "network:lan",
                "container:m1",
                EdgeKind::Macvlan,
                Some("eth0 on uplink0".to_string()),
            ),
        ];
        if host_access {
            want.push((
                "host",
                "network:lan",
                EdgeKind::Shim,
                Some("pnm2 on uplink0".to_string()),
            ));
        }
        want.sort();
        assert_eq!(edges, want, "host_access {host_access}");
        assert!(g.flags.is_empty(), "{:?}", g.flags);
    }
}
