//! Parsing and checking `podnet service create`: everything that can be refused before the
//! store or the kernel is touched.

use crate::model::service::{self as model, default_service_range, NODE_PORT_RANGE};
use crate::model::{Backend, Error, Labels, Result, Service};
use crate::store::services as rows;
use crate::store::{endpoints, ports};
use rusqlite::Connection;
use std::net::Ipv4Addr;

/// What the user asked for in `service create`, unparsed.
#[derive(Debug, Default)]
pub struct ServiceSpec {
    pub name: String,
    pub ports: Vec<String>,
    pub vip: Option<String>,
    pub selector: Option<String>,
    pub backends: Vec<String>,
    pub affinity: Option<String>,
    pub affinity_timeout: Option<String>,
    pub node_port: Option<String>,
}

/// A parsed `service create`: the service, its selector, its explicit backends.
type Parsed = (Service, Option<Labels>, Vec<(String, Option<u16>)>);

pub fn parse(conn: &Connection, spec: &ServiceSpec) -> Result<Parsed> {
    crate::model::validate_name("service", &spec.name)?;
    if spec.ports.is_empty() {
        return Err(Error::input(format!(
            "service {}: no port given; add --port PORT[:TARGETPORT][/PROTO]",
            spec.name
        )));
    }
    let mut ports = spec
        .ports
        .iter()
        .map(|p| model::parse_service_port(p))
        .collect::<Result<Vec<_>>>()?;
    if let Some(np) = &spec.node_port {
        let n: u16 = np.parse().map_err(|_| {
            Error::input(format!(
                "invalid --node-port {np:?}: give a port number in {}-{}",
                NODE_PORT_RANGE.start(),
                NODE_PORT_RANGE.end()
            ))
        })?;
        model::with_node_port(&mut ports, n, &NODE_PORT_RANGE)?;
    }
    let affinity_timeout = match (spec.affinity.as_deref(), &spec.affinity_timeout) {
        (None | Some("none"), None) => None,
        (Some("client-ip" | "clientip" | "ClientIP"), t) => Some(
            t.as_deref()
                .map(model::parse_affinity_timeout)
                .transpose()?
                .unwrap_or(model::DEFAULT_AFFINITY_TIMEOUT),
        ),
        (None | Some("none"), Some(_)) => {
            return Err(Error::input(
                "--affinity-timeout needs --affinity client-ip",
            ))
        }
        (Some(a), _) => {
            return Err(Error::input(format!(
                "invalid --affinity {a:?}: use client-ip or none"
            )))
        }
    };
    if spec.selector.is_some() && !spec.backends.is_empty() {
        return Err(Error::input(
            "give either --selector or --backend, not both",
        ));
    }
    let selector = spec
        .selector
        .as_deref()
        .map(model::parse_selector)
        .transpose()?;
    let backends = spec
        .backends
        .iter()
        .map(|b| model::parse_backend(b))
        .collect::<Result<Vec<_>>>()?;
    for (i, (name, _)) in backends.iter().enumerate() {
        // One container is one backend (and one row): a second port for it is a second
        // service port, not a second backend.
        if backends[..i].iter().any(|(n, _)| n == name) {
            return Err(Error::field(
                "--backend",
                format!("--backend {name} is given twice: give each container once"),
            ));
        }
        if endpoints::get(conn, name)?.is_none() {
            return Err(Error::input(format!(
                "--backend {name}: no container named '{name}': see `podnet ps`"
            )));
        }
    }
    let range = default_service_range();
    let vip = match &spec.vip {
        Some(v) => {
            let ip = crate::model::parse_ipv4("--vip", v)?;
            if let Some(owner) = rows::vip_taken(conn, ip)? {
                return Err(Error::input(format!("--vip {ip} is already the address of service '{owner}': pick another or omit --vip")));
            }
            ip
        }
        None => allocate_vip(conn)?,
    };
    let service = Service {
        name: spec.name.clone(),
        vip,
        ports,
        affinity_timeout,
    };
    let probe: Vec<Backend> = backends
        .iter()
        .map(|(_, p)| Backend {
            ip: Ipv4Addr::UNSPECIFIED,
            port: *p,
        })
        .collect();
    model::check_service(&service, &probe, &range)?;
    for p in &service.ports {
        let Some(np) = p.node_port else { continue };
        if let Some(owner) = rows::node_port_owner(conn, np, p.proto)? {
            return Err(Error::input(format!(
                "--node-port {np}/{}: already used by service '{owner}'; pick another",
                p.proto
            )));
        }
        let m = crate::model::PortMapping {
            host_ip: None,
            host_port: np,
            container_port: np,
            proto: p.proto,
        };
        if let Some(c) = ports::conflict(conn, &m)? {
            return Err(Error::input(format!(
                "--node-port {np}/{}: host port already published by container '{c}'; pick another",
                p.proto
            )));
        }
    }
    Ok((service, selector, backends))
}

/// Next free VIP after the highest one in use (O(log n) with the index); a full scan only
/// when the range's top is reached.
fn allocate_vip(conn: &Connection) -> Result<Ipv4Addr> {
    let range = default_service_range();
    let (lo, hi) = (
        u32::from(range.network()) + 1,
        u32::from(range.broadcast()) - 1,
    );
    if let Some(ip) = rows::vip_after_highest(conn, lo, hi)? {
        return Ok(ip);
    }
    for c in lo..=hi {
        if rows::vip_taken(conn, Ipv4Addr::from(c))?.is_none() {
            return Ok(Ipv4Addr::from(c));
        }
    }
    Err(Error::input(format!(
        "the service range {range} is full: remove a service"
    )))
}
