//! What the runtime asks for this one attachment: `runtimeConfig` capabilities
//! (`portMappings`, `ips`, `mac`, `aliases`; the conflist must declare them in
//! `capabilities`), the
//! conventions' `args.cni` (`ips`, `labels`) and CNI_ARGS (`IP`, `MAC`, pod names).
//!
//! Precedence, as CONVENTIONS.md asks: addresses from `runtimeConfig.ips`, else
//! `args.cni.ips`, else CNI_ARGS `IP`; the MAC from `runtimeConfig.mac`, else CNI_ARGS `MAC`.
//! `aliases` (Podman's `--network-alias`) is a map of network name → names: this network's
//! are the container's DNS names with its `K8S_POD_NAME`. Other capabilities (`bandwidth`,
//! `dns`, ...) are ignored.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

use super::args::{CniArgs, PodRef};
use super::conf::{object_at, objects_in, typed};
use super::error::{code, CniError};
use crate::model::{Mac, PortMapping, Proto};

/// An address the runtime asks for: `ADDR[/PREFIX]`, IPv4 or IPv6 (the prefix, when given,
/// must be the network's subnet's of that family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedIp {
    pub addr: IpAddr,
    pub prefix: Option<u8>,
}

/// Everything the runtime asks for one attachment besides the network itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requests {
    pub pod: PodRef,
    pub ports: Vec<PortMapping>,
    pub ips: Vec<RequestedIp>,
    pub mac: Option<Mac>,
    /// `args.cni.labels`, in order.
    pub labels: Vec<(String, String)>,
    /// `runtimeConfig.aliases` for this network (the configuration's `name`), in order.
    pub aliases: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRuntimeConfig {
    #[serde(default)]
    port_mappings: Option<Vec<RawPort>>,
    #[serde(default)]
    ips: Option<Vec<String>>,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default)]
    aliases: Option<BTreeMap<String, Vec<String>>>,
}

/// containerd 1.6 (go-cni's `PortMapping` has no JSON tags) sends the Go field names,
/// `HostPort`, `ContainerPort`, `Protocol`, `HostIP`; Go's decoder matches keys without case,
/// so the reference portmap plugin reads both: so does podnet.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPort {
    #[serde(alias = "HostPort")]
    host_port: u32,
    #[serde(alias = "ContainerPort")]
    container_port: u32,
    #[serde(default, alias = "Protocol")]
    protocol: Option<String>,
    #[serde(default, rename = "hostIP", alias = "HostIP", alias = "hostIp")]
    host_ip: Option<String>,
}

#[derive(Deserialize)]
struct RawCniArgs {
    #[serde(default)]
    ips: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<Vec<RawLabel>>,
}

#[derive(Deserialize)]
struct RawLabel {
    key: String,
    value: String,
}

/// Collect the requests from the configuration object and CNI_ARGS.
pub fn parse(obj: &Map<String, Value>, cni_args: &CniArgs) -> Result<Requests, CniError> {
    let rcv = obj.get("runtimeConfig");
    object_at(rcv, "runtimeConfig")?;
    objects_in(
        rcv.and_then(|r| r.get("portMappings")),
        "runtimeConfig.portMappings",
    )?;
    let rc: RawRuntimeConfig = match rcv {
        None | Some(Value::Null) => RawRuntimeConfig {
            port_mappings: None,
            ips: None,
            mac: None,
            aliases: None,
        },
        Some(v) => typed(v, "runtimeConfig")?,
    };
    // `args` is free-form by convention: only `args.cni` is podnet's to read.
    let cv = obj.get("args").and_then(|a| a.get("cni"));
    object_at(cv, "args.cni")?;
    objects_in(cv.and_then(|c| c.get("labels")), "args.cni.labels")?;
    let cargs: Option<RawCniArgs> = match cv {
        None | Some(Value::Null) => None,
        Some(v) => Some(typed(v, "args.cni")?),
    };
    let mut out = Requests {
        pod: cni_args.pod.clone(),
        ..Requests::default()
    };
    for (n, p) in rc.port_mappings.unwrap_or_default().iter().enumerate() {
        out.ports
            .push(port(p, &format!("runtimeConfig.portMappings[{n}]"))?);
    }
    let (ips, from): (Vec<String>, &str) = if let Some(ips) = rc.ips {
        (ips, "runtimeConfig.ips")
    } else if let Some(ips) = cargs.as_ref().and_then(|c| c.ips.clone()) {
        (ips, "args.cni.ips")
    } else {
        (cni_args.ips.clone(), "CNI_ARGS IP")
    };
    for (n, s) in ips.iter().enumerate() {
        let field = if from == "CNI_ARGS IP" {
            from.to_owned()
        } else {
            format!("{from}[{n}]")
        };
        let ip = requested_ip(s).map_err(|(c, why)| match (c, from) {
            (code::INVALID_CONFIG, "CNI_ARGS IP") => {
                CniError::env("CNI_ARGS", format!("{field} {s:?} {why}"))
            }
            (code::INVALID_CONFIG, _) => CniError::config(&field, format!("{field} {s:?} {why}")),
            _ => CniError::unsupported(&field, &Value::String(s.clone()), why),
        })?;
        out.ips.push(ip);
    }
    let (mac, from) = match (rc.mac, &cni_args.mac) {
        (Some(m), _) => (Some(m), "runtimeConfig.mac"),
        (None, Some(m)) => (Some(m.clone()), "CNI_ARGS MAC"),
        (None, None) => (None, ""),
    };
    if let Some(m) = mac {
        let parsed = m.parse::<Mac>().map_err(|why| {
            let details = format!("{from} {m:?}: {why}");
            if from == "runtimeConfig.mac" {
                CniError::config(from, details)
            } else {
                CniError::env("CNI_ARGS", details)
            }
        })?;
        out.mac = Some(parsed);
    }
    for l in cargs.and_then(|c| c.labels).unwrap_or_default() {
        out.labels.push((l.key, l.value));
    }
    let network = obj.get("name").and_then(Value::as_str).unwrap_or_default();
    if let Some(mut by_network) = rc.aliases {
        out.aliases = by_network.remove(network).unwrap_or_default();
    }
    Ok(out)
}

