//! `ipam`: left to podnet (no `ipam`, or `type` empty or "podnet"), or delegated to the IPAM
//! plugin it names (found in CNI_PATH, given the whole configuration; its result is read
//! with `result::parse`).
//!
//! For podnet's own IPAM the subnet may be given at the top level (`subnet`, `gateway`), in
//! host-local's old form (`ipam.subnet`, `ipam.gateway`) or its new one (`ipam.ranges`, one
//! range of one subnet); given in several places it must agree. `ipam.routes` may hold the
//! default route only: podnet routes the container through the gateway and nothing else.

use ipnet::{IpNet, Ipv4Net};
use serde::Deserialize;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};

use super::conf::{objects_in, typed};
use super::error::CniError;
use super::result::Route;

/// Who allocates addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ipam {
    Podnet,
    /// The IPAM plugin named by `ipam.type`.
    Delegate {
        plugin: String,
    },
}

/// What `ipam` and the top-level keys settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpamConf {
    pub ipam: Ipam,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub routes: Vec<Route>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIpam {
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    ranges: Option<Vec<Vec<RawRange>>>,
    #[serde(default)]
    routes: Option<Vec<RawRoute>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRange {
    subnet: String,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    range_start: Option<String>,
    #[serde(default)]
    range_end: Option<String>,
}

#[derive(Deserialize)]
struct RawRoute {
    dst: String,
    #[serde(default)]
    gw: Option<String>,
}

/// A subnet podnet can make a network of (IPv4 today).
pub fn subnet(field: &str, s: &str) -> Result<Ipv4Net, CniError> {
    match s.parse::<IpNet>() {
        Ok(IpNet::V4(n)) => Ok(n),
        Ok(IpNet::V6(_)) => Err(CniError::unsupported(
            field,
            &Value::String(s.into()),
            "give the IPv4 subnet here and the IPv6 one as the top-level subnet6",
        )),
        Err(_) => Err(CniError::config(
            field,
            format!("{field} {s:?} is not a subnet in CIDR form like 10.88.0.0/16"),
        )),
    }
}

pub fn gateway(field: &str, s: &str) -> Result<Ipv4Addr, CniError> {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => Ok(a),
        Ok(IpAddr::V6(_)) => Err(CniError::unsupported(
            field,
            &Value::String(s.into()),
            "podnet networks are IPv4 today: give an IPv4 gateway",
        )),
        Err(_) => Err(CniError::config(
            field,
            format!("{field} {s:?} is not an IP address"),
        )),
    }
}

