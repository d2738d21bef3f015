//! Routes: the default route of a container, and reading the host's table to keep podnet's
//! subnets off ranges the host already reaches.

use super::nl::Rtnl;
use crate::model::Result;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
    RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage as M};
use std::net::{IpAddr, Ipv4Addr};

const RT_TABLE_LOCAL: u8 = 255;

/// `ip route add default via GW` / `ip -6 route add default via GW`. Idempotent.
pub fn add_default(rtnl: &mut Rtnl, gateway: impl Into<IpAddr>) -> Result<()> {
    let gateway = gateway.into();
    let mut m = RouteMessage::default();
    let (family, via) = match gateway {
        IpAddr::V4(a) => (AddressFamily::Inet, RouteAddress::Inet(a)),
        IpAddr::V6(a) => (AddressFamily::Inet6, RouteAddress::Inet6(a)),
    };
    m.header.address_family = family;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unicast;
    m.attributes.push(RouteAttribute::Gateway(via));
    match rtnl.request(M::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)? {
        Err(e) if e.errno != libc::EEXIST => Err(crate::model::Error::kernel(
            format!("add default route via {gateway}"),
            e.errno,
        )),
        _ => Ok(()),
    }
}

/// Destinations (address, prefix length) of the host's routes of one family, except default
/// routes and the local table (which only mirrors the host's own addresses and loopback).
fn non_local_destinations(
    rtnl: &mut Rtnl,
    family: AddressFamily,
) -> Result<Vec<(RouteAddress, u8)>> {
    let mut q = RouteMessage::default();
    q.header.address_family = family;
    let mut out = Vec::new();
    for m in rtnl.dump(M::GetRoute(q))? {
        let M::NewRoute(r) = m else { continue };
        if r.header.table == RT_TABLE_LOCAL || r.header.destination_prefix_length == 0 {
            continue;
        }
        let table = r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        });
        if table == Some(RT_TABLE_LOCAL as u32) {
            continue;
        }
        for a in r.attributes {
            if let RouteAttribute::Destination(d) = a {
                out.push((d, r.header.destination_prefix_length));
            }
        }
    }
    Ok(out)
}

/// Destinations of the host's IPv6 routes, as [`destinations`] for IPv4; link-local and
/// multicast routes are left out too (those ranges are refused as subnets anyway, and every
/// interface has them).
pub fn destinations6(rtnl: &mut Rtnl) -> Result<Vec<Ipv6Net>> {
    let all = non_local_destinations(rtnl, AddressFamily::Inet6)?;
    Ok(all
        .into_iter()
        .filter_map(|(d, len)| match d {
            RouteAddress::Inet6(a) => Ipv6Net::new(a, len).ok().map(|n| n.trunc()),
            _ => None,
        })
        .filter(|n| crate::model::inet6::special6_overlap(n).is_none())
        .collect())
}

/// Destinations of the host's IPv4 routes, except default routes and the local table.
pub fn destinations(rtnl: &mut Rtnl) -> Result<Vec<Ipv4Net>> {
    let all = non_local_destinations(rtnl, AddressFamily::Inet)?;
    Ok(all
        .into_iter()
        .filter_map(|(d, len)| match d {
            RouteAddress::Inet(a) => Ipv4Net::new(a, len).ok().map(|n| n.trunc()),
            _ => None,
        })
        .collect())
}

/// A route of the main table, as `ip route` shows it.
#[derive(Debug, Clone)]
pub struct Route {
    pub dst: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
    pub oif: Option<u32>,
    /// `onlink`: the gateway is taken to be on the link, whatever the link's addresses say.
    pub onlink: bool,
}

/// IPv4 routes of the main table (`ip route`). Parsed undecoded ([`Rtnl::dump_raw`]): the
/// graph dumps every container's namespace, and a host's table grows with its networks.
pub fn list(rtnl: &mut Rtnl) -> Result<Vec<Route>> {
    let mut q = RouteMessage::default();
    q.header.address_family = AddressFamily::Inet;
    rtnl.dump_raw(M::GetRoute(q), parse_raw)
}

