//! The checks of `service create` that need the store: backends that exist, a VIP and node
//! ports no one else holds, and the VIP's allocation when none was asked for.

use crate::model::field::{BACKEND, NODE_PORT, VIP};
use crate::model::service::{check_service, default_service_range, ServiceRequest};
use crate::model::{Backend, Error, Labels, Result, Service};
use crate::store::Reads;
use std::net::{IpAddr, Ipv4Addr};

/// A checked `service create`: the service, its selector, its explicit backends.
type Checked = (Service, Option<Labels>, Vec<(String, Option<u16>)>);

pub fn check(conn: &dyn Reads, req: &ServiceRequest) -> Result<Checked> {
    for (name, _) in &req.backends {
        if conn.endpoint(name)?.is_none() {
            return Err(Error::input(format!(
                "{BACKEND} {name}: no container named '{name}': see `podnet ps`"
            )));
        }
    }
    let range = default_service_range();
    let vip = match req.vip {
        Some(ip) => {
            if let Some(owner) = conn.vip_taken(ip.into())? {
                return Err(Error::input(format!("{VIP} {ip} is already the address of service '{owner}': pick another or omit {VIP}")));
            }
            ip
        }
        None => allocate_vip(conn)?,
    };
    let service = Service {
        name: req.name.clone(),
        vip,
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
    Ok((service, req.selector.clone(), req.backends.clone()))
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
