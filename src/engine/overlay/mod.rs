//! The node's side of the cluster overlay: its VXLAN device, and the FDB, neighbour and
//! route entries for every remote node ([`crate::plan::overlay`] decides them). The
//! control plane (the agent's etcd watch) calls [`reconcile`] with the leases it knows,
//! after any change and after a resync; each call converges whatever it finds — a fresh
//! node, a crash halfway through an earlier call, a device someone re-created — since it
//! reads the kernel's entries every time instead of trusting what it did last.
//!
//! Errors are collected, not fatal (netavark's error list): one remote whose entries the
//! kernel refuses does not keep the others from being installed. Only a device that cannot
//! be made stops the call.

pub mod network;

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;

use crate::kernel::vxlan::{self, VxlanSpec, VXLAN_OVERHEAD, VXLAN_PORT};
use crate::kernel::{addr, fdb, link, neigh, route, Rtnl};
use crate::model::{Error, Mac, NodeLease, Result};
use crate::plan::overlay::{self, Changes, Current, Refused};

/// The alias that marks the overlay device as podnet's (ownership: podnet re-creates or
/// deletes only a device it made).
pub const ALIAS: &str = "podnet:overlay";

/// How the node's VXLAN device is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayConfig {
    /// The device's name ([`device_name`] by default).
    pub device: String,
    pub vni: u32,
    /// The node's underlay address (its VTEP).
    pub underlay: Ipv4Addr,
    /// The underlay device; `None`: the one that holds `underlay`.
    pub underlay_dev: Option<String>,
    /// UDP port, [`VXLAN_PORT`] unless the cluster says otherwise.
    pub port: u16,
    /// The device's MAC: the node's recorded VTEP MAC (`--vtep-mac`, or one picked once and
    /// kept in `cluster.json`), so the lease published before the device exists already
    /// names the MAC it will have. `None`: whatever the kernel picks.
    pub mac: Option<Mac>,
}

impl OverlayConfig {
    pub fn new(vni: u32, underlay: Ipv4Addr) -> OverlayConfig {
        OverlayConfig {
            device: device_name(vni),
            vni,
            underlay,
            underlay_dev: None,
            port: VXLAN_PORT,
            mac: None,
        }
    }
}

/// `podnet.<vni>` (flannel's `flannel.<vni>`): one device per VNI.
pub fn device_name(vni: u32) -> String {
    format!("podnet.{vni}")
}

/// The device as [`ensure_device`] left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub index: u32,
    /// The VTEP MAC this node publishes in its lease.
    pub mac: Mac,
    pub mtu: u32,
    /// Made by this call (it did not exist, or had to be re-created).
    pub created: bool,
}

/// What one [`reconcile`] did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The device, unless it could not be made (then nothing else was done).
    pub device: Option<Device>,
    /// The changes it set out to apply.
    pub changes: Changes,
    /// Every failure, in order; the rest was applied regardless.
    pub errors: Vec<Error>,
}

/// The underlay device: `(index, MTU)`.
fn underlay(rtnl: &mut Rtnl, cfg: &OverlayConfig) -> Result<(u32, u32)> {
    let index = match &cfg.underlay_dev {
        Some(name) => {
            vxlan::link_by_name(rtnl, name)?
                .ok_or_else(|| {
                    Error::failed(format!(
                        "underlay device {name} does not exist: name an existing interface"
                    ))
                })?
                .index
        }
        None => addr::list(rtnl)?
            .into_iter()
            .find(|(_, ip, _)| *ip == cfg.underlay)
            .map(|(i, _, _)| i)
            .ok_or_else(|| {
                Error::failed(format!(
                    "underlay address {} is on no interface of this node: give one it has",
                    cfg.underlay
                ))
            })?,
    };
    let l = vxlan::link_by_index(rtnl, index)?
        .ok_or_else(|| Error::failed(format!("underlay link #{index} vanished")))?;
    Ok((index, l.mtu))
}