/// An undecoded RTM_NEWROUTE payload (`rtmsg`, then attributes) as a [`Route`], when it is
/// an IPv4 route of the main table.
pub(super) fn parse_raw(kind: u16, p: &[u8]) -> Option<Route> {
    use super::nl::{attr_u32, attrs, field_u32};
    const RTM_NEWROUTE: u16 = 24;
    const RTMSG: usize = 12;
    const RTA_DST: u16 = 1;
    const RTA_OIF: u16 = 4;
    const RTA_GATEWAY: u16 = 5;
    if kind != RTM_NEWROUTE || p.len() < RTMSG || p[0] != libc::AF_INET as u8 {
        return None;
    }
    if p[4] != RouteHeader::RT_TABLE_MAIN {
        return None;
    }
    let v4 = |v: &[u8]| <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from);
    let mut route = Route {
        dst: Ipv4Net::default(),
        gateway: None,
        oif: None,
        onlink: field_u32(p, 8)? & RouteFlags::Onlink.bits() != 0,
    };
    for (t, v) in attrs(&p[RTMSG..]) {
        match t {
            RTA_DST => {
                route.dst = v4(v)
                    .and_then(|d| Ipv4Net::new(d, p[1]).ok())
                    .unwrap_or_default()
            }
            RTA_GATEWAY => route.gateway = v4(v),
            RTA_OIF => route.oif = attr_u32(v),
            _ => {}
        }
    }
    Some(route)
}

/// A route to `dst` through link `oif` in the main table. An IPv4 one is scoped to the link,
/// as `ip route add DST dev OIF` makes it; the kernel keeps no scope for IPv6 routes (it
/// reports `universe` for all), so an IPv6 one asks for that.
fn dev_route(dst: IpNet, oif: Option<u32>) -> RouteMessage {
    let mut m = RouteMessage::default();
    let (family, scope, addr) = match dst {
        IpNet::V4(n) => (
            AddressFamily::Inet,
            RouteScope::Link,
            RouteAddress::Inet(n.network()),
        ),
        IpNet::V6(n) => (
            AddressFamily::Inet6,
            RouteScope::Universe,
            RouteAddress::Inet6(n.network()),
        ),
    };
    m.header.address_family = family;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = scope;
    m.header.kind = RouteType::Unicast;
    m.header.destination_prefix_length = dst.prefix_len();
    m.attributes.push(RouteAttribute::Destination(addr));
    if let Some(oif) = oif {
        m.attributes.push(RouteAttribute::Oif(oif));
    }
    m
}

