//! `service create` as typed data: [`ServiceSpec`] is what a front end was given (strings),
//! [`ServiceRequest`] what the engine takes. Everything that can be refused without looking
//! at the store is refused here. Pure.

use super::{
    parse_affinity_timeout, parse_backend, parse_selector, parse_service_port, resolve_vips,
    with_node_port, IpFamilies, DEFAULT_AFFINITY_TIMEOUT, NODE_PORT_RANGE,
};
use crate::model::{Error, Labels, Result, ServicePort};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the user asked for in `service create`, unparsed.
#[derive(Debug, Default)]
pub struct ServiceSpec {
    pub name: String,
    pub ports: Vec<String>,
    /// `--vip`, at most one per family.
    pub vips: Vec<String>,
    /// `--ip-family`; None: decided by the VIPs, IPv4 without any.
    pub ip_family: Option<String>,
    pub selector: Option<String>,
    pub backends: Vec<String>,
    pub affinity: Option<String>,
    pub affinity_timeout: Option<String>,
    pub node_port: Option<String>,
}

/// A service to create, parsed: the engine allocates the VIP when none is given and checks
/// the rest against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    pub name: String,
    pub ports: Vec<ServicePort>,
    pub family: IpFamilies,
    pub vip: Option<Ipv4Addr>,
    pub vip6: Option<Ipv6Addr>,
    pub selector: Option<Labels>,
    /// Explicit backends: (container name, port override), each container once.
    pub backends: Vec<(String, Option<u16>)>,
    pub affinity_timeout: Option<u32>,
}

impl ServiceSpec {
    pub fn parse(&self) -> Result<ServiceRequest> {
        crate::model::validate_name("service", &self.name)?;
        if self.ports.is_empty() {
            return Err(Error::input(format!(
                "service {}: no port given; add --port PORT[:TARGETPORT][/PROTO]",
                self.name
            )));
        }
        let mut ports = self
            .ports
            .iter()
            .map(|p| parse_service_port(p))
            .collect::<Result<Vec<_>>>()?;
        if let Some(np) = &self.node_port {
            let n: u16 = np.parse().map_err(|_| {
                Error::input(format!(
                    "invalid --node-port {np:?}: give a port number in {}-{}",
                    NODE_PORT_RANGE.start(),
                    NODE_PORT_RANGE.end()
                ))
            })?;
            with_node_port(&mut ports, n, &NODE_PORT_RANGE)?;
        }
        let affinity_timeout = match (self.affinity.as_deref(), &self.affinity_timeout) {
            (None | Some("none"), None) => None,
            (Some("client-ip" | "clientip" | "ClientIP"), t) => Some(
                t.as_deref()
                    .map(parse_affinity_timeout)
                    .transpose()?
                    .unwrap_or(DEFAULT_AFFINITY_TIMEOUT),
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
        if self.selector.is_some() && !self.backends.is_empty() {
            return Err(Error::input(
                "give either --selector or --backend, not both",
            ));
        }
        let selector = self.selector.as_deref().map(parse_selector).transpose()?;
        let backends = self
            .backends
            .iter()
            .map(|b| parse_backend(b))
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
        }
        let family = self
            .ip_family
            .as_deref()
            .map(IpFamilies::parse)
            .transpose()?;
        let vips = self
            .vips
            .iter()
            .map(|v| parse_vip(v))
            .collect::<Result<Vec<_>>>()?;
        let (family, vip, vip6) = resolve_vips(family, &vips)?;
        Ok(ServiceRequest {
            name: self.name.clone(),
            ports,
            family,
            vip,
            vip6,
            selector,
            backends,
            affinity_timeout,
        })
    }
}

/// `--vip`: canonical dotted IPv4 (see `model::inet`) or IPv6 text.
fn parse_vip(v: &str) -> Result<IpAddr> {
    if !v.contains(':') {
        return crate::model::parse_ipv4("--vip", v).map(IpAddr::V4);
    }
    v.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| {
        Error::field(
            "--vip",
            format!(
                "invalid --vip {v:?}: not an IPv4 or IPv6 address, e.g. 10.43.0.10 or fd00:43::10"
            ),
        )
    })
}
