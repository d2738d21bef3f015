//! macvlan networks in the graph (issue 13, "shows in `podnet graph`"): the parent carries
//! the network, the shim hangs off it only with host access, containers join by a macvlan
//! child with no host end, and neither the missing veth nor the shim is flagged.

use super::diff::{flags, orphans};
use super::facts::{AttachmentFacts, ContainerFacts, KernelFacts, NsFacts, StoreFacts};
use super::{build, Body, EdgeKind, FlagKind};
use crate::kernel::link::Link;
use crate::model::{Macvlan, MacvlanMode, Network, NetworkState};

fn link(index: u32, name: &str, kind: &str, alias: Option<&str>) -> Link {
    Link {
        index,
        name: name.into(),
        kind: Some(kind.into()),
        master: None,
        up: true,
        alias: alias.map(str::to_string),
    }
}

fn lan(host_access: bool) -> Network {
    Network {
        id: 2,
        name: "lan".into(),
        bridge: "pnm2".into(),
        subnet: "192.168.1.0/24".parse().unwrap(),
        gateway: "192.168.1.1".parse().unwrap(),
        subnet6: None,
        gateway6: None,
        nat6: false,
        mtu: 1500,
        internal: false,
        icc: true,
        dns: false,
        delegated: false,
        state: NetworkState::Ready,
        macvlan: Some(Macvlan {
            parent: "uplink0".into(),
            mode: MacvlanMode::Bridge,
            range: "192.168.1.192/27".parse().unwrap(),
            host_access,
        }),
    }
}

/// A macvlan network with one container, and the kernel exactly as they say (the shim,
/// marked with the store's identity, only with host access).
fn scene(host_access: bool) -> (StoreFacts, KernelFacts) {
    let store = StoreFacts {
        store_id: "abc".into(),
        networks: vec![lan(host_access)],
        containers: vec![ContainerFacts {
            name: "m1".into(),
            mode: "bridge".into(),
            shares: None,
            status: "running".into(),
            netns: Some("/run/podnet/netns/m1".into()),
            pid: Some(10),
            ready: true,
            attachments: vec![AttachmentFacts {
                network: "lan".into(),
                ifname: "eth0".into(),
                ip: Some("192.168.1.193".parse().unwrap()),
                ip6: None,
                host_veth: None,
                ready: true,
            }],
            ports: vec![],
        }],
        ..Default::default()
    };
    let mut kernel = KernelFacts::default();
    kernel.host.links = vec![link(1, "lo", "", None), link(3, "uplink0", "veth", None)];
    if host_access {
        kernel
            .host
            .links
            .push(link(7, "pnm2", "macvlan", Some("podnet:abc")));
    }
    let ns = NsFacts {
        links: vec![link(1, "lo", "", None), link(2, "eth0", "macvlan", None)],
        addrs: vec![(2, "192.168.1.193".parse().unwrap(), 24)],
        routes: vec![],
    };
    kernel
        .namespaces
        .insert("/run/podnet/netns/m1".into(), Some(ns));
    (store, kernel)
}

fn kinds(s: &StoreFacts, k: &KernelFacts) -> Vec<(FlagKind, String)> {
    flags(s, k)
        .into_iter()
        .map(|f| (f.kind, f.subject))
        .collect()
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
    k.host
        .links
        .push(link(7, "pnm2", "macvlan", Some("podnet:abc")));
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
