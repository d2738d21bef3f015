//! A mirror of one node's overlay entries, kept from rtnetlink notifications: VXLAN FDB
//! entries (AF_BRIDGE neighbours with a remote VTEP, RTNLGRP_NEIGH) and IPv4 routes of
//! the main table (RTNLGRP_IPV4_ROUTE). Each notification is stamped as it arrives.

use super::watched::{watch_netlink, Watched};
use ipnet::Ipv4Net;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage as M};
use netlink_sys::protocols::NETLINK_ROUTE;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

const RTNLGRP_NEIGH: u32 = 3;
const RTNLGRP_IPV4_ROUTE: u32 = 7;
const RT_TABLE_MAIN: u8 = 254;

#[derive(Default, Debug)]
pub struct Overlay {
    /// (MAC, remote VTEP) of every FDB entry with a remote.
    pub fdb: BTreeSet<([u8; 6], Ipv4Addr)>,
    /// Destinations of the main table's IPv4 routes.
    pub routes: BTreeSet<Ipv4Net>,
}

impl Overlay {
    /// Node at `vtep` with subnet `subnet` is installed: an FDB entry to its VTEP and a
    /// route to its subnet.
    pub fn has(&self, vtep: Ipv4Addr, subnet: Ipv4Net) -> bool {
        self.routes.contains(&subnet) && self.fdb.iter().any(|(_, d)| *d == vtep)
    }

    /// Neither its FDB entry nor its route is left.
    pub fn lacks(&self, vtep: Ipv4Addr, subnet: Ipv4Net) -> bool {
        !self.routes.contains(&subnet) && !self.fdb.iter().any(|(_, d)| *d == vtep)
    }
}

fn fdb_entry(n: &NeighbourMessage) -> Option<([u8; 6], Ipv4Addr)> {
    if n.header.family != AddressFamily::Bridge {
        return None;
    }
    let mut mac = None;
    let mut dst = None;
    for a in &n.attributes {
        match a {
            NeighbourAttribute::LinkLayerAddress(l) if l.len() == 6 => {
                mac = Some(<[u8; 6]>::try_from(&l[..]).ok()?)
            }
            NeighbourAttribute::Destination(NeighbourAddress::Other(b)) if b.len() == 4 => {
                dst = Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => dst = Some(*a),
            _ => {}
        }
    }
    Some((mac?, dst?))
}

fn route_dst(r: &RouteMessage) -> Option<Ipv4Net> {
    let table = r
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(r.header.table as u32);
    if table != RT_TABLE_MAIN as u32 {
        return None;
    }
    r.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(d)) => {
            Ipv4Net::new(*d, r.header.destination_prefix_length).ok()
        }
        _ => None,
    })
}

fn apply(o: &mut Overlay, m: M) {
    match m {
        M::NewNeighbour(n) => {
            if let Some(e) = fdb_entry(&n) {
                // A replace of the same MAC to another VTEP comes as a new entry.
                o.fdb.retain(|(mac, _)| *mac != e.0);
                o.fdb.insert(e);
            }
        }
        M::DelNeighbour(n) => {
            if let Some(e) = fdb_entry(&n) {
                o.fdb.remove(&e);
            }
        }
        M::NewRoute(r) => {
            if let Some(d) = route_dst(&r) {
                o.routes.insert(d);
            }
        }
        M::DelRoute(r) => {
            if let Some(d) = route_dst(&r) {
                o.routes.remove(&d);
            }
        }
        _ => {}
    }
}

/// Starts the watcher of the namespace at `netns`; returns once it is subscribed.
pub fn watch(netns: PathBuf, name: String) -> Result<Arc<Watched<Overlay>>, String> {
    watch_netlink(
        netns,
        name,
        NETLINK_ROUTE,
        &[RTNLGRP_NEIGH, RTNLGRP_IPV4_ROUTE],
        |datagram, at, mirror: &Watched<Overlay>| {
            let msgs = messages(datagram);
            mirror.apply(at, |o| msgs.into_iter().for_each(|m| apply(o, m)));
        },
    )
}

/// The rtnetlink messages of one datagram (those that do not parse are skipped).
fn messages(datagram: &[u8]) -> Vec<M> {
    let n = datagram.len();
    let mut off = 0;
    let mut msgs = Vec::new();
    while off + 16 <= n {
        let len = u32::from_ne_bytes(datagram[off..off + 4].try_into().unwrap()) as usize;
        if len < 16 || off + len > n {
            break;
        }
        if let Ok(m) = NetlinkMessage::<M>::deserialize(&datagram[off..off + len]) {
            if let NetlinkPayload::InnerMessage(m) = m.payload {
                msgs.push(m);
            }
        }
        off += (len + 3) & !3;
    }
    msgs
}
