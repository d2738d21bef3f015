//! Published ports of an endpoint: checked before anything is made, reserved in the store in
//! the endpoint's own transaction, then programmed as map elements in one nft transaction.

use super::{firewall, Ctx};
use crate::kernel::listen::{self, Ephemeral, Probe};
use crate::model::field::{NETWORK, PUBLISH};
use crate::model::{
    host_ip_text, Endpoint, Error, HostPort, Mode, Network, PortMapping, PortRequest, Result,
};
use crate::plan::netfilter as plan;
use crate::store::{Reads, Writes};
use std::net::IpAddr;

fn shown_ip(ip: Option<IpAddr>) -> String {
    ip.map(host_ip_text).unwrap_or_else(|| "0.0.0.0".into())
}

fn shown(m: &PortMapping) -> String {
    format!("{}:{}/{}", shown_ip(m.host_ip), m.host_port, m.proto)
}

/// Two mappings would catch the same packets.
fn overlap(a: &PortMapping, b: &PortMapping) -> bool {
    a.overlaps(b)
}

/// The addresses a bind() probe must try for a mapping on `host_ip`: the address itself, or
/// for every address the IPv4 wildcard and, on a dual-stack network, the IPv6 one. A network
/// without IPv6 probes exactly as before.
fn probed(host_ip: Option<IpAddr>, dual: bool) -> Vec<Option<IpAddr>> {
    match host_ip {
        Some(ip) => vec![Some(ip)],
        None if dual => vec![None, Some(listen::ANY6)],
        None => vec![None],
    }
}

/// The first probe of `host_ip:port/proto` over the addresses [`probed`] names that is not
/// free.
fn probe_all(host_ip: Option<IpAddr>, dual: bool, port: u16, m: &PortMapping) -> Probe {
    probed(host_ip, dual)
        .into_iter()
        .map(|ip| listen::probe(ip, port, m.proto))
        .find(|p| *p != Probe::Free)
        .unwrap_or(Probe::Free)
}

/// Whether a network's containers have IPv6 addresses.
fn dual_stack(net: Option<&Network>) -> bool {
    net.is_some_and(firewall::dual_stack)
}

/// Who in the store holds `m`'s host port (a service's node port, another container), as the
/// end of an error message.
fn store_holder(conn: &dyn Reads, m: &PortMapping) -> Result<Option<String>> {
    if let Some(svc) = conn.node_port_owner(m.host_port, m.proto)? {
        return Ok(Some(format!("is the node port of service '{svc}'")));
    }
    Ok(conn
        .port_holder(m)?
        .map(|owner| format!("is already published by container '{owner}'")))
}

/// What can be decided from the request and the store alone.
fn check(
    conn: &dyn Reads,
    net: Option<&Network>,
    mode: &Mode,
    requested: &[PortRequest],
) -> Result<()> {
    if requested.is_empty() {
        return Ok(());
    }
    if !matches!(mode, Mode::Bridge(_)) {
        return Err(Error::input(format!(
            "{PUBLISH} needs a bridge network, not {NETWORK} {}: drop {PUBLISH} (with host networking the container's ports are the host's)",
            mode.kind()
        )));
    }
    if let Some(net) = net.filter(|n| n.internal) {
        return Err(Error::input(format!(
            "network '{}' is internal: its containers cannot publish ports; use another network or drop -p",
            net.name
        )));
    }
    if !dual_stack(net) {
        if let Some(ip) = requested
            .iter()
            .find_map(|r| r.host_ip.filter(IpAddr::is_ipv6))
        {
            return Err(Error::input(format!(
                "{PUBLISH} {}: network '{}' has no IPv6, so its containers cannot publish on an IPv6 address; use a dual-stack network{} or an IPv4 host address",
                host_ip_text(ip),
                mode.target().unwrap_or_default(),
                crate::model::cli_hint(" (network create --ipv6)")
            )));
        }
    }
    let mut seen: Vec<PortMapping> = Vec::new();
    for m in requested.iter().filter_map(PortRequest::fixed) {
        if seen.iter().any(|s| overlap(s, &m)) {
            return Err(Error::input(format!(
                "host port {} is published twice in this command",
                shown(&m)
            )));
        }
        seen.push(m);
        if let Some(why) = store_holder(conn, &m)? {
            return Err(Error::input(format!(
                "host port {} {why}: choose another host port",
                shown(&m)
            )));
        }
    }
    Ok(())
}

