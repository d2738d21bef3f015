//! Neighbour (ARP) entries (`ip neigh` equivalents, over netlink).

use super::nl::Rtnl;
use crate::model::{Error, Result};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage as M};
use std::net::Ipv4Addr;

/// `ip neigh del IP dev INDEX`: forget the link-layer address cached for `ip`. Idempotent: no
/// entry is success.
pub fn forget(rtnl: &mut Rtnl, index: u32, ip: Ipv4Addr) -> Result<()> {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.ifindex = index;
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
    match rtnl.request(M::DelNeighbour(m), 0)? {
        Ok(()) => Ok(()),
        Err(e) if e.errno == libc::ENOENT => Ok(()),
        Err(e) => Err(Error::kernel(
            format!("forget neighbour {ip} on link #{index}"),
            e.errno,
        )),
    }
}
