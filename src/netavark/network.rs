//! A Podman network onto the podnet network of the same name: `create` and `setup` both
//! *ensure* it through the engine's runtime networks (`engine::runtime::ensure_network`,
//! shared with the CNI plugin). It is made when podnet has none of that name; an existing
//! one (made by an earlier `create`, or by `podnet network create`, so Podman containers can
//! share a network with `podnet run` containers) is used when it agrees with what Podman's
//! JSON sets, refused otherwise. Podman's `network rm` never calls a plugin: the podnet
//! network stays until `podnet network rm`/`prune` (docs/decisions/2026-12-01-netavark-plugin.md).

use super::request::NetworkSpec;
use super::Settled;
use crate::engine::runtime::{ensure_network, NetworkRequest};
use crate::engine::Ctx;
use crate::model::{Network, Result};

/// The podnet network for `spec`, made if missing.
pub fn ensure(ctx: &mut Ctx, spec: &NetworkSpec) -> Result<Network> {
    let p = &spec.params;
    // Podman sends `icc` only when the user gave the option: unset, an existing network's
    // own setting holds (a new network's default is true).
    let icc = if spec.icc_given {
        p.icc
    } else {
        ctx.store.network(&spec.name)?.is_none_or(|n| n.icc)
    };
    ensure_network(
        ctx,
        &NetworkRequest {
            name: spec.name.clone(),
            subnet: p.subnet,
            gateway: p.gateway,
            bridge: p.bridge.clone(),
            mtu: p.mtu,
            internal: p.internal,
            icc,
            ipv6: p.ipv6,
            subnet6: p.subnet6,
            nat6: p.nat6,
            macvlan: p.macvlan.clone(),
            ..Default::default()
        },
    )
}

/// What `create` writes back: the network's own subnet, gateway and bridge.
pub fn settled(net: &Network) -> Settled {
    Settled {
        subnet: net.subnet,
        gateway: net.gateway,
        v6: net.subnet6.zip(net.gateway6),
        // netavark's macvlan driver names the parent here; a bridge network its bridge.
        bridge: match &net.macvlan {
            Some(m) => m.parent.clone(),
            None => net.bridge.clone(),
        },
        dns: net.dns,
    }
}

/// What a container on `net` is told of DNS: podnet's server on the gateways, with podnet's
/// search domain, when the network has DNS; nothing otherwise.
pub fn dns(net: &Network) -> super::reply::DnsBlock {
    let servers = net.dns_servers();
    super::reply::DnsBlock {
        search: match servers.is_empty() {
            true => Vec::new(),
            false => vec![crate::agent::ZONE.to_owned()],
        },
        servers,
    }
}
