//! The route that lets the host's own connections to a service VIP get past the route lookup
//! that happens before netfilter's DNAT: `ip route replace 10.43.0.0/16 dev <default bridge>`.
//! Not `local`/`dev lo`: VIPs would then count as host addresses, and published ports and node
//! ports (which match `fib daddr type local`) would catch VIP traffic
//! (docs/decisions/2026-11-27-service-layout.md). The IPv6 range gets the same route on the
//! bridge of a dual-stack network (its IPv6 gateway is then the source backends answer).
//!
//! A cluster node (issue 11) keeps the IPv4 route for as long as it is joined: its agent
//! renders the cluster's services (`ip podnet-csvc`, not in this store), and the default
//! network is the node's share of the pod network, so the node's own connections to a VIP
//! leave from its pod gateway address, which every other node routes back through the
//! overlay (no default route needed, no masquerade of the node's own traffic).

use crate::engine::{network, Ctx, DEFAULT_NETWORK};
use crate::kernel::route;
use crate::model::service::{default_service_range, default_service_range6};
use crate::model::Result;

/// The route present while any IPv4 service exists or the node is in a cluster, absent
/// otherwise.
pub fn sync(ctx: &mut Ctx) -> Result<()> {
    let range = default_service_range();
    if ctx.store.any_service4()? || crate::engine::overlay::network::joined(&ctx.root).is_some() {
        let net = network::resolve(ctx, DEFAULT_NETWORK)?;
        let bridge = network::bridge_index(ctx, &net)?;
        route::replace_dev(ctx.host()?, range, bridge)
    } else {
        route::delete(ctx.host()?, range)
    }
}

/// The IPv6 route present while any IPv6 service exists and a dual-stack network does (the
/// first one made); absent otherwise. Without it containers still reach IPv6 VIPs (DNAT
/// happens before their packets are routed); only the host's own connections need it.
pub fn sync6(ctx: &mut Ctx) -> Result<()> {
    let range = default_service_range6();
    if ctx.store.any_service6()? {
        let dual = ctx
            .store
            .networks()?
            .into_iter()
            .filter(super::check::has_ipv6)
            .min_by_key(|n| n.id);
        if let Some(net) = dual {
            let bridge = network::bridge_index(ctx, &net)?;
            return route::replace_dev(ctx.host()?, range, bridge);
        }
    }
    route::delete(ctx.host()?, range)
}