fn not_local(ip: Option<IpAddr>) -> Error {
    let family = if ip.is_some_and(|i| i.is_ipv6()) {
        "-6"
    } else {
        "-4"
    };
    Error::input(format!(
        "{PUBLISH} {}: not an address of this host: give one of its addresses (`ip {family} addr`) or leave it out",
        shown_ip(ip)
    ))
}

/// Refuse a host port some host program holds, naming it (the /proc scan runs only here, on
/// the way to an error), and a host address the host does not have.
fn host_check(requested: &[PortRequest], dual: bool) -> Result<()> {
    for r in requested {
        let Some(m) = r.fixed() else {
            if let Some(ip) = r.host_ip {
                if listen::address(ip) == Probe::NotLocal {
                    return Err(not_local(r.host_ip));
                }
            }
            continue;
        };
        match probe_all(m.host_ip, dual, m.host_port, &m) {
            Probe::Free => {}
            Probe::NotLocal => return Err(not_local(m.host_ip)),
            Probe::InUse => {
                let by = match listen::holder(m.host_port, m.proto) {
                    Some(h) => format!("by pid {} ({})", h.pid, h.command),
                    None => "by a program of this host".into(),
                };
                return Err(Error::input(format!(
                    "host port {} is already in use {by}: choose another host port or stop it",
                    shown(&m)
                )));
            }
        }
    }
    Ok(())
}

/// Refuse what can never work before anything is made (the default network included).
pub fn precheck(ctx: &Ctx, mode: &Mode, requested: &[PortRequest]) -> Result<()> {
    let net = match mode {
        Mode::Bridge(n) => ctx.store.network(n)?,
        _ => None,
    };
    let dual = dual_stack(net.as_ref());
    let requested = &normalised(requested, dual)[..];
    check(ctx.store.reads(), net.as_ref(), mode, requested)?;
    host_check(requested, dual)
}

/// A random starting point, so that concurrent hosts' and runs' choices spread out.
fn random_below(n: u32) -> u32 {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    (r % u64::from(n.max(1))) as u32
}

/// The host port for a request without a fixed one: the first of its candidates that no
/// mapping of this command, no node port, no container and no host program holds.
fn choose(
    tx: &dyn Reads,
    r: &PortRequest,
    dual: bool,
    taken: &[PortMapping],
    ephemeral: &mut Option<Ephemeral>,
) -> Result<PortMapping> {
    let candidates: Box<dyn Iterator<Item = u16>> = match r.host {
        HostPort::Fixed(p) => return Ok(r.with_host_port(p)),
        HostPort::FirstFree(a, b) => Box::new(a..=b),
        HostPort::Any => {
            let e = ephemeral.get_or_insert_with(Ephemeral::read).clone();
            let start = e.lo + random_below(u32::from(e.hi - e.lo) + 1) as u16;
            Box::new(
                (start..=e.hi)
                    .chain(e.lo..start)
                    .filter(move |p| !e.is_reserved(*p)),
            )
        }
    };
    for port in candidates {
        let m = r.with_host_port(port);
        if taken.iter().any(|t| overlap(t, &m)) || store_holder(tx, &m)?.is_some() {
            continue;
        }
        match probe_all(m.host_ip, dual, port, &m) {
            Probe::Free => return Ok(m),
            Probe::InUse => continue,
            Probe::NotLocal => return Err(not_local(m.host_ip)),
        }
    }
    let range = match r.host {
        HostPort::FirstFree(a, b) => format!("{a}-{b}"),
        _ => {
            let e = ephemeral.as_ref().expect("read above");
            format!("{}-{} (the kernel's ephemeral range)", e.lo, e.hi)
        }
    };
    Err(Error::input(format!(
        "no free host port for container port {}/{} in {range} on {}: every one is published or in use; give another range",
        r.container_port,
        r.proto,
        shown_ip(r.host_ip)
    )))
}

