//! Store facts against kernel facts: every disagreement becomes a [`Flag`]. Pure.
//!
//! Only `ready` records are judged (a record mid-operation is expected to disagree, and gc
//! owns its repair). A kernel link counts as podnet's when it carries this store's identity
//! (alias `podnet:<id>`), is enslaved to a recorded bridge, or has podnet's name prefixes
//! (`pnv` veths, `pn-`/`pnbr`/`pnt` bridges): such a link no record names is an orphan.

use super::facts::{KernelFacts, StoreFacts};
use super::ids;
use super::model::{Flag, FlagKind};
use crate::kernel::link::Link;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

pub fn flags(store: &StoreFacts, kernel: &KernelFacts) -> Vec<Flag> {
    let mut out = Vec::new();
    let host = &kernel.host;
    // The host's links by name and index: looked up for every container (a scan each was
    // quadratic, ~1,000 veths × 1,000 containers).
    let by_name: HashMap<&str, &Link> = host.links.iter().map(|l| (l.name.as_str(), l)).collect();
    let name_of: HashMap<u32, &str> = host
        .links
        .iter()
        .map(|l| (l.index, l.name.as_str()))
        .collect();
    let flag = Flag::new;
    for n in store
        .networks
        .iter()
        .filter(|n| n.state == crate::model::NetworkState::Ready)
    {
        let id = ids::network(&n.name);
        if let Some(m) = &n.macvlan {
            macvlan_flags(&mut out, n, m, host);
            continue;
        }
        match host.link(&n.bridge) {
            None => out.push(flag(
                FlagKind::MissingBridge,
                id,
                format!(
                    "network {}: bridge {} is not in the kernel",
                    n.name, n.bridge
                ),
            )),
            Some(l) => {
                if !host.has_addr(l.index, IpAddr::V4(n.gateway)) {
                    out.push(flag(
                        FlagKind::MissingAddress,
                        id.clone(),
                        format!("bridge {} lacks its gateway {}", n.bridge, n.gateway),
                    ));
                }
                if !l.up {
                    out.push(flag(
                        FlagKind::LinkDown,
                        id,
                        format!("bridge {} is down", n.bridge),
                    ));
                }
            }
        }
    }
    for c in store.containers.iter().filter(|c| c.ready) {
        let id = ids::container(&c.name);
        let ns = match &c.netns {
            // A sharer's namespace is its owner's: judged once, with the owner.
            Some(_) if c.shares.is_some() => None,
            Some(p) => match kernel.namespaces.get(p) {
                Some(Some(ns)) => Some(ns),
                _ => {
                    out.push(flag(
                        FlagKind::MissingNamespace,
                        id.clone(),
                        format!("container {}: namespace {p} cannot be opened", c.name),
                    ));
                    None
                }
            },
            None => None,
        };
        for a in c.attachments.iter().filter(|a| a.ready) {
            if let Some(veth) = &a.host_veth {
                let bridge = store
                    .networks
                    .iter()
                    .find(|n| n.name == a.network)
                    .map(|n| n.bridge.as_str());
                match by_name.get(veth.as_str()) {
                    None => out.push(flag(
                        FlagKind::MissingVeth,
                        id.clone(),
                        format!("container {}: veth {veth} is not in the kernel", c.name),
                    )),
                    Some(l) => {
                        let master = l.master.and_then(|m| name_of.get(&m).copied());
                        // A missing bridge is flagged on its network, not on each veth.
                        let bridge_there = bridge.is_some_and(|b| by_name.contains_key(b));
                        if bridge_there && master != bridge {
                            out.push(flag(
                                FlagKind::VethOffBridge,
                                id.clone(),
                                format!(
                                    "container {}: veth {veth} is on {}, not on bridge {}",
                                    c.name,
                                    master.unwrap_or("no bridge"),
                                    bridge.unwrap_or("?")
                                ),
                            ));
                        }
                        if !l.up {
                            out.push(flag(
                                FlagKind::LinkDown,
                                id.clone(),
                                format!("container {}: veth {veth} is down", c.name),
                            ));
                        }
                    }
                }
            }
            let Some(ns) = ns else { continue };
            match ns.link(&a.ifname) {
                None => out.push(flag(
                    FlagKind::MissingInterface,
                    id.clone(),
                    format!("container {}: no {} in its namespace", c.name, a.ifname),
                )),
                Some(l) => {
                    let want = a.ip.map(IpAddr::V4).into_iter();
                    for ip in want.chain(a.ip6.map(IpAddr::V6)) {
                        if !ns.has_addr(l.index, ip) {
                            out.push(flag(
                                FlagKind::MissingAddress,
                                id.clone(),
                                format!("container {}: {} lacks {ip}", c.name, a.ifname),
                            ));
                        }
                    }
                }
            }
        }
    }
    for l in orphans(store, kernel) {
        out.push(flag(
            FlagKind::OrphanLink,
            ids::link(&l),
            format!("{l} looks like podnet's but no record names it (no owner)"),
        ));
    }
    out
}

