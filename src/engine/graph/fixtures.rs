//! Test-only builders of the facts the graph's unit tests start from (`diff.rs`'s tests,
//! `macvlan_tests.rs`): links, a network, a container with one attachment, its namespace,
//! and the flags as (kind, subject). Each test changes what it needs from there.

use super::diff::flags;
use super::facts::{AttachmentFacts, ContainerFacts, KernelFacts, NsFacts, StoreFacts};
use super::FlagKind;
use crate::kernel::link::Link;
use crate::model::{Network, NetworkState};

/// The store's identity in every fixture; links podnet made carry `podnet:abc`.
pub const STORE_ID: &str = "abc";

/// A link, up, unmarked.
pub fn link(index: u32, name: &str, kind: &str, master: Option<u32>) -> Link {
    Link {
        index,
        name: name.into(),
        kind: Some(kind.into()),
        master,
        up: true,
        alias: None,
    }
}

/// A link on no master carrying this store's mark, as podnet makes them.
pub fn marked(index: u32, name: &str, kind: &str) -> Link {
    Link {
        alias: Some(format!("{}{STORE_ID}", crate::engine::owner::PREFIX)),
        ..link(index, name, kind, None)
    }
}

/// A ready IPv4 bridge network with bridge `bridge`, its gateway the subnet's first address.
pub fn network(id: i64, name: &str, bridge: &str, subnet: &str, gateway: &str) -> Network {
    Network {
        id,
        name: name.into(),
        bridge: bridge.into(),
        subnet: subnet.parse().unwrap(),
        gateway: gateway.parse().unwrap(),
        subnet6: None,
        gateway6: None,
        nat6: true,
        mtu: 1500,
        internal: false,
        icc: true,
        dns: false,
        delegated: false,
        state: NetworkState::Ready,
        macvlan: None,
    }
}

/// Where a fixture container's namespace is mounted.
pub fn netns_of(name: &str) -> String {
    format!("/run/podnet/netns/{name}")
}

/// A ready, running container `name` with `eth0` on `network` at `ip` (host end
/// `host_veth`; none on a macvlan network).
pub fn container(name: &str, network: &str, ip: &str, host_veth: Option<&str>) -> ContainerFacts {
    ContainerFacts {
        name: name.into(),
        mode: "bridge".into(),
        shares: None,
        status: "running".into(),
        netns: Some(netns_of(name)),
        pid: Some(10),
        ready: true,
        attachments: vec![AttachmentFacts {
            network: network.into(),
            ifname: "eth0".into(),
            ip: Some(ip.parse().unwrap()),
            ip6: None,
            host_veth: host_veth.map(str::to_string),
            ready: true,
        }],
        ports: vec![],
    }
}

/// A store with this identity, `networks` and `containers`.
pub fn store(networks: Vec<Network>, containers: Vec<ContainerFacts>) -> StoreFacts {
    StoreFacts {
        store_id: STORE_ID.into(),
        networks,
        containers,
        ..Default::default()
    }
}

/// A kernel with host links `host`, and container `name`'s namespace as it should be: `lo`
/// and an `eth0` of kind `kind` holding `ip`/24.
pub fn kernel(host: Vec<Link>, name: &str, kind: &str, ip: &str) -> KernelFacts {
    let mut k = KernelFacts::default();
    k.host.links = host;
    let ns = NsFacts {
        links: vec![link(1, "lo", "", None), link(2, "eth0", kind, None)],
        addrs: vec![(2, ip.parse().unwrap(), 24)],
        routes: vec![],
    };
    k.namespaces.insert(netns_of(name), Some(ns));
    k
}

/// The flags of `store` against `kernel` as (kind, subject).
pub fn kinds(store: &StoreFacts, kernel: &KernelFacts) -> Vec<(FlagKind, String)> {
    flags(store, kernel)
        .into_iter()
        .map(|f| (f.kind, f.subject))
        .collect()
}
