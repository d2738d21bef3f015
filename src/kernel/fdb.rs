//! Forwarding database entries of a VXLAN device (`bridge fdb … dev VX self`, over netlink):
//! which remote VTEP (underlay address) an inner destination MAC is sent to.

use super::nl::Rtnl;
use crate::model::{Error, Result};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage as M};
use std::net::Ipv4Addr;

/// One FDB entry: frames to `mac` leaving `ifindex` go to the VTEP at `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FdbEntry {
    pub ifindex: u32,
    pub mac: [u8; 6],
    /// The remote VTEP; `None` for entries that have none (a bridge's own entries).
    pub dst: Option<Ipv4Addr>,
}

fn message(ifindex: u32, mac: [u8; 6], dst: Ipv4Addr) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Bridge;
    m.header.ifindex = ifindex;
    // NTF_SELF: the entry belongs to the device's own table (the VXLAN driver's), not to a
    // bridge it might be a port of.
    m.header.flags = NeighbourFlags::Own;
    m.header.state = NeighbourState::Permanent;
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(dst)));
    m
}

fn mac_text(mac: [u8; 6]) -> String {
    crate::model::Mac(mac).to_string()
}

/// `bridge fdb replace MAC dev INDEX dst DST self permanent`: `mac` goes to `dst` only (a
/// replace drops any other remote the entry had). Idempotent.
pub fn replace(rtnl: &mut Rtnl, ifindex: u32, mac: [u8; 6], dst: Ipv4Addr) -> Result<()> {
    rtnl.call(
        &format!("fdb entry {} dst {dst} on link #{ifindex}", mac_text(mac)),
        M::NewNeighbour(message(ifindex, mac, dst)),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// `bridge fdb del MAC dev INDEX dst DST self`. Idempotent: no such entry is success.
pub fn delete(rtnl: &mut Rtnl, ifindex: u32, mac: [u8; 6], dst: Ipv4Addr) -> Result<()> {
    match rtnl.request(M::DelNeighbour(message(ifindex, mac, dst)), 0)? {
        Ok(()) => Ok(()),
        Err(e) if e.errno == libc::ENOENT || e.errno == libc::ENODEV => Ok(()),
        Err(e) => Err(Error::kernel(
            format!("delete fdb entry {} dst {dst}", mac_text(mac)),
            e.errno,
        )),
    }
}

/// Every FDB entry of the namespace (`bridge fdb show`); callers keep those of their device
/// (the dump cannot be narrowed to one VXLAN device on every kernel).
pub fn list(rtnl: &mut Rtnl) -> Result<Vec<FdbEntry>> {
    let mut q = NeighbourMessage::default();
    q.header.family = AddressFamily::Bridge;
    let mut out = Vec::new();
    for m in rtnl.dump(M::GetNeighbour(q))? {
        let M::NewNeighbour(n) = m else { continue };
        let mut mac = None;
        let mut dst = None;
        for a in &n.attributes {
            match a {
                NeighbourAttribute::LinkLayerAddress(l) if l.len() == 6 => {
                    let mut b = [0u8; 6];
                    b.copy_from_slice(l);
                    mac = Some(b);
                }
                // AF_BRIDGE messages leave NDA_DST undecoded; an IPv4 VTEP is 4 bytes.
                NeighbourAttribute::Destination(NeighbourAddress::Other(b)) if b.len() == 4 => {
                    dst = Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => dst = Some(*a),
                _ => {}
            }
        }
        if let Some(mac) = mac {
            out.push(FdbEntry {
                ifindex: n.header.ifindex,
                mac,
                dst,
            });
        }
    }
    Ok(out)
}
