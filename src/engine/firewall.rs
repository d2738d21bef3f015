//! podnet's netfilter state. The hot path (attach/detach) sends element-only changes; whenever
//! one is refused (tables flushed, an element missing or stale), the tables are re-rendered
//! whole from the store, which is the source of truth. Either way one atomic transaction.

use super::Ctx;
use crate::kernel::nft::{coexist, Batch, NftError};
use crate::model::{Error, PortMapping, Result};
use crate::plan::netfilter::{self as plan, NetFacts, PortFacts};
use std::net::Ipv4Addr;

pub fn net_facts(n: &crate::model::Network) -> NetFacts {
    NetFacts {
        bridge: n.bridge.clone(),
        subnet: n.subnet,
        internal: n.internal,
        icc: n.icc,
    }
}

pub fn port_facts(ip: Ipv4Addr, ports: &[PortMapping]) -> Vec<PortFacts> {
    ports
        .iter()
        .map(|m| PortFacts {
            container_ip: ip,
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

/// Make podnet's tables match the store exactly (or remove them when there is no network).
pub fn sync(ctx: &mut Ctx) -> Result<()> {
    let nets: Vec<NetFacts> = ctx.store.networks()?.iter().map(net_facts).collect();
    let batch = if nets.is_empty() {
        plan::delete_all()
    } else {
        let ports: Vec<PortFacts> = ctx
            .store
            .all_ports()?
            .into_iter()
            .map(|(ip, m)| PortFacts {
                container_ip: ip,
                mapping: m,
            })
            .collect();
        plan::full(&nets, &ports)
    };
    match send(ctx, &batch)? {
        // Deleting tables that are already gone is the desired end state.
        Err(NftError::Rejected(errs))
            if nets.is_empty() && errs.iter().all(|e| e.errno == libc::ENOENT) =>
        {
            Ok(())
        }
        r => r.map_err(failed),
    }?;
    forward_accepts(ctx)
}

/// Let podnet's bridges through a foreign `ip filter FORWARD` whose policy is drop (Docker's
/// iptables-nft chain), or take podnet's rules out of it: see `kernel::nft::coexist`. Called
/// whenever the set of networks changes and by [`sync`]; never on attach/detach.
pub fn forward_accepts(ctx: &mut Ctx) -> Result<()> {
    let bridges: Vec<coexist::Bridge> = ctx
        .store
        .networks()?
        .iter()
        .map(|n| coexist::Bridge {
            name: n.bridge.clone(),
            internal: n.internal,
        })
        .collect();
    coexist::sync_forward_accepts(ctx.nft()?, &bridges)
        .map(|_| ())
        .map_err(|e| {
            Error::failed(format!(
                "let podnet's bridges through ip filter FORWARD: {e}"
            ))
        })
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
