//! What FROM and TO are (a container, a service, `host`, an address; IPv4 or IPv6), the
//! store's facts a trace explains hits with, and the sender's unresolved next hop that
//! explains a packet lost below netfilter.

use super::explain::Facts;
use super::TraceRequest;
use crate::engine::Ctx;
use crate::kernel::netns;
use crate::model::{Endpoint, Error, Mode, Proto, Result};
use std::net::IpAddr;

/// Parses `TO:PORT[/tcp|udp]`.
pub fn parse_target(text: &str) -> Result<(String, u16, Proto)> {
    let bad = |why: &str| {
        Error::input(format!(
            "trace target '{text}': {why}; give TO:PORT[/tcp|udp], e.g. web:80 or 10.88.0.2:53/udp"
        ))
    };
    let (rest, proto) = match text.rsplit_once('/') {
        Some((r, "tcp")) => (r, Proto::Tcp),
        Some((r, "udp")) => (r, Proto::Udp),
        Some(_) => return Err(bad("the protocol is tcp or udp")),
        None => (text, Proto::Tcp),
    };
    let (to, port) = rest.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    // `[fd00::2]:80`; a bare `fd00::2:80` is read as its last colon's port.
    let to = match to.strip_prefix('[') {
        Some(inner) => inner
            .strip_suffix(']')
            .ok_or_else(|| bad("an IPv6 address is written [ADDR]:PORT"))?,
        None => to,
    };
    if to.is_empty() {
        return Err(bad("no destination"));
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("the port is a number from 1 to 65535"))?;
    Ok((to.to_string(), port, proto))
}

pub(super) enum Place {
    Host,
    Container(Endpoint),
    Service(crate::store::api::ServiceRecord),
    Address(IpAddr),
}

pub(super) fn place(ctx: &Ctx, what: &str, text: &str) -> Result<Place> {
    if text == "host" {
        return Ok(Place::Host);
    }
    if let Ok(a) = text.parse::<IpAddr>() {
        let by_ip = ctx.store.endpoints()?.into_iter().find(|e| {
            e.netns.is_some()
                && match a {
                    IpAddr::V4(a) => e.ip == Some(a),
                    IpAddr::V6(a) => e.ip6 == Some(a),
                }
        });
        return Ok(match by_ip {
            Some(e) => Place::Container(e),
            None => Place::Address(a),
        });
    }
    if let Some(e) = ctx.store.endpoint(text)? {
        return Ok(Place::Container(sharing(ctx, e)?));
    }
    if let Some(s) = ctx.store.service(text)? {
        return Ok(Place::Service(s));
    }
    Err(Error::not_found(
        "container or service",
        text,
        format!("trace {what} '{text}': no container or service of that name; give a container, a service, `host` or an IP address"),
    ))
}

/// A container of `--network container:OWNER` is reached at its owner's addresses, in the
/// namespace they share: the owner's record under the sharer's name (what the report says,
/// and what `podnet exec` takes).
fn sharing(ctx: &Ctx, e: Endpoint) -> Result<Endpoint> {
    let mut owner = e.clone();
    // A chain of sharers ends at the one with a network of its own (at most a few links).
    for _ in 0..8 {
        let Mode::Container(o) = &owner.mode else {
            break;
        };
        match ctx.store.endpoint(o)? {
            Some(next) => owner = next,
            None => return Ok(e),
        }
    }
    if owner.name == e.name {
        return Ok(e);
    }
    Ok(Endpoint {
        name: e.name,
        ..owner
    })
}

/// TO is a container with no address of its own to trace to: say why, and what to trace.
pub(super) fn unreachable_mode(e: &Endpoint) -> Option<Error> {
    match e.mode {
        Mode::Host => Some(Error::input(format!(
            "trace: container {} uses the host's network (--network host): trace to `host` or an address of the host, e.g. `podnet trace FROM host:PORT`",
            e.name
        ))),
        Mode::None => Some(Error::input(format!(
            "trace: container {} has no network (--network none): nothing outside it can reach it",
            e.name
        ))),
        _ => None,
    }
}