/// `ADDR[/PREFIX]` of either family; an error is (code, why): 7 for text that is no address
/// or no address a container can have.
fn requested_ip(s: &str) -> Result<RequestedIp, (u32, String)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let bad = |why: &str| Err((code::INVALID_CONFIG, why.to_owned()));
    let addr = match a.parse::<IpAddr>() {
        Ok(a) => a,
        Err(_) if a.contains('%') => return bad("has a zone (%IFACE): give a plain address"),
        Err(_) => return bad("is not ADDRESS[/PREFIX]"),
    };
    if let IpAddr::V6(a6) = addr {
        // Kept from a container's interface by the kernel or the subnet's shape: never one
        // podnet could hand out.
        if a6.is_unspecified()
            || a6.is_loopback()
            || a6.is_multicast()
            || a6.is_unicast_link_local()
        {
            return bad("is not an IPv6 unicast address a container can have (unspecified, loopback, multicast or link-local)");
        }
        if a6.to_ipv4_mapped().is_some() {
            return bad("is an IPv4-mapped IPv6 address: give the IPv4 address as it is");
        }
    }
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => None,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => Some(n),
            _ => return bad(&format!("has a prefix that is not 0 to {max}")),
        },
    };
    Ok(RequestedIp { addr, prefix })
}

fn port(p: &RawPort, field: &str) -> Result<PortMapping, CniError> {
    let num = |v: u32, key: &str| -> Result<u16, CniError> {
        u16::try_from(v).ok().filter(|n| *n != 0).ok_or_else(|| {
            CniError::config(
                &format!("{field}.{key}"),
                format!("{field}.{key} {v} is not a port: use 1 to 65535"),
            )
        })
    };
    let proto = match p
        .protocol
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("tcp") => Proto::Tcp,
        Some("udp") => Proto::Udp,
        Some("sctp") => Proto::Sctp,
        Some(other) => {
            return Err(CniError::config(
                &format!("{field}.protocol"),
                format!("{field}.protocol {other:?} is not tcp, udp or sctp"),
            ))
        }
    };
    // As the reference portmap plugin: a hostIP publishes on its family only (`0.0.0.0` on
    // IPv4, `::` on IPv6, on a dual-stack network); none on every family the container has.
    let host_ip = match p.host_ip.as_deref() {
        None | Some("") => None,
        Some(s) => match s.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => Some(IpAddr::V4(a)),
            Ok(IpAddr::V6(a)) if a.is_multicast() || a.to_ipv4_mapped().is_some() => {
                return Err(CniError::config(
                    &format!("{field}.hostIP"),
                    format!("{field}.hostIP {s:?} is not an address of this host: give one, or none for every address"),
                ))
            }
            Ok(IpAddr::V6(a)) => Some(IpAddr::V6(a)),
            Err(_) => {
                return Err(CniError::config(
                    &format!("{field}.hostIP"),
                    format!("{field}.hostIP {s:?} is not an IP address"),
                ))
            }
        },
    };
    Ok(PortMapping {
        host_ip,
        host_port: num(p.host_port, "hostPort")?,
        container_port: num(p.container_port, "containerPort")?,
        proto,
    })
}
