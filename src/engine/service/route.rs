//! The route that lets the host's own connections to a service VIP get past the route lookup
//! that happens before netfilter's DNAT: `ip route replace 10.43.0.0/16 dev <default bridge>`.
//! Not `local`/`dev lo`: VIPs would then count as host addresses, and published ports and node
//! ports (which match `fib daddr type local`) would catch VIP traffic
//! (docs/decisions/2026-11-27-service-layout.md).

use crate::engine::{network, Ctx, DEFAULT_NETWORK};
use crate::kernel::route;
use crate::model::service::default_service_range;
use crate::model::Result;

/// The route present while any service exists, absent otherwise.
pub fn sync(ctx: &mut Ctx) -> Result<()> {
    let range = default_service_range();
    if ctx.store.any_service()? {
        let net = network::resolve(ctx, DEFAULT_NETWORK)?;
        let bridge = network::bridge_index(ctx, &net)?;
        route::replace_dev(ctx.host()?, range, bridge)
    } else {
        route::delete(ctx.host()?, range)
    }
}
