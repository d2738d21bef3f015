//! Published ports of an endpoint: checked before anything is made, reserved in the store in
//! the endpoint's own transaction, then programmed as map elements in one nft transaction.

use super::{firewall, Ctx};
use crate::model::{Endpoint, Error, Mode, Network, PortMapping, Result};
use crate::plan::netfilter as plan;
use crate::store::ports;
use rusqlite::Connection;
use std::collections::HashSet;

fn shown(m: &PortMapping) -> String {
    let ip = m
        .host_ip
        .map(|i| i.to_string())
        .unwrap_or_else(|| "0.0.0.0".into());
    format!("{ip}:{}/{}", m.host_port, m.proto)
}

fn check(
    conn: &Connection,
    net: Option<&Network>,
    mode: &Mode,
    requested: &[PortMapping],
) -> Result<()> {
    if requested.is_empty() {
        return Ok(());
    }
    if !matches!(mode, Mode::Bridge(_)) {
        return Err(Error::input(format!(
            "-p needs a bridge network, not --network {}: drop -p (with host networking the container's ports are the host's)",
            mode.kind()
        )));
    }
    if let Some(net) = net.filter(|n| n.internal) {
        return Err(Error::input(format!(
            "network '{}' is internal: its containers cannot publish ports; use another network or drop -p",
            net.name
        )));
    }
    let mut seen = HashSet::new();
    for m in requested {
        if !seen.insert((m.host_port, m.proto, m.host_ip)) {
            return Err(Error::input(format!(
                "host port {} is published twice in this command",
                shown(m)
            )));
        }
        if let Some(svc) = crate::store::services::node_port_owner(conn, m.host_port, m.proto)? {
            return Err(Error::input(format!(
                "host port {} is the node port of service '{svc}': choose another host port",
                shown(m)
            )));
        }
        if let Some(owner) = ports::conflict(conn, m)? {
            return Err(Error::input(format!(
                "host port {} is already published by container '{owner}': choose another host port",
                shown(m)
            )));
        }
    }
    Ok(())
}

/// Refuse what can never work before anything is made (the default network included).
pub fn precheck(ctx: &Ctx, mode: &Mode, requested: &[PortMapping]) -> Result<()> {
    let net = match mode {
        Mode::Bridge(n) => ctx.store.network(n)?,
        _ => None,
    };
    check(ctx.store.conn(), net.as_ref(), mode, requested)
}

/// Check again and record, inside the endpoint's transaction (this is the race-free check).
pub fn reserve(
    tx: &Connection,
    net: &Network,
    ep: &Endpoint,
    requested: &[PortMapping],
) -> Result<()> {
    check(tx, Some(net), &ep.mode, requested)?;
    ports::add(tx, ep.id, requested)
}

/// Program the endpoint's bridge port (anti-spoofing) and published ports: one element-only
/// transaction.
pub fn publish(ctx: &mut Ctx, ep: &Endpoint, requested: &[PortMapping]) -> Result<()> {
    let Some(guard) = firewall::guard_of(ep) else {
        return Ok(());
    };
    let ports = firewall::port_facts(guard.ip, requested);
    firewall::apply_or_sync(ctx, &plan::add_endpoint(&guard, &ports))?;
    if !requested.is_empty() {
        // Flows that reached these ports before (un-NATed, or to a previous owner) follow now.
        super::flows::to_ports(requested);
    }
    Ok(())
}

/// Remove the endpoint's port elements and close its bridge port (nothing it still sends
/// passes). Returns false when the change was refused and the tables were re-rendered from the
/// store instead: the caller must sync again once the endpoint's record is gone.
pub fn unpublish(ctx: &mut Ctx, ep: &Endpoint) -> Result<bool> {
    let Some(guard) = firewall::guard_of(ep) else {
        return Ok(true);
    };
    let mine = ctx.store.ports_of(ep.id)?;
    let ports = firewall::port_facts(guard.ip, &mine);
    let done = firewall::apply_or_sync(ctx, &plan::close_endpoint(&guard, &ports))?;
    if !mine.is_empty() {
        // Flows DNAT'ed to this container must not stick to its address once it is gone.
        let protos: std::collections::BTreeSet<_> = mine.iter().map(|m| m.proto).collect();
        super::flows::answered_by(guard.ip, protos.into_iter().map(|p| (p, None)));
    }
    Ok(done)
}

/// The endpoint's record is gone: forget its (closed) bridge port. A refused change re-renders
/// the tables from the store, which no longer has it.
pub fn release(ctx: &mut Ctx, ep: &Endpoint) -> Result<()> {
    if let Some(guard) = firewall::guard_of(ep) {
        firewall::apply_or_sync(ctx, &plan::remove_endpoint(&guard))?;
    }
    Ok(())
}
