//! podnet's netfilter state. The hot path (attach/detach) sends element-only changes; whenever
//! one is refused (tables flushed, an element missing or stale), the tables are re-rendered
//! whole from the store, which is the source of truth. Either way one atomic transaction.

use super::{owner, Ctx};
use crate::kernel::nft::{coexist, Batch, NftError};
use crate::model::{Endpoint, EndpointState, Error, PortMapping, Result};
use crate::plan::netfilter::{self as plan, GuardFacts, NetFacts, PortFacts};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether a network is dual-stack (its containers get IPv6 addresses).
pub fn dual_stack(n: &crate::model::Network) -> bool {
    n.subnet6.is_some()
}

/// An endpoint's IPv6 address.
fn ip6_of(ep: &Endpoint) -> Option<Ipv6Addr> {
    ep.ip6
}

pub fn net_facts(n: &crate::model::Network) -> NetFacts {
    NetFacts {
        bridge: n.bridge.clone(),
        subnet: n.subnet,
        internal: n.internal,
        icc: n.icc,
        subnet6: n.subnet6,
        nat6: n.nat6,
    }
}

/// The anti-spoofing facts of an endpoint with a port on a bridge (`None` for the others: a
/// `container:NAME` endpoint shares its target's port, host and none modes have none, and an
/// endpoint recorded before anti-spoofing has no known MAC: its port stays unguarded).
pub fn guard_of(ep: &Endpoint) -> Option<GuardFacts> {
    let (Some(port), Some(ip), Some(mac)) = (ep.host_veth.as_ref(), ep.ip, ep.mac) else {
        return None;
    };
    Some(GuardFacts {
        port: port.clone(),
        mac,
        ip,
        ip6: ip6_of(ep),
    })
}

/// Every recorded bridge port except those of rows being removed, for a full re-render
/// (as for ports: a render from before their removal must never put them back).
pub fn guard_facts(eps: &[Endpoint]) -> Vec<GuardFacts> {
    eps.iter()
        .filter(|e| e.state != EndpointState::Removing)
        .filter_map(guard_of)
        .collect()
}

/// The published ports of the container behind `guard` (both its addresses).
pub fn port_facts(guard: &GuardFacts, ports: &[PortMapping]) -> Vec<PortFacts> {
    ports
        .iter()
        .map(|m| PortFacts {
            container_ip: guard.ip,
            container_ip6: guard.ip6,
            mapping: *m,
        })
        .collect()
}

fn send(ctx: &mut Ctx, batch: &Batch) -> Result<std::result::Result<(), NftError>> {
    Ok(ctx.nft()?.apply(batch))
}

fn failed(e: NftError) -> Error {
    super::nft_error("program netfilter", e)
}

/// Make podnet's tables match the store exactly (or remove them when there is no network) —
/// only if they are this store's: another state's tables are refused when this store needs
/// them and left alone (with the FORWARD accepts that go with them) otherwise.
///
/// The store is read and the kernel programmed inside one write transaction: no record can
/// change between the read and the apply, so the tables hold exactly the committed state. Rows
/// being removed are left out (their elements may already be gone; a render from before
/// their removal must never put them back).
pub fn sync(ctx: &mut Ctx) -> Result<()> {
    let me = owner::Identity::of(ctx);
    // A node in a cluster: the overlay's sets and rules too (pods keep their addresses).
    let overlay = super::overlay::network::facts(&ctx.root);
    let (store, nft) = ctx.store_and_nft()?;
    let managed = store.write(|tx| {
        // macvlan networks have no bridge and no netfilter state (no NAT, no ports).
        let nets: Vec<NetFacts> = tx
            .networks()?
            .iter()
            .filter(|n| n.is_bridge())
            .map(net_facts)
            .collect();
        let eps = tx.endpoints()?;
        // Ports are recorded by the container's IPv4 address; its IPv6 one comes from its
        // endpoint (a network always has IPv4).
        let ip6: HashMap<Ipv4Addr, Ipv6Addr> = eps
            .iter()
            .filter_map(|e| Some((e.ip?, ip6_of(e)?)))
            .collect();
        let ports: Vec<PortFacts> = if nets.is_empty() {
            Vec::new()
        } else {
            tx.all_ports()?
                .into_iter()
                .map(|(ip, m)| PortFacts {
                    container_ip: ip,
                    container_ip6: ip6.get(&ip).copied(),
                    mapping: m,
                })
                .collect()
        };
        let guards = guard_facts(&eps);
        let v6 = plan::wants_ipv6(&nets);
        // `ip6 podnet` is checked with the others (one dump) and, when no network is
        // dual-stack any more, removed in the same transaction.
        owner::tables::render(
            nft,
            &me,
            &plan::tables(),
            !nets.is_empty(),
            || {
                let mut b = plan::full_with(&nets, &guards, &ports, overlay.as_ref());
                if !v6 {
                    b.append(plan::delete_ip6());
                }
                b
            },
            || {
                let mut b = plan::delete_all();
                b.append(plan::delete_ip6());
                b
            },
        )
    })?;
    if managed {
        forward_accepts(ctx)?;
    }
    Ok(())
}

/// Let podnet's bridges through a foreign `ip filter FORWARD` whose policy is drop (Docker's
/// iptables-nft chain), or take podnet's rules out of it: see `kernel::nft::coexist`. Called
/// whenever the set of networks changes and by [`sync`]; never on attach/detach.
pub fn forward_accepts(ctx: &mut Ctx) -> Result<()> {
    ctx.nft()?;
    let (Some(nft), store) = (ctx.nft.as_mut(), &ctx.store) else {
        unreachable!("opened just now")
    };
    let bridges = || -> Result<Vec<coexist::Bridge>> {
        Ok(store
            .networks()?
            .iter()
            .filter(|n| n.is_bridge())
            .map(|n| coexist::Bridge {
                name: n.bridge.clone(),
                internal: n.internal,
            })
            .collect())
    };
    coexist::sync_forward_accepts(nft, bridges)?
        .map(|_| ())
        .map_err(|e| super::nft_error("let podnet's bridges through ip filter FORWARD", e))
}

/// Apply an element-only change; if the kernel refuses it, re-render everything instead.
/// Returns whether the change went in as sent (false: the caller's store change must be
/// followed by [`sync`], which this already did from the store as it is now).
pub fn apply_or_sync(ctx: &mut Ctx, batch: &Batch) -> Result<bool> {
    match send(ctx, batch)? {
        Ok(()) => Ok(true),
        Err(NftError::Rejected(_)) => sync(ctx).map(|_| false),
        Err(e) => Err(failed(e)),
    }
}