/// `0.0.0.0` on a network without IPv6 is every address of the only family there is: recorded
/// as no address, exactly as before IPv6 (on a dual-stack network it keeps the port IPv4-only).
fn normalised(requested: &[PortRequest], dual: bool) -> Vec<PortRequest> {
    requested
        .iter()
        .map(|r| match r.host_ip {
            Some(IpAddr::V4(a)) if a.is_unspecified() && !dual => PortRequest {
                host_ip: None,
                ..*r
            },
            _ => *r,
        })
        .collect()
}

/// Check again, choose the free host ports asked for, and record them, inside the endpoint's
/// transaction (which is what makes both race-free). Returns the mappings as recorded.
pub fn reserve(
    tx: &dyn Writes,
    net: &Network,
    ep: &Endpoint,
    requested: &[PortRequest],
) -> Result<Vec<PortMapping>> {
    let dual = firewall::dual_stack(net);
    let requested = &normalised(requested, dual)[..];
    check(tx, Some(net), &ep.mode, requested)?;
    // Fixed ports first, so that no chosen one takes a port asked for by number.
    let mut taken: Vec<PortMapping> = requested.iter().filter_map(PortRequest::fixed).collect();
    let mut ephemeral = None;
    for r in requested.iter().filter(|r| r.fixed().is_none()) {
        let m = choose(tx, r, dual, &taken, &mut ephemeral)?;
        taken.push(m);
    }
    tx.add_ports(ep.id, &taken)?;
    Ok(taken)
}

/// Program the endpoint's bridge port (anti-spoofing) and published ports: one element-only
/// transaction.
pub fn publish(ctx: &mut Ctx, ep: &Endpoint, requested: &[PortMapping]) -> Result<()> {
    let Some(guard) = firewall::guard_of(ep) else {
        return Ok(());
    };
    let ports = firewall::port_facts(&guard, requested);
    firewall::apply_or_sync(ctx, &plan::add_endpoint(&guard, &ports))?;
    if !requested.is_empty() {
        // Flows that reached these ports before (un-NATed, or to a previous owner) follow now.
        super::flows::to_ports(requested, true, guard.ip6.is_some());
    }
    Ok(())
}

/// Remove the endpoint's published ports and anti-spoofing elements, in one transaction.
/// Its bridge port must be down already (`detach`): whatever is still in its namespace (an
/// attached namespace's processes live on) then sends nothing through it. All deletions come
/// early in `rm`/`detach`, so the kernel's deferred destruction of them is over before the
/// next command closes its netfilter socket (which waits for it).
/// Returns false when the change was refused and the tables were re-rendered from the store
/// instead: the caller must sync again once the endpoint's record is gone.
pub fn unpublish(ctx: &mut Ctx, ep: &Endpoint) -> Result<bool> {
    let Some(guard) = firewall::guard_of(ep) else {
        return Ok(true);
    };
    let mine = ctx.store.ports_of(ep.id)?;
    let ports = firewall::port_facts(&guard, &mine);
    let done = firewall::apply_or_sync(ctx, &plan::remove_endpoint(&guard, &ports))?;
    if !mine.is_empty() {
        // Flows DNAT'ed to this container must not stick to its address once it is gone.
        let protos: std::collections::BTreeSet<_> = mine.iter().map(|m| m.proto).collect();
        let addrs = std::iter::once(IpAddr::V4(guard.ip)).chain(guard.ip6.map(IpAddr::V6));
        for ip in addrs {
            super::flows::answered_by(ip, protos.iter().map(|p| (*p, None)));
        }
    }
    Ok(done)
}
