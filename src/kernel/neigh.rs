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

/// One IPv4 neighbour entry (`ip -4 neigh show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    pub ifindex: u32,
    pub ip: Ipv4Addr,
    pub mac: Option<[u8; 6]>,
    /// Installed by hand (`nud permanent`), never aged out or re-resolved.
    pub permanent: bool,
}

/// `ip neigh replace IP lladdr MAC dev INDEX nud permanent`. Idempotent.
pub fn replace_permanent(rtnl: &mut Rtnl, index: u32, ip: Ipv4Addr, mac: [u8; 6]) -> Result<()> {
    use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
    use netlink_packet_route::neighbour::NeighbourState;
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.ifindex = index;
    m.header.state = NeighbourState::Permanent;
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    rtnl.call(
        &format!(
            "neighbour {ip} lladdr {} on link #{index}",
            crate::model::Mac(mac)
        ),
        M::NewNeighbour(m),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// Every IPv4 neighbour entry of the namespace (`ip -4 neigh show`); callers keep those of
/// their device.
pub fn list(rtnl: &mut Rtnl) -> Result<Vec<Neighbour>> {
    use netlink_packet_route::neighbour::NeighbourState;
    let mut q = NeighbourMessage::default();
    q.header.family = AddressFamily::Inet;
    let mut out = Vec::new();
    for m in rtnl.dump(M::GetNeighbour(q))? {
        let M::NewNeighbour(n) = m else { continue };
        let mut ip = None;
        let mut mac = None;
        for a in &n.attributes {
            match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => ip = Some(*a),
                NeighbourAttribute::LinkLayerAddress(l) if l.len() == 6 => {
                    let mut b = [0u8; 6];
                    b.copy_from_slice(l);
                    mac = Some(b);
                }
                _ => {}
            }
        }
        if let Some(ip) = ip {
            out.push(Neighbour {
                ifindex: n.header.ifindex,
                ip,
                mac,
                permanent: n.header.state == NeighbourState::Permanent,
            });
        }
    }
    Ok(out)
}

/// Whether the namespace holds an entry for `ip` (either family) that never resolved:
/// `INCOMPLETE` (still asking) or `FAILED` (no answer), i.e. a packet to it waits or dies
/// in the neighbour layer, after every netfilter hook of the sender.
pub fn unresolved(rtnl: &mut Rtnl, ip: std::net::IpAddr) -> Result<bool> {
    use netlink_packet_route::neighbour::NeighbourState;
    let mut q = NeighbourMessage::default();
    q.header.family = match ip {
        std::net::IpAddr::V4(_) => AddressFamily::Inet,
        std::net::IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let want = match ip {
        std::net::IpAddr::V4(a) => NeighbourAddress::Inet(a),
        std::net::IpAddr::V6(a) => NeighbourAddress::Inet6(a),
    };
    Ok(rtnl.dump(M::GetNeighbour(q))?.into_iter().any(|m| {
        let M::NewNeighbour(n) = m else { return false };
        matches!(
            n.header.state,
            NeighbourState::Incomplete | NeighbourState::Failed
        ) && n
            .attributes
            .iter()
            .any(|a| *a == NeighbourAttribute::Destination(want.clone()))
    }))
}
