//! Reading a result (a `prevResult`, or what a delegated IPAM plugin printed) of any version.
//! The request's version says which shape to expect: 0.1.0/0.2.0 have `ip4`/`ip6`, later
//! ones `interfaces`/`ips`/`routes`. Unknown keys are ignored; a known key with a wrong type,
//! an address that does not parse or an interface index out of range is a decode error (6)
//! naming the field.

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::Value;
use std::net::IpAddr;

use super::{CniResult, Dns, Interface, IpConfig, Route};
use crate::cni::error::{code, CniError};
use crate::cni::version::Version;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResult {
    #[serde(default)]
    interfaces: Option<Vec<RawInterface>>,
    #[serde(default)]
    ips: Option<Vec<RawIp>>,
    #[serde(default)]
    routes: Option<Vec<RawRoute>>,
    #[serde(default)]
    dns: Option<RawDns>,
    #[serde(default)]
    ip4: Option<RawLegacyIp>,
    #[serde(default)]
    ip6: Option<RawLegacyIp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInterface {
    name: String,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default)]
    mtu: Option<u32>,
    #[serde(default)]
    sandbox: Option<String>,
    #[serde(default)]
    socket_path: Option<String>,
    #[serde(default, rename = "pciID")]
    pci_id: Option<String>,
}

#[derive(Deserialize)]
struct RawIp {
    /// 0.3.x/0.4.0 only: "4" or "6".
    #[serde(default)]
    version: Option<String>,
    address: IpNet,
    #[serde(default)]
    gateway: Option<IpAddr>,
    #[serde(default)]
    interface: Option<usize>,
}

#[derive(Deserialize)]
struct RawRoute {
    dst: IpNet,
    #[serde(default)]
    gw: Option<IpAddr>,
    #[serde(default)]
    mtu: Option<u32>,
    #[serde(default)]
    advmss: Option<u32>,
    #[serde(default)]
    priority: Option<u32>,
    #[serde(default)]
    table: Option<u32>,
    #[serde(default)]
    scope: Option<u32>,
}

#[derive(Deserialize)]
struct RawDns {
    #[serde(default)]
    nameservers: Option<Vec<String>>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    search: Option<Vec<String>>,
    #[serde(default)]
    options: Option<Vec<String>>,
}

/// 0.1.0/0.2.0: `{"ip": CIDR, "gateway": IP, "routes": [...]}`.
#[derive(Deserialize)]
struct RawLegacyIp {
    ip: IpNet,
    #[serde(default)]
    gateway: Option<IpAddr>,
    #[serde(default)]
    routes: Option<Vec<RawRoute>>,
}

/// Parse a result. `what` names it in errors (`prevResult`, `IPAM plugin host-local`).
pub fn parse(v: &Value, version: Version, what: &str) -> Result<CniResult, CniError> {
    let raw: RawResult = serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            what.to_owned()
        } else {
            format!("{what}.{path}")
        };
        decode(format!("{field}: {}", e.inner()))
    })?;
    let legacy = version <= Version::V0_2_0;
    let mut out = CniResult {
        dns: raw.dns.map(dns).unwrap_or_default(),
        ..CniResult::default()
    };
    if legacy {
        for (key, ip) in [("ip4", raw.ip4), ("ip6", raw.ip6)] {
            let Some(ip) = ip else { continue };
            if ip.ip.addr().is_ipv4() != (key == "ip4") {
                return Err(decode(format!(
                    "{what}.{key}.ip {} is of the other family",
                    ip.ip
                )));
            }
            out.ips.push(IpConfig {
                address: ip.ip,
                gateway: ip.gateway,
                interface: None,
            });
            out.routes
                .extend(ip.routes.unwrap_or_default().into_iter().map(route));
        }
        return Ok(out);
    }
    out.interfaces = raw
        .interfaces
        .unwrap_or_default()
        .into_iter()
        .map(|i| Interface {
            name: i.name,
            mac: i.mac.filter(|m| !m.is_empty()),
            mtu: i.mtu,
            sandbox: i.sandbox.filter(|s| !s.is_empty()),
            socket_path: i.socket_path.filter(|s| !s.is_empty()),
            pci_id: i.pci_id.filter(|s| !s.is_empty()),
        })
        .collect();
    for (n, ip) in raw.ips.unwrap_or_default().into_iter().enumerate() {
        let family = if ip.address.addr().is_ipv4() {
            "4"
        } else {
            "6"
        };
        if let Some(v) = ip.version.as_deref().filter(|v| *v != family) {
            return Err(decode(format!(
                "{what}.ips[{n}].version is {v:?} but address {} is IPv{family}",
                ip.address
            )));
        }
        if let Some(i) = ip.interface.filter(|i| *i >= out.interfaces.len()) {
            return Err(decode(format!(
                "{what}.ips[{n}].interface is {i} but there are {} interfaces",
                out.interfaces.len()
            )));
        }
        out.ips.push(IpConfig {
            address: ip.address,
            gateway: ip.gateway,
            interface: ip.interface,
        });
    }
    out.routes = raw
        .routes
        .unwrap_or_default()
        .into_iter()
        .map(route)
        .collect();
    Ok(out)
}

fn route(r: RawRoute) -> Route {
    Route {
        dst: r.dst,
        gw: r.gw,
        mtu: r.mtu,
        advmss: r.advmss,
        priority: r.priority,
        table: r.table,
        scope: r.scope,
    }
}

fn dns(d: RawDns) -> Dns {
    Dns {
        nameservers: d.nameservers.unwrap_or_default(),
        domain: d.domain.filter(|s| !s.is_empty()),
        search: d.search.unwrap_or_default(),
        options: d.options.unwrap_or_default(),
    }
}

fn decode(details: String) -> CniError {
    CniError::new(code::DECODE, "cannot decode result", details)
}
