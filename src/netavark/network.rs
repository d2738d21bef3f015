//! A Podman network onto a podnet network of the same name: `create` and `setup` both
//! *ensure* it. It is made when podnet has none of that name; an existing one (made by an
//! earlier `create`, or by `podnet network create`, so Podman containers can share a network
//! with `podnet run` containers) is used when it agrees with what Podman's JSON pins down,
//! refused otherwise. Podman's `network rm` never calls a plugin: the podnet network stays
//! until `podnet network rm`/`prune` (see docs/decisions/2026-12-01-netavark-plugin.md).

use super::request::NetworkSpec;
use super::Settled;
use crate::engine::{network, Ctx};
use crate::model::{validate_name, Error, Network, Result};

/// The podnet network for `spec`, made if missing.
pub fn ensure(ctx: &mut Ctx, spec: &NetworkSpec) -> Result<Network> {
    let name = podnet_name(spec)?;
    if let Some(net) = ctx.store.network(&name)? {
        agrees(&net, spec)?;
        return network::resolve(ctx, &name);
    }
    let p = &spec.params;
    let made = network::create(
        ctx,
        &network::NetworkSpec {
            name: name.clone(),
            subnet: p.subnet.map(|s| s.to_string()),
            gateway: p.gateway.map(|g| g.to_string()),
            mtu: p.mtu,
            bridge: p.bridge.clone(),
            internal: p.internal,
            no_icc: !p.icc,
        },
    );
    match made {
        Ok(net) => Ok(net),
        // Another call made it meanwhile (Podman starts containers concurrently): judge
        // that one as an existing network.
        Err(e @ Error::Conflict { .. }) => match ctx.store.network(&name)? {
            Some(net) => {
                agrees(&net, spec)?;
                network::resolve(ctx, &name)
            }
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Podman's name is podnet's: it must be a podnet network name (15 characters at most, it
/// names the bridge's default too).
fn podnet_name(spec: &NetworkSpec) -> Result<String> {
    validate_name("network", &spec.name).map_err(|e| {
        Error::field(
            "name",
            format!("{e}: podnet's network of a Podman network has the same name"),
        )
    })?;
    Ok(spec.name.clone())
}

/// An existing podnet network serves Podman's when every value Podman's JSON sets is the
/// network's own; the error names the first that differs.
fn agrees(net: &Network, spec: &NetworkSpec) -> Result<()> {
    let p = &spec.params;
    let differs = |field: &str, asked: String, has: String| {
        Error::conflict(format!(
            "network '{}' exists in podnet with {field} {has}, not {asked}: give {field} {has}, leave it unset, or use another name",
            net.name
        ))
    };
    if let Some(s) = p.subnet.filter(|s| *s != net.subnet) {
        return Err(differs("subnet", s.to_string(), net.subnet.to_string()));
    }
    if let Some(g) = p.gateway.filter(|g| *g != net.gateway) {
        return Err(differs("gateway", g.to_string(), net.gateway.to_string()));
    }
    if let Some(b) = p.bridge.as_ref().filter(|b| **b != net.bridge) {
        return Err(differs("bridge", b.clone(), net.bridge.clone()));
    }
    if let Some(m) = p.mtu.filter(|m| *m != net.mtu) {
        return Err(differs("mtu", m.to_string(), net.mtu.to_string()));
    }
    if p.internal != net.internal {
        return Err(differs(
            "internal",
            p.internal.to_string(),
            net.internal.to_string(),
        ));
    }
    if spec.icc_given && p.icc != net.icc {
        return Err(differs("icc", p.icc.to_string(), net.icc.to_string()));
    }
    Ok(())
}

/// What `create` writes back: the network's own subnet, gateway and bridge.
pub fn settled(net: &Network) -> Settled {
    Settled {
        subnet: net.subnet,
        gateway: net.gateway,
        bridge: net.bridge.clone(),
    }
}