/// Parse `ipam` (`v`) together with the top-level subnet and gateway.
pub fn parse(
    v: Option<&Value>,
    top_subnet: Option<Ipv4Net>,
    top_gateway: Option<Ipv4Addr>,
) -> Result<IpamConf, CniError> {
    let mut conf = IpamConf {
        ipam: Ipam::Podnet,
        subnet: top_subnet,
        gateway: top_gateway,
        routes: Vec::new(),
    };
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(conf);
    };
    let ty: Option<String> = typed(v.get("type").unwrap_or(&Value::Null), "ipam.type")?;
    if !v.is_object() {
        return Err(CniError::config("ipam", "ipam must be an object"));
    }
    match ty.as_deref() {
        None | Some("") | Some("podnet") => {}
        Some(p) if p.contains('/') || p == "." || p == ".." => {
            return Err(CniError::config(
                "ipam.type",
                format!("ipam.type {p:?} must be a plugin's file name, without '/'"),
            ))
        }
        Some(p) => {
            conf.ipam = Ipam::Delegate {
                plugin: p.to_owned(),
            };
            // The network's subnet is the configuration's, else the plugin's range (when it
            // names one IPv4 subnet). That the plugin's address lies in it is checked after
            // its ADD, in one place, whatever the plugin's configuration looks like.
            if let Some((s, g)) = plugin_subnet(v) {
                if conf.subnet.is_none_or(|top| top.trunc() == s.trunc()) {
                    conf.subnet = conf.subnet.or(Some(s));
                    conf.gateway = conf.gateway.or(g);
                }
            }
            return Ok(conf);
        }
    }
    objects_in(v.get("routes"), "ipam.routes")?;
    if let Some(Value::Array(sets)) = v.get("ranges") {
        for (n, set) in sets.iter().enumerate() {
            objects_in(Some(set), &format!("ipam.ranges[{n}]"))?;
        }
    }
    let raw: RawIpam = typed(v, "ipam")?;
    if let Some(s) = &raw.subnet {
        agree(
            &mut conf.subnet,
            subnet("ipam.subnet", s)?,
            "ipam.subnet",
            "subnet",
        )?;
    }
    if let Some(g) = &raw.gateway {
        agree(
            &mut conf.gateway,
            gateway("ipam.gateway", g)?,
            "ipam.gateway",
            "gateway",
        )?;
    }
    if let Some(ranges) = &raw.ranges {
        let all: Vec<&RawRange> = ranges.iter().flatten().collect();
        if all.len() > 1 {
            return Err(CniError::unsupported(
                "ipam.ranges",
                &v["ranges"],
                "a podnet network has one subnet today: give one range with one subnet",
            ));
        }
        if let Some(r) = all.first() {
            if r.range_start.is_some() || r.range_end.is_some() {
                return Err(CniError::unsupported(
                    "ipam.ranges",
                    &v["ranges"],
                    "podnet allocates from the whole subnet: remove rangeStart and rangeEnd",
                ));
            }
            let s = subnet("ipam.ranges[0][0].subnet", &r.subnet)?;
            agree(&mut conf.subnet, s, "ipam.ranges[0][0].subnet", "subnet")?;
            if let Some(g) = &r.gateway {
                let g = gateway("ipam.ranges[0][0].gateway", g)?;
                agree(&mut conf.gateway, g, "ipam.ranges[0][0].gateway", "gateway")?;
            }
        }
    }
    for (n, r) in raw.routes.unwrap_or_default().iter().enumerate() {
        let field = format!("ipam.routes[{n}]");
        let dst = subnet(&format!("{field}.dst"), &r.dst)?;
        let gw =
            r.gw.as_deref()
                .map(|g| gateway(&format!("{field}.gw"), g))
                .transpose()?;
        // podnet's gateway defaults to the subnet's first address.
        let effective = conf.gateway.or_else(|| {
            conf.subnet
                .map(|s| Ipv4Addr::from(u32::from(s.network()).wrapping_add(1)))
        });
        let default_via_gateway = gw.is_none() || gw == effective;
        if dst.prefix_len() != 0 || !default_via_gateway {
            return Err(CniError::unsupported(
                &field,
                &v["routes"][n],
                "podnet gives containers one route, the default one through the network's gateway: remove other routes",
            ));
        }
        conf.routes
            .push(Route::new(IpNet::V4(dst), gw.map(IpAddr::V4)));
    }
    Ok(conf)
}

/// The one IPv4 subnet a delegated plugin's `ipam` names in host-local's forms (`subnet`, or
/// `ranges`), with its gateway; None when it names none or several. Values that do not parse
/// are the plugin's to refuse.
fn plugin_subnet(v: &Value) -> Option<(Ipv4Net, Option<Ipv4Addr>)> {
    let mut found: Vec<(Ipv4Net, Option<Ipv4Addr>)> = Vec::new();
    let mut take = |r: &Value| {
        let Some(Ok(IpNet::V4(s))) = r.get("subnet").and_then(Value::as_str).map(str::parse) else {
            return;
        };
        let g = r
            .get("gateway")
            .and_then(Value::as_str)
            .and_then(|g| g.parse::<Ipv4Addr>().ok());
        match found.iter_mut().find(|(f, _)| f.trunc() == s.trunc()) {
            Some(f) => f.1 = f.1.or(g),
            None => found.push((s, g)),
        }
    };
    take(v);
    for set in v
        .get("ranges")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for r in set.as_array().into_iter().flatten() {
            take(r);
        }
    }
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Set `slot` to `new`, or check that it already holds `new` (the same setting given twice).
fn agree<T: PartialEq + std::fmt::Display + Copy>(
    slot: &mut Option<T>,
    new: T,
    field: &str,
    other: &str,
) -> Result<(), CniError> {
    match slot {
        Some(old) if *old != new => Err(CniError::config(
            field,
            format!("{field} {new} differs from {other} {old}: give it once"),
        )),
        _ => {
            *slot = Some(new);
            Ok(())
        }
    }
}
