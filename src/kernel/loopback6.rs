//! IPv6's stand-in for `route_localnet` on one podnet bridge: `local ::1 dev BRIDGE table
//! local metric 1024`.
//!
//! The host's own `[::1]:PORT` is DNAT'ed to a container and masqueraded out of the bridge;
//! the container's reply, de-NATed in prerouting, arrives on the bridge addressed to `::1`.
//! An input route lookup for a loopback address is strict about the incoming device
//! (`rt6_need_strict`), and the only `::1` route is on `lo`: without this route the reply is
//! "unreachable". Nothing else can use it: the kernel drops a packet to or from `::1` that
//! arrives on any device but `lo` before prerouting (`ip6_rcv_core`), so only a de-NATed
//! reply has that address here; the metric keeps `lo`'s own route first for everything else.
//! Why and what else was tried: `docs/decisions/2026-12-01-ipv6-netfilter.md`.

use super::nl::Rtnl;
use crate::model::Result;
use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage as M};
use std::net::Ipv6Addr;

const RT_TABLE_LOCAL: u8 = 255;
/// Behind `lo`'s own `::1` route (metric 0).
pub const METRIC: u32 = 1024;

fn message(oif: u32) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet6;
    m.header.table = RT_TABLE_LOCAL;
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = RouteScope::Host;
    m.header.kind = RouteType::Local;
    m.header.destination_prefix_length = 128;
    m.attributes
        .push(RouteAttribute::Destination(RouteAddress::Inet6(
            Ipv6Addr::LOCALHOST,
        )));
    m.attributes.push(RouteAttribute::Oif(oif));
    m.attributes.push(RouteAttribute::Priority(METRIC));
    m
}

/// Adds the route on the bridge with index `oif`. Idempotent; it goes with the bridge.
/// Appended: every dual-stack bridge has one, with the same key but its own device (a plain
/// add of the second one is EEXIST).
pub fn add(rtnl: &mut Rtnl, oif: u32) -> Result<()> {
    match rtnl.request(M::NewRoute(message(oif)), NLM_F_CREATE | NLM_F_APPEND)? {
        Err(e) if e.errno != libc::EEXIST => Err(crate::model::Error::kernel(
            format!("add route local ::1 via link #{oif}"),
            e.errno,
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_a_local_host_route_in_the_local_table() {
        let m = super::message(7);
        assert_eq!(m.header.table, super::RT_TABLE_LOCAL);
        assert_eq!(m.header.destination_prefix_length, 128);
        assert_eq!(m.header.kind, super::RouteType::Local);
    }
}