pub(super) fn facts(ctx: &Ctx) -> Result<Facts> {
    Ok(Facts {
        networks: ctx.store.networks()?,
        endpoints: ctx
            .store
            .endpoints()?
            .into_iter()
            .flat_map(|e| {
                let v4 = e.ip.map(|a| (e.name.clone(), IpAddr::V4(a)));
                let v6 = e.ip6.map(|a| (e.name.clone(), IpAddr::V6(a)));
                v4.into_iter().chain(v6)
            })
            .collect(),
        ports: ctx.store.all_ports()?,
        services: ctx.store.services()?,
        ports_of: ctx
            .store
            .endpoints()?
            .into_iter()
            .filter_map(|e| Some((e.name, e.host_veth?)))
            .collect(),
    })
}

pub(super) fn gateway_of(facts: &Facts, e: &Endpoint, v6: bool) -> Option<IpAddr> {
    match &e.mode {
        Mode::Bridge(n) => {
            let net = facts.networks.iter().find(|x| &x.name == n)?;
            match v6 {
                false => Some(IpAddr::V4(net.gateway)),
                true => net.gateway6.map(IpAddr::V6),
            }
        }
        _ => None,
    }
}

/// Whether the trace is IPv6: `-6`, or an IPv6 address as FROM or TO (never mixed).
pub(super) fn is_v6(req: &TraceRequest) -> Result<bool> {
    let fam = |t: &str| t.parse::<IpAddr>().ok().map(|a| a.is_ipv6());
    match (fam(&req.from), fam(&req.to)) {
        (Some(a), Some(b)) if a != b => Err(Error::input(format!(
            "trace: FROM {} and TO {} are of different IP families; give two IPv4 or two IPv6 addresses",
            req.from, req.to
        ))),
        (Some(false), _) | (_, Some(false)) if req.ipv6 => Err(Error::input(format!(
            "trace -6: {} is an IPv4 address; give an IPv6 one or leave out -6",
            if fam(&req.from) == Some(false) { &req.from } else { &req.to }
        ))),
        (a, b) => Ok(req.ipv6 || a == Some(true) || b == Some(true)),
    }
}

pub(super) fn netns_of(e: &Endpoint) -> Result<&str> {
    e.netns.as_deref().ok_or_else(|| {
        Error::input(format!(
            "trace: container {} has no namespace of its own (host mode): trace from `host`",
            e.name
        ))
    })
}

/// A packet lost after the sender's last hook: did its next hop (the destination on the
/// sender's own network, else the gateway) never resolve in the sender's neighbour table?
/// Then it died there, below netfilter. On an `--icc=false` network that is IPv6 between
/// two containers: podnet's bridge rules drop all IPv6 between its ports, neighbour
/// discovery included (IPv4's ARP passes, and the SYN itself is dropped and traced).
pub(super) fn unresolved_next_hop(
    facts: &Facts,
    e: &Endpoint,
    ns: &std::fs::File,
    daddr: IpAddr,
) -> Option<(String, Option<String>)> {
    let Mode::Bridge(own) = &e.mode else {
        return None;
    };
    let net = facts.networks.iter().find(|n| &n.name == own)?;
    let same = facts
        .network_of_ip(daddr)
        .is_some_and(|n| n.name == net.name);
    let hop = if same {
        daddr
    } else {
        gateway_of(facts, e, daddr.is_ipv6())?
    };
    let mut rtnl = netns::rtnl_in(ns).ok()?;
    if !crate::kernel::neigh::unresolved(&mut rtnl, hop).ok()? {
        return None;
    }
    if same && !net.icc && daddr.is_ipv6() {
        return Some((
            format!(
                "network {n} has --icc=false: podnet drops IPv6 between its containers, neighbour discovery included, so container {c} never learned the link-layer address of {hop} and the packet never left it",
                n = net.name,
                c = e.name
            ),
            Some(format!(
                "publish the port and use the host's address, or connect both containers to a network with icc (`podnet network connect NET CONTAINER`) instead of {}",
                net.name
            )),
        ));
    }
    Some((
        format!(
            "container {} never learned the link-layer address of {hop} (its neighbour entry is unresolved), so the packet never left it",
            e.name
        ),
        None,
    ))
}