/// Makes the node's VXLAN device what `cfg` says, holding `subnet`'s network address as a
/// /32, up, and returns it with its MAC. A podnet device that differs in what cannot change
/// in place (VNI, local address, underlay device, port, learning) or has another MAC than
/// `cfg.mac` is re-created (a new MAC: the caller publishes it); a link of that name that is
/// not podnet's is refused.
pub fn ensure_device(rtnl: &mut Rtnl, cfg: &OverlayConfig, subnet: Ipv4Net) -> Result<Device> {
    let (underlay_index, underlay_mtu) = underlay(rtnl, cfg)?;
    let spec = VxlanSpec {
        name: cfg.device.clone(),
        vni: cfg.vni,
        local: cfg.underlay,
        underlay_index,
        port: cfg.port,
        mtu: underlay_mtu.saturating_sub(VXLAN_OVERHEAD),
        mac: cfg.mac.map(|m| m.0),
    };
    let mut created = false;
    match vxlan::get(rtnl, &spec.name)? {
        Some(l) if l.alias.as_deref() != Some(ALIAS) => {
            return Err(Error::failed(format!(
                "link {} exists and is not podnet's overlay device: remove or rename it",
                spec.name
            )))
        }
        Some(l) if l.matches(&spec) && spec.mac.is_none_or(|m| m == l.mac) => {
            if l.mtu != spec.mtu {
                vxlan::set_mtu(rtnl, l.index, spec.mtu)?;
            }
            if !l.up {
                // A crash between create and up: still down, so link-local can go now.
                link::no_ipv6_link_local(rtnl, &spec.name, Some(ALIAS), None)?;
            }
        }
        found => {
            if found.is_some() {
                link::delete(rtnl, &spec.name)?;
            }
            vxlan::create(rtnl, &spec)?;
            link::no_ipv6_link_local(rtnl, &spec.name, Some(ALIAS), None)?;
            created = true;
        }
    }
    let l = vxlan::get(rtnl, &spec.name)?
        .ok_or_else(|| Error::failed(format!("VXLAN device {} vanished", spec.name)))?;
    let want = subnet.network();
    for (index, ip, prefix) in addr::list(rtnl)? {
        if index == l.index && (ip, prefix) != (want, 32) {
            addr::delete(rtnl, index, ip, prefix)?;
        }
    }
    addr::add(rtnl, l.index, want, 32)?;
    if !l.up {
        link::set_up(rtnl, l.index)?;
    }
    Ok(Device {
        index: l.index,
        mac: Mac(l.mac),
        mtu: l.mtu,
        created,
    })
}

/// This node's lease as the others must see it, with the device's MAC.
pub fn local_lease(name: &str, subnet: Ipv4Net, cfg: &OverlayConfig, dev: &Device) -> NodeLease {
    NodeLease {
        name: name.to_string(),
        subnet,
        underlay: IpAddr::V4(cfg.underlay),
        vtep_mac: dev.mac,
    }
}

/// The device's entries as the kernel has them now.
pub fn current(rtnl: &mut Rtnl, index: u32) -> Result<Current> {
    let f = fdb::list(rtnl)?;
    let n = neigh::list(rtnl)?;
    let r = route::list(rtnl)?;
    Ok(Current::of_device(index, &f, &n, &r))
}

/// Brings the node's overlay to `remotes` (the cluster's leases; this node's own among them
/// is ignored): the device first, then only the entries that differ.
pub fn reconcile(
    rtnl: &mut Rtnl,
    cfg: &OverlayConfig,
    subnet: Ipv4Net,
    remotes: &[NodeLease],
) -> Outcome {
    let mut out = Outcome::default();
    let dev = match ensure_device(rtnl, cfg, subnet) {
        Ok(d) => d,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let (want, refused) = overlay::desired(subnet, remotes);
    out.errors.extend(refused.into_iter().map(refusal));
    match current(rtnl, dev.index) {
        Ok(cur) => {
            out.changes = overlay::diff(&want, &cur);
            out.errors.extend(apply(rtnl, dev.index, &out.changes));
        }
        Err(e) => out.errors.push(e),
    }
    out.device = Some(dev);
    out
}

fn refusal(r: Refused) -> Error {
    Error::failed(format!("node {}: not installed: {}", r.node, r.reason))
}

/// Applies `c` in its order (deletes, then FDB, neighbours, routes), going on past
/// failures; returns them. A route whose neighbour or FDB entry failed is still installed:
/// the next reconcile retries the missing part, and a route alone sends nothing anywhere
/// wrong (packets to a neighbour without a MAC are dropped at the device).
pub fn apply(rtnl: &mut Rtnl, index: u32, c: &Changes) -> Vec<Error> {
    let mut errors = Vec::new();
    let mut keep = |r: Result<()>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    for d in &c.del_routes {
        keep(route::delete_on(rtnl, *d, index));
    }
    for n in &c.del_neighbours {
        keep(neigh::forget(rtnl, index, *n));
    }
    for (m, u) in &c.del_fdb {
        keep(fdb::delete(rtnl, index, m.0, *u));
    }
    for (m, u) in &c.set_fdb {
        keep(fdb::replace(rtnl, index, m.0, *u));
    }
    for (n, m) in &c.set_neighbours {
        keep(neigh::replace_permanent(rtnl, index, *n, m.0));
    }
    for (d, g) in &c.add_routes {
        keep(route::add_onlink(rtnl, *d, *g, index));
    }
    for (d, g) in &c.set_routes {
        keep(route::replace_onlink(rtnl, *d, *g, index));
    }
    errors
}

/// Deletes the node's overlay device (its entries go with it), when it is podnet's.
/// Idempotent: false when there was none.
pub fn remove(rtnl: &mut Rtnl, cfg: &OverlayConfig) -> Result<bool> {
    match vxlan::get(rtnl, &cfg.device)? {
        Some(l) if l.alias.as_deref() == Some(ALIAS) => link::delete(rtnl, &cfg.device),
        Some(_) => Err(Error::failed(format!(
            "link {} is not podnet's overlay device: left alone",
            cfg.device
        ))),
        None => Ok(false),
    }
}
