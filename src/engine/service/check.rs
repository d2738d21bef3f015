//! The checks of `service create` that need the store: backends that exist, a VIP and node
//! ports no one else holds, and the VIP's allocation when none was asked for.

use crate::model::field::{BACKEND, NODE_PORT, VIP};
use crate::model::service::{
    check_service, check_vip6, default_service_range, default_service_range6, ServiceDef,
    ServiceRequest,
};
use crate::model::{Backend, Error, Labels, Result, Service};
use crate::store::Reads;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A checked `service create`: the service, its selector, its explicit backends.
type Checked = (ServiceDef, Option<Labels>, Vec<(String, Option<u16>)>);

pub fn check(conn: &dyn Reads, req: &ServiceRequest) -> Result<Checked> {
    for (name, _) in &req.backends {
        if conn.endpoint(name)?.is_none() {
            return Err(Error::input(format!(
                "{BACKEND} {name}: no container named '{name}': see `podnet ps`"
            )));
        }
    }
    let range = default_service_range();
    let taken = |ip: IpAddr| -> Result<()> {
        if let Some(owner) = conn.vip_taken(ip)? {
            return Err(Error::input(format!("{VIP} {ip} is already the address of service '{owner}': pick another or omit {VIP}")));
        }
        Ok(())
    };
    let vip = match (req.family.has_v4(), req.vip) {
        (false, _) => None,
        (true, Some(ip)) => {
            taken(ip.into())?;
            Some(ip)
        }
        (true, None) => Some(allocate_vip(conn)?),
    };
    let vip6 = match (req.family.has_v6(), req.vip6) {
        (false, _) => None,
        (true, Some(ip)) => {
            check_vip6(&req.name, ip, &default_service_range6())?;
            taken(ip.into())?;
            Some(ip)
        }
        (true, None) => Some(allocate_vip6(conn)?),
    };
    if vip6.is_some() {
        range6_clear_of_networks(conn)?;
    }
    let def = ServiceDef {
        name: req.name.clone(),
        ports: req.ports.clone(),
        affinity_timeout: req.affinity_timeout,
        vip,
        vip6,
    };
    // The checks of ports, backends and affinity are the same for every family: run them on
    // an IPv4 view (any address inside the range for an IPv6-only service).
    let service = Service {
        name: req.name.clone(),
        vip: vip.unwrap_or(Ipv4Addr::from(u32::from(range.network()) + 1)),
        ports: req.ports.clone(),
        affinity_timeout: req.affinity_timeout,
    };
    let probe: Vec<Backend> = req
        .backends
        .iter()
        .map(|(_, p)| Backend {
            ip: Ipv4Addr::UNSPECIFIED,
            port: *p,
        })
        .collect();
    check_service(&service, &probe, &range)?;
    for p in &service.ports {
        let Some(np) = p.node_port else { continue };
        if let Some(owner) = conn.node_port_owner(np, p.proto)? {
            return Err(Error::input(format!(
                "{NODE_PORT} {np}/{}: already used by service '{owner}'; pick another",
                p.proto
            )));
        }
        let m = crate::model::PortMapping {
            host_ip: None,
            host_port: np,
            container_port: np,
            proto: p.proto,
        };
        if let Some(c) = conn.port_holder(&m)? {
            return Err(Error::input(format!(
                "{NODE_PORT} {np}/{}: host port already published by container '{c}'; pick another",
                p.proto
            )));
        }
    }
    Ok((def, req.selector.clone(), req.backends.clone()))
}

/// Next free IPv6 VIP of `fd00:43::/112`, as [`allocate_vip`].
fn allocate_vip6(conn: &dyn Reads) -> Result<Ipv6Addr> {
    let range = default_service_range6();
    let (lo, hi) = (
        u128::from(range.network()) + 1,
        u128::from(range.broadcast()),
    );
    let after = conn.vip_after_highest(Ipv6Addr::from(lo).into(), Ipv6Addr::from(hi).into())?;
    if let Some(IpAddr::V6(ip)) = after {
        return Ok(ip);
    }
    for c in lo..=hi {
        if conn.vip_taken(Ipv6Addr::from(c).into())?.is_none() {
            return Ok(Ipv6Addr::from(c));
        }
    }
    Err(Error::input(format!(
        "the IPv6 service range {range} is full: remove a service"
    )))
}

/// The IPv6 service range must not be a network's: its VIPs would be containers' addresses.
fn range6_clear_of_networks(conn: &dyn Reads) -> Result<()> {
    let range = default_service_range6();
    for n in conn.networks()? {
        let Some(sub) = n.subnet6 else { continue };
        if sub.contains(&range.network()) || range.contains(&sub.network()) {
            return Err(Error::failed(format!(
                "network '{}' has the IPv6 subnet {sub}, which overlaps the IPv6 service range {range}: remove or re-create that network with another --subnet",
                n.name
            )));
        }
    }
    Ok(())
}

/// Next free VIP after the highest one in use (O(log n) with the index); a full scan only
/// when the range's top is reached.
fn allocate_vip(conn: &dyn Reads) -> Result<Ipv4Addr> {
    let range = default_service_range();
    let (lo, hi) = (
        u32::from(range.network()) + 1,
        u32::from(range.broadcast()) - 1,
    );
    let after = conn.vip_after_highest(Ipv4Addr::from(lo).into(), Ipv4Addr::from(hi).into())?;
    if let Some(IpAddr::V4(ip)) = after {
        return Ok(ip);
    }
    for c in lo..=hi {
        if conn.vip_taken(Ipv4Addr::from(c).into())?.is_none() {
            return Ok(Ipv4Addr::from(c));
        }
    }
    Err(Error::input(format!(
        "the service range {range} is full: remove a service"
    )))
}

/// Whether a network is dual-stack.
pub fn has_ipv6(n: &crate::model::Network) -> bool {
    n.subnet6.is_some()
}