/// `ip route replace DST dev OIF` / `ip -6 route replace DST dev OIF`. Idempotent.
pub fn replace_dev(rtnl: &mut Rtnl, dst: impl Into<IpNet>, oif: u32) -> Result<()> {
    use netlink_packet_core::NLM_F_REPLACE;
    let dst = dst.into();
    rtnl.call(
        &format!("route {dst} via link #{oif}"),
        M::NewRoute(dev_route(dst, Some(oif))),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// `ip route replace DST dev OIF src SRC`: a macvlan network's host shim route to its
/// containers' range, answered from the host's own address on the LAN (the shim has none of
/// its own; without `src` the kernel could pick another link's address, e.g. a podnet
/// bridge's, which the containers would send back to their LAN gateway). Idempotent.
pub fn replace_dev_src(rtnl: &mut Rtnl, dst: Ipv4Net, oif: u32, src: Ipv4Addr) -> Result<()> {
    use netlink_packet_core::NLM_F_REPLACE;
    let mut m = dev_route(IpNet::V4(dst), Some(oif));
    m.attributes
        .push(RouteAttribute::PrefSource(RouteAddress::Inet(src)));
    rtnl.call(
        &format!("route {dst} via link #{oif} src {src}"),
        M::NewRoute(m),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// `ip route replace DST via GATEWAY dev OIF onlink`: the overlay's route to a remote node's
/// pod subnet, through the remote's VXLAN address, which no local address shares a prefix
/// with (hence `onlink`). Idempotent.
pub fn replace_onlink(rtnl: &mut Rtnl, dst: Ipv4Net, gateway: Ipv4Addr, oif: u32) -> Result<()> {
    use netlink_packet_core::NLM_F_REPLACE;
    rtnl.call(
        &format!("route {dst} via {gateway} dev #{oif} onlink"),
        M::NewRoute(onlink_route(dst, gateway, oif)),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// `ip route add DST via GATEWAY dev OIF onlink`: fails with EEXIST when any link has a
/// route to `dst` of the same metric (a replace would silently take it over).
pub fn add_onlink(rtnl: &mut Rtnl, dst: Ipv4Net, gateway: Ipv4Addr, oif: u32) -> Result<()> {
    rtnl.call(
        &format!("route {dst} via {gateway} dev #{oif} onlink"),
        M::NewRoute(onlink_route(dst, gateway, oif)),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

fn onlink_route(dst: Ipv4Net, gateway: Ipv4Addr, oif: u32) -> RouteMessage {
    let mut m = dev_route(IpNet::V4(dst), Some(oif));
    m.header.scope = RouteScope::Universe;
    m.header.flags = RouteFlags::Onlink;
    m.attributes
        .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
    m
}

/// `ip route del DST dev OIF`: only the route through that link, never another link's
/// route to the same destination. Idempotent: a missing route is success.
pub fn delete_on(rtnl: &mut Rtnl, dst: Ipv4Net, oif: u32) -> Result<()> {
    let mut m = dev_route(IpNet::V4(dst), Some(oif));
    m.header.scope = RouteScope::NoWhere;
    match rtnl.request(M::DelRoute(m), 0)? {
        Err(e) if e.errno != libc::ESRCH => Err(crate::model::Error::kernel(
            format!("delete route {dst} dev #{oif}"),
            e.errno,
        )),
        _ => Ok(()),
    }
}

/// `ip route del DST` / `ip -6 route del DST`. Idempotent: a missing route is success.
pub fn delete(rtnl: &mut Rtnl, dst: impl Into<IpNet>) -> Result<()> {
    let dst = dst.into();
    let mut m = dev_route(dst, None);
    if dst.addr().is_ipv4() {
        // IPv4 matches the scope of the route to delete: `nowhere` matches any.
        m.header.scope = RouteScope::NoWhere;
    }
    match rtnl.request(M::DelRoute(m), 0)? {
        Err(e) if e.errno != libc::ESRCH => Err(crate::model::Error::kernel(
            format!("delete route {dst}"),
            e.errno,
        )),
        _ => Ok(()),
    }
}

/// The kernel's routing decision for one packet (`ip route get DST [from SRC iif DEV]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `unicast`, `local`, `unreachable`, ... as `ip route` names them.
    pub kind: String,
    pub oif: Option<u32>,
    pub gateway: Option<Ipv4Addr>,
    /// The source address the kernel would pick.
    pub prefsrc: Option<Ipv4Addr>,
}

/// RTM_GETROUTE for `dst` (from `src` arriving on `iif`, when given): `Ok(None)` when the
/// kernel has no route (ENETUNREACH, EHOSTUNREACH, EINVAL for a refused source).
pub fn get(
    rtnl: &mut Rtnl,
    dst: Ipv4Addr,
    src: Option<Ipv4Addr>,
    iif: Option<u32>,
) -> Result<Option<Decision>> {
    let mut q = RouteMessage::default();
    q.header.address_family = AddressFamily::Inet;
    q.header.destination_prefix_length = 32;
    q.attributes
        .push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
    if let Some(s) = src {
        q.header.source_prefix_length = 32;
        q.attributes
            .push(RouteAttribute::Source(RouteAddress::Inet(s)));
    }
    if let Some(i) = iif {
        q.attributes.push(RouteAttribute::Iif(i));
    }
    let mut found = None;
    match rtnl.get(M::GetRoute(q), |m| {
        if let M::NewRoute(r) = m {
            let mut d = Decision {
                kind: format!("{:?}", r.header.kind).to_lowercase(),
                oif: None,
                gateway: None,
                prefsrc: None,
            };
            for a in &r.attributes {
                match a {
                    RouteAttribute::Oif(i) => d.oif = Some(*i),
                    RouteAttribute::Gateway(RouteAddress::Inet(g)) => d.gateway = Some(*g),
                    RouteAttribute::PrefSource(RouteAddress::Inet(p)) => d.prefsrc = Some(*p),
                    _ => {}
                }
            }
            found = Some(d);
        }
    })? {
        Ok(()) => Ok(found),
        Err(e)
            if [
                libc::ENETUNREACH,
                libc::EHOSTUNREACH,
                libc::EINVAL,
                libc::EACCES,
            ]
            .contains(&e.errno) =>
        {
            Ok(None)
        }
        Err(e) => Err(crate::model::Error::kernel("get route", e.errno)),
    }
}
