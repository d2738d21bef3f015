//! A runtime's network as a podnet network: the runtime's configuration says what
//! `podnet network create` takes; the first call creates it, every later one must agree with
//! what exists (the settings it leaves out are whatever the network has).

use crate::engine::network::{self, NetworkRequest};
use crate::engine::{owner, Ctx};
use crate::model::{validate_name, Error, Network, NetworkState, Result};

/// The podnet network `req` names (what a runtime's configuration says of it; `None`: podnet
/// chooses, or whatever the existing network has): created (with its bridge) when there is
/// none, else checked against `req`. A mismatch is bad input naming the setting (field `subnet`,
/// `gateway`, `bridge`, `mtu`, `internal`, `icc`, `ipv6`, `subnet6` or `ipv6Nat`). Settings
/// `req` leaves unstated (`None`) agree with whatever exists. Concurrent first calls create it once.
pub fn ensure_network(ctx: &mut Ctx, req: &NetworkRequest) -> Result<Network> {
    validate_name("network", &req.name).map_err(|e| {
        Error::field(
            "name",
            format!("{e} (a runtime's network becomes the podnet network of that name)"),
        )
    })?;
    if let Some(net) = ctx.store.network(&req.name)? {
        if net.state == NetworkState::Ready {
            agree(&net, req)?;
            return Ok(net);
        }
    }
    let net = match ctx.store.network(&req.name)? {
        // Left half-made by a crash, or being made by a concurrent call: resolve finishes it.
        Some(_) => network::resolve(ctx, &req.name)?,
        None => match network::create(ctx, req) {
            Ok(n) => n,
            // A concurrent first call recorded it meanwhile: use theirs.
            Err(e) => match ctx.store.network(&req.name)? {
                Some(_) => network::resolve(ctx, &req.name)?,
                None => return Err(e),
            },
        },
    };
    agree(&net, req)?;
    Ok(net)
}

/// `req`'s settings against the network that exists.
fn agree(net: &Network, req: &NetworkRequest) -> Result<()> {
    let differ = |field: &str, has: String, asked: String| {
        Error::field(
            field,
            format!(
                "network '{}' exists with {field} {has}, the configuration says {asked}: make them agree, or give the configuration another network name",
                net.name
            ),
        )
    };
    if let Some(s) = req.subnet {
        if s.trunc() != net.subnet {
            return Err(differ("subnet", net.subnet.to_string(), s.to_string()));
        }
    }
    if let Some(g) = req.gateway {
        if g != net.gateway {
            return Err(differ("gateway", net.gateway.to_string(), g.to_string()));
        }
    }
    if let Some(b) = &req.bridge {
        if *b != net.bridge {
            return Err(differ("bridge", net.bridge.clone(), b.clone()));
        }
    }
    if let Some(m) = req.mtu {
        if m != net.mtu {
            return Err(differ("mtu", net.mtu.to_string(), m.to_string()));
        }
    }
    if req.macvlan.is_some() != net.macvlan.is_some() {
        let kind = |m: bool| if m { "macvlan" } else { "bridge" }.to_string();
        return Err(differ(
            "driver",
            kind(net.macvlan.is_some()),
            kind(req.macvlan.is_some()),
        ));
    }
    if let (Some(r), Some(m)) = (&req.macvlan, &net.macvlan) {
        if r.parent != m.parent {
            return Err(differ("parent", m.parent.clone(), r.parent.clone()));
        }
    }
    if req.internal != net.internal {
        return Err(differ(
            "internal",
            net.internal.to_string(),
            req.internal.to_string(),
        ));
    }
    if req.icc != net.icc {
        return Err(differ("icc", net.icc.to_string(), req.icc.to_string()));
    }
    let dual = net.subnet6.is_some();
    let want_dual = req.ipv6.or(req.subnet6.map(|_| true));
    if want_dual.is_some_and(|w| w != dual) {
        return Err(differ(
            "ipv6",
            dual.to_string(),
            want_dual.unwrap_or_default().to_string(),
        ));
    }
    if let (Some(s), Some(has)) = (req.subnet6, net.subnet6) {
        if s.trunc() != has {
            return Err(differ("subnet6", has.to_string(), s.to_string()));
        }
    }
    if let Some(n) = req.nat6.filter(|_| dual) {
        if n != net.nat6 {
            return Err(differ("ipv6Nat", net.nat6.to_string(), n.to_string()));
        }
    }
    Ok(())
}

/// Whether podnet can serve an attach to `network` now: its store answers, netlink and
/// nftables sockets open, podnet's tables here are its own (or absent), and the network, when
/// it exists, is not being removed. The error says what is wrong. (A bridge deleted from
/// outside is no reason: the next attach makes it again from its record.)
pub fn status(ctx: &mut Ctx, network: &str) -> Result<()> {
    let net = ctx.store.network(network)?;
    ctx.store.networks()?;
    ctx.host()?;
    owner::tables::check_usable(ctx)?;
    if let Some(n) = net {
        if n.state == NetworkState::Removing {
            return Err(Error::failed(format!(
                "network '{network}' is being removed"
            )));
        }
    }
    Ok(())
}
