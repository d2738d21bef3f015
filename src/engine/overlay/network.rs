//! The cluster network: once a node has joined (its agent wrote the lease's subnet and the
//! cluster's pod CIDR and VNI to `ROOT/cluster.json`), the default network `podnet0` is the
//! node's share of the pod network: the lease's subnet, gateway .1 on its bridge, MTU of the
//! overlay device. Pod-to-pod traffic keeps its addresses (`OverlayFacts` in the firewall);
//! everything else is masqueraded as before. Why `podnet0` and not a network of its own:
//! `docs/decisions/2026-12-02-cluster-network.md`.

use super::device_name;
use crate::cluster::local::{self, Joined};
use crate::engine::network::{self, NetworkRequest};
use crate::engine::{firewall, Ctx, DEFAULT_NETWORK};
use crate::model::Result;
use crate::plan::netfilter::OverlayFacts;
use std::path::Path;

/// The node's cluster facts when it has joined; `None` in single-host mode. A record that
/// cannot be read counts as single-host here (commands keep working; the agent, which
/// reads it strictly, says what is wrong with it).
pub fn joined(root: &Path) -> Option<Joined> {
    local::load(root).ok().flatten()?.joined()
}

/// The overlay's part of the node's netfilter tables, when it has joined.
pub fn facts(root: &Path) -> Option<OverlayFacts> {
    joined(root).map(|j| facts_of(&j))
}

pub fn facts_of(j: &Joined) -> OverlayFacts {
    OverlayFacts {
        device: device_name(j.vni),
        cluster: j.pod_cidr,
    }
}

/// The default network's request in cluster mode: the node's subnet and the overlay MTU.
pub fn default_request(j: &Joined) -> NetworkRequest {
    NetworkRequest {
        name: DEFAULT_NETWORK.into(),
        subnet: Some(j.subnet),
        mtu: j.mtu,
        ..NetworkRequest::default()
    }
}

/// Makes the default network the node's cluster network, renders the firewall with the
/// overlay's part and routes the service range to it. Returns whether the network is on the node's subnet, and a one-line note
/// when it keeps another subnet because containers still use it (they stay as they are,
/// unreachable from other nodes, until they are removed), or when it was moved.
pub fn ensure(ctx: &mut Ctx, j: &Joined) -> Result<(bool, Option<String>)> {
    let (on_subnet, note) = match ctx.store.network(DEFAULT_NETWORK)? {
        None => {
            network::create(ctx, &default_request(j))?;
            (true, None)
        }
        Some(n) if n.subnet == j.subnet => (true, None),
        Some(n) => match network::remove(ctx, DEFAULT_NETWORK) {
            Ok(()) => {
                network::create(ctx, &default_request(j))?;
                (true, Some(format!(
                    "network {DEFAULT_NETWORK} moved from {} to this node's subnet {}",
                    n.subnet, j.subnet
                )))
            }
            Err(e) => (false, Some(format!(
                "network {DEFAULT_NETWORK} keeps {} but this node now holds {}: its containers are not reachable from other nodes until it can move ({e})",
                n.subnet, j.subnet
            ))),
        },
    };
    firewall::sync(ctx)?;
    // The node's own connections to the cluster's VIPs (`service::route`).
    crate::engine::service::route::sync(ctx)?;
    Ok((on_subnet, note))
}