/// A macvlan network has no bridge and holds no gateway address: its parent must exist, and
/// with host access its shim (recorded in the `bridge` column) must exist and be up.
fn macvlan_flags(
    out: &mut Vec<Flag>,
    n: &crate::model::Network,
    m: &crate::model::Macvlan,
    host: &super::facts::NsFacts,
) {
    let id = ids::network(&n.name);
    let flag = |kind, message: String| Flag::new(kind, id.clone(), message);
    if host.link(&m.parent).is_none() {
        let mut f = flag(
            FlagKind::MissingBridge,
            format!(
                "network {}: macvlan parent {} is not in the kernel",
                n.name, m.parent
            ),
        );
        f.fix = "podnet does not make a macvlan parent: bring the host's interface back, or re-create the network on one that exists".into();
        out.push(f);
    }
    if !m.host_access {
        return;
    }
    match host.link(&n.bridge) {
        None => out.push(flag(
            FlagKind::MissingBridge,
            format!(
                "network {}: host shim {} is not in the kernel",
                n.name, n.bridge
            ),
        )),
        Some(l) if !l.up => out.push(flag(
            FlagKind::LinkDown,
            format!("network {}: host shim {} is down", n.name, n.bridge),
        )),
        Some(_) => {}
    }
}

/// Host links that look like podnet's and that no record names.
pub fn orphans(store: &StoreFacts, kernel: &KernelFacts) -> Vec<String> {
    let host = &kernel.host;
    // A macvlan network's `bridge` is its shim, which exists only with host access.
    let mut named: HashSet<&str> = store
        .networks
        .iter()
        .filter(|n| n.macvlan.as_ref().is_none_or(|m| m.host_access))
        .map(|n| n.bridge.as_str())
        .collect();
    for c in &store.containers {
        named.extend(c.attachments.iter().filter_map(|a| a.host_veth.as_deref()));
    }
    if let Some(o) = &store.overlay {
        named.insert(o.device.as_str());
    }
    let bridges: HashSet<u32> = host
        .links
        .iter()
        .filter(|l| store.networks.iter().any(|n| n.bridge == l.name))
        .map(|l| l.index)
        .collect();
    let mark = format!("{}{}", crate::engine::owner::PREFIX, store.store_id);
    host.links
        .iter()
        .filter(|l| !named.contains(l.name.as_str()))
        .filter(|l| {
            let kind = l.kind.as_deref();
            l.alias.as_deref() == Some(mark.as_str())
                || l.master.is_some_and(|m| bridges.contains(&m))
                || (kind == Some("veth") && l.name.starts_with("pnv"))
                || (kind == Some("bridge")
                    && ["pn-", "pnbr", "pnt"].iter().any(|p| l.name.starts_with(p)))
        })
        .map(|l| l.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::graph::fixtures::{
        container, kernel, kinds, link, marked, netns_of, network, store,
    };

    /// A store with one network and one container, and the kernel exactly as they say.
    fn agreeing() -> (StoreFacts, KernelFacts) {
        let s = store(
            vec![network(1, "app", "pn-app", "10.90.0.0/24", "10.90.0.1")],
            vec![container("web", "app", "10.90.0.2", Some("pnv1"))],
        );
        let host = vec![
            link(1, "lo", "", None),
            link(5, "pn-app", "bridge", None),
            link(6, "pnv1", "veth", Some(5)),
        ];
        let mut k = kernel(host, "web", "veth", "10.90.0.2");
        k.host.addrs = vec![(5, "10.90.0.1".parse().unwrap(), 24)];
        (s, k)
    }

    #[test]
    fn agreement_has_no_flags() {
        let (s, k) = agreeing();
        assert_eq!(kinds(&s, &k), vec![]);
    }

    #[test]
    fn each_disagreement_is_flagged_on_its_object() {
        type Damage = fn(&mut StoreFacts, &mut KernelFacts);
        let table: &[(&str, Damage, FlagKind, &str)] = &[
            (
                "bridge gone",
                |_, k| k.host.links.retain(|l| l.name != "pn-app"),
                FlagKind::MissingBridge,
                "network:app",
            ),
            (
                "gateway address gone",
                |_, k| k.host.addrs.clear(),
                FlagKind::MissingAddress,
                "network:app",
            ),
            (
                "veth gone",
                |_, k| k.host.links.retain(|l| l.name != "pnv1"),
                FlagKind::MissingVeth,
                "container:web",
            ),
            (
                "veth off its bridge",
                |_, k| k.host.links[2].master = None,
                FlagKind::VethOffBridge,
                "container:web",
            ),
            (
                "veth down",
                |_, k| k.host.links[2].up = false,
                FlagKind::LinkDown,
                "container:web",
            ),
            (
                "namespace gone",
                |_, k| {
                    k.namespaces.insert("/run/podnet/netns/web".into(), None);
                },
                FlagKind::MissingNamespace,
                "container:web",
            ),
            (
                "eth0 gone",
                |_, k| {
                    let ns = k.namespaces.values_mut().next().unwrap().as_mut().unwrap();
                    ns.links.retain(|l| l.name != "eth0");
                },
                FlagKind::MissingInterface,
                "container:web",
            ),
            (
                "address gone",
                |_, k| {
                    let ns = k.namespaces.values_mut().next().unwrap().as_mut().unwrap();
                    ns.addrs.clear();
                },
                FlagKind::MissingAddress,
                "container:web",
            ),
            (
                "a veth on the bridge with no record",
                |_, k| k.host.links.push(link(9, "stray0", "veth", Some(5))),
                FlagKind::OrphanLink,
                "link:stray0",
            ),
            (
                "a pnv veth with no record, on no bridge",
                |_, k| k.host.links.push(link(9, "pnv77", "veth", None)),
                FlagKind::OrphanLink,
                "link:pnv77",
            ),
            (
                "a link carrying this store's mark",
                |_, k| k.host.links.push(marked(9, "other", "dummy")),
                FlagKind::OrphanLink,
                "link:other",
            ),
            (
                "a podnet-named bridge with no network",
                |_, k| k.host.links.push(link(9, "pn-gone", "bridge", None)),
                FlagKind::OrphanLink,
                "link:pn-gone",
            ),
        ];
        for (what, damage, kind, subject) in table {
            let (mut s, mut k) = agreeing();
            damage(&mut s, &mut k);
            assert_eq!(kinds(&s, &k), vec![(*kind, subject.to_string())], "{what}");
        }
    }

    #[test]
    fn records_mid_operation_and_foreign_links_are_not_flagged() {
        let (mut s, mut k) = agreeing();
        s.containers[0].ready = false;
        k.namespaces.clear();
        k.host.links.retain(|l| l.name != "pnv1");
        // The veth is still named by the record: not an orphan either.
        k.host.links.push(link(7, "pnv1", "veth", None));
        // Someone else's veth, on no podnet bridge, not podnet-named.
        k.host.links.push(link(8, "docker-veth", "veth", None));
        assert_eq!(kinds(&s, &k), vec![]);
    }

    #[test]
    fn a_sharer_is_not_judged_for_its_owners_namespace() {
        let (mut s, mut k) = agreeing();
        // It records its owner's namespace, as a sharer does.
        let mut sharer = container("side", "app", "10.90.0.2", None);
        sharer.netns = Some(netns_of("web"));
        sharer.mode = "container".into();
        sharer.shares = Some("web".into());
        sharer.attachments.clear();
        s.containers.push(sharer);
        k.namespaces.clear();
        assert_eq!(
            kinds(&s, &k),
            vec![(FlagKind::MissingNamespace, "container:web".into())]
        );
    }
}
