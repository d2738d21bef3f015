//! Interface addresses (`ip addr add`).

use super::nl::Rtnl;
use crate::model::{Error, Result};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage as M};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `ip addr add IP/PREFIX brd + dev INDEX`. Idempotent: an address already there is success.
pub fn add(rtnl: &mut Rtnl, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.prefix_len = prefix;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
    m.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
    if prefix < 31 {
        let host_bits = u32::MAX.checked_shr(prefix as u32).unwrap_or(0);
        m.attributes
            .push(AddressAttribute::Broadcast(Ipv4Addr::from(
                u32::from(ip) | host_bits,
            )));
    }
    match rtnl.request(M::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL)? {
        Ok(()) => Ok(()),
        Err(e) if e.errno == libc::EEXIST => Ok(()),
        Err(e) => Err(Error::kernel(format!("add address {ip}/{prefix}"), e.errno)),
    }
}

/// `ip -6 addr add IP/PREFIX dev INDEX nodad`: usable at once (no duplicate address
/// detection: podnet hands each address out once, and DAD would hold it tentative for a
/// second or more, during which it cannot be a source). Idempotent.
pub fn add6(rtnl: &mut Rtnl, index: u32, ip: Ipv6Addr, prefix: u8) -> Result<()> {
    use netlink_packet_route::address::{AddressFlags, AddressHeaderFlags};
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet6;
    m.header.prefix_len = prefix;
    m.header.index = index;
    m.header.flags = AddressHeaderFlags::Nodad;
    m.attributes.push(AddressAttribute::Address(IpAddr::V6(ip)));
    m.attributes
        .push(AddressAttribute::Flags(AddressFlags::Nodad));
    match rtnl.request(M::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL)? {
        Ok(()) => Ok(()),
        Err(e) if e.errno == libc::EEXIST => Ok(()),
        Err(e) => Err(Error::kernel(format!("add address {ip}/{prefix}"), e.errno)),
    }
}

/// IPv4 addresses of the namespace as (link index, address, prefix) — `ip -4 addr`.
pub fn list(rtnl: &mut Rtnl) -> Result<Vec<(u32, Ipv4Addr, u8)>> {
    let mut q = AddressMessage::default();
    q.header.family = AddressFamily::Inet;
    let mut out = Vec::new();
    for m in rtnl.dump(M::GetAddress(q))? {
        let M::NewAddress(a) = m else { continue };
        for attr in &a.attributes {
            if let AddressAttribute::Local(IpAddr::V4(ip)) = attr {
                out.push((a.header.index, *ip, a.header.prefix_len));
            }
        }
    }
    Ok(out)
}

/// IPv6 addresses of the namespace as (link index, address, prefix) — `ip -6 addr`.
pub fn list6(rtnl: &mut Rtnl) -> Result<Vec<(u32, Ipv6Addr, u8)>> {
    let mut q = AddressMessage::default();
    q.header.family = AddressFamily::Inet6;
    let mut out = Vec::new();
    for m in rtnl.dump(M::GetAddress(q))? {
        let M::NewAddress(a) = m else { continue };
        for attr in &a.attributes {
            if let AddressAttribute::Address(IpAddr::V6(ip)) = attr {
                out.push((a.header.index, *ip, a.header.prefix_len));
            }
        }
    }
    Ok(out)
}

/// Addresses of both families as (link index, address, prefix) — `ip addr`: one
/// AF_UNSPEC dump, where [`list`] and [`list6`] are two, parsed undecoded
/// ([`Rtnl::dump_raw`]): the graph reads every container's namespace.
pub fn list_all(rtnl: &mut Rtnl) -> Result<Vec<(u32, IpAddr, u8)>> {
    rtnl.dump_raw(M::GetAddress(AddressMessage::default()), parse_raw)
}

/// An undecoded RTM_NEWADDR payload (`ifaddrmsg`, then attributes): the attribute each
/// family's listing above reads — IPv4's local address (on a point-to-point link
/// IFA_ADDRESS is the peer's), IPv6's only one.
pub(super) fn parse_raw(kind: u16, p: &[u8]) -> Option<(u32, IpAddr, u8)> {
    use super::nl::{attrs, field_u32};
    const RTM_NEWADDR: u16 = 20;
    const IFADDRMSG: usize = 8;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    if kind != RTM_NEWADDR || p.len() < IFADDRMSG {
        return None;
    }
    let (family, prefix, index) = (p[0] as i32, p[1], field_u32(p, 4)?);
    let ip = attrs(&p[IFADDRMSG..]).find_map(|(t, v)| match (family, t) {
        (libc::AF_INET, IFA_LOCAL) => <[u8; 4]>::try_from(v).ok().map(IpAddr::from),
        (libc::AF_INET6, IFA_ADDRESS) => <[u8; 16]>::try_from(v).ok().map(IpAddr::from),
        _ => None,
    })?;
    Some((index, ip, prefix))
}

/// `ip addr del IP/PREFIX dev INDEX`. Idempotent: an address already gone is success.
pub fn delete(rtnl: &mut Rtnl, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.prefix_len = prefix;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
    match rtnl.request(M::DelAddress(m), 0)? {
        Ok(()) => Ok(()),
        Err(e) if e.errno == libc::EADDRNOTAVAIL || e.errno == libc::ENODEV => Ok(()),
        Err(e) => Err(Error::kernel(
            format!("delete address {ip}/{prefix}"),
            e.errno,
        )),
    }
}
