//! The verbs when the configuration's `ipam` names another plugin (host-local, static, ...),
//! as SPEC.md section 4 says: the plugin allocates, podnet records and wires the address it
//! gave (a lease in podnet's own IPAM too, so `podnet run` on the same network cannot take it).
//!
//! - ADD: IPAM ADD, then the network (its subnet: the configuration's, else the existing
//!   network's, else the plugin address's) and the attachment with that address. When
//!   anything after IPAM ADD fails, or IPAM ADD itself fails after the plugin ran, IPAM DEL
//!   releases what the plugin may hold. A key podnet has already is answered by the engine
//!   without asking the plugin again (host-local refuses a second lease for one key, and the
//!   undo would then free the first).
//! - DEL: podnet's detach, then IPAM DEL, always (also with no podnet state): both run, the
//!   first error is the answer. A plugin not in CNI_PATH is noted on stderr, not an error.
//! - CHECK: podnet's, then IPAM CHECK.
//! - STATUS and GC (1.1.0): passed to the plugin when it speaks the request's version (its
//!   VERSION answer lists it); one that does not know these verbs is not sent them, as libcni
//!   does not. GC then releases the leases of the attachments it removed with IPAM DEL each.

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};

use super::env::Env;
use super::error::{code, CniError};
use super::ipam_plugin::{Lease, Plugin};
use super::request::{AddRequest, CheckRequest, DelRequest, GcRequest, StatusRequest};
use super::wire::{answer, attach_request, network_request, refuse, Dirs};
use crate::engine::runtime::{self as rt, Key};
use crate::engine::Ctx;

pub fn add(req: &AddRequest, env: &Env, dirs: &Dirs, plugin: &str) -> Result<Value, CniError> {
    let (root, run_dir) = dirs.for_conf(&req.conf);
    let ipam = Plugin {
        name: plugin,
        cni_path: &req.cni_path,
        env,
        conf: &req.conf.raw,
    };
    let mut ctx = rt::open(&root, &run_dir)
        .map_err(|e| refuse(e, &root))?
        .announce_names(crate::agent::client::announcer(&root, &run_dir));
    let k = super::wire::key(&req.attachment);
    let known = rt::find(&ctx, &req.conf.name, &k).map_err(|e| refuse(e, &root))?;
    if let Some(a) = known {
        let ips = (a.endpoint.ip, a.endpoint.ip6);
        let a =
            rt::attach(&mut ctx, &attach_request(req, ips, true)).map_err(|e| refuse(e, &root))?;
        return Ok(answer(req, &a, None));
    }
    // Refused before the plugin hands out an address (the allocation transaction judges
    // again): a network whose containers have podnet's addresses.
    if let Some(net) = rt::network(&ctx, &req.conf.name).map_err(|e| refuse(e, &root))? {
        rt::ipam_owner::precheck_delegated(&ctx, &net).map_err(|e| refuse(e, &root))?;
    }
    let bin = ipam.locate()?;
    let lease = ipam.add(&bin).map_err(|e| undo(&ipam, &bin, e))?;
    match attach_lease(&mut ctx, req, &lease, plugin) {
        Ok(a) => Ok(answer(req, &a, Some(&lease))),
        Err(e) => Err(undo(&ipam, &bin, e)),
    }
}

/// Release what the plugin holds for this call after `e`; the answer is `e` (saying so when
/// the release failed too).
fn undo(ipam: &Plugin, bin: &std::path::Path, mut e: CniError) -> CniError {
    if let Err(d) = ipam.del(bin) {
        e.details = format!(
            "{}; releasing the address with IPAM DEL failed too: {}",
            e.details, d.details
        );
    }
    e
}

/// The network and the attachment with the lease's addresses, after checking that podnet can
/// honour the lease: each address in the network's subnet of its family, its routes the
/// default ones through the gateways.
fn attach_lease(
    ctx: &mut Ctx,
    req: &AddRequest,
    lease: &Lease,
    plugin: &str,
) -> Result<rt::Attachment, CniError> {
    let root = ctx.root.clone();
    let existing = rt::network(ctx, &req.conf.name).map_err(|e| refuse(e, &root))?;
    let conf = &req.conf.network;
    let subnet = conf
        .subnet
        .or(existing.as_ref().map(|n| n.subnet))
        .unwrap_or_else(|| lease.address.trunc());
    let addr = lease.address.addr();
    if !subnet.contains(&addr) || addr == subnet.network() || addr == subnet.broadcast() {
        return Err(CniError::config(
            "ipam",
            format!(
                "IPAM plugin {plugin} gave {}, which is not a host address of network '{}''s subnet {subnet}: make the plugin's range lie inside the subnet",
                lease.address, req.conf.name
            ),
        ));
    }
    let gateway = conf
        .gateway
        .or(existing.as_ref().map(|n| n.gateway))
        .or(lease.gateway.filter(|g| subnet.contains(g)));
    let effective = gateway.unwrap_or_else(|| Ipv4Addr::from(u32::from(subnet.network()) + 1));
    let v6 = lease
        .address6
        .map(|a6| subnet6_of(req, existing.as_ref(), lease, a6, plugin))
        .transpose()?;
    let gateway6 = v6.map(|(s6, _)| crate::ipam::first_host6(&s6));
    for r in &lease.routes {
        let default_via_gateway = r.dst.prefix_len() == 0
            && match r.dst.addr() {
                IpAddr::V4(_) => r.gw.is_none_or(|g| g == IpAddr::V4(effective)),
                IpAddr::V6(_) => {
                    gateway6.is_some_and(|g6| r.gw.is_none_or(|g| g == IpAddr::V6(g6)))
                }
            };
        if !default_via_gateway {
            let gws = match gateway6 {
                Some(g6) => format!("{effective} and {g6}"),
                None => effective.to_string(),
            };
            return Err(CniError::unsupported(
                "ipam.routes",
                &serde_json::json!({"dst": r.dst.to_string(), "gw": r.gw.map(|g| g.to_string())}),
                format!("IPAM plugin {plugin} asks for route {}: podnet gives containers the default routes through the network's gateways ({gws}) only; remove the plugin's other routes", r.dst),
            ));
        }
    }
    let mut net = network_request(&req.conf);
    net.subnet = Some(subnet);
    net.gateway = gateway;
    if let Some((s6, _)) = v6 {
        net.subnet6 = Some(s6);
        net.ipv6 = Some(true);
    }
    rt::ensure_network(ctx, &net).map_err(|e| refuse(e, &root))?;
    let ips = (Some(addr), v6.map(|(_, a)| a));
    rt::attach(ctx, &attach_request(req, ips, true)).map_err(|e| refuse(e, &root))
}

/// The IPv6 subnet for the lease's IPv6 address `a6` (the configuration's, else the existing
/// network's, else the plugin range's) with the address, after checking the address is a host
/// of it and the plugin's IPv6 gateway, if any, is podnet's (the subnet's first host).
fn subnet6_of(
    req: &AddRequest,
    existing: Option<&crate::model::Network>,
    lease: &super::ipam_plugin::Lease,
    a6: ipnet::Ipv6Net,
    plugin: &str,
) -> Result<(ipnet::Ipv6Net, std::net::Ipv6Addr), CniError> {
    let subnet6 = req
        .conf
        .network
        .subnet6
        .or(existing.and_then(|n| n.subnet6))
        .unwrap_or_else(|| a6.trunc());
    let addr6 = a6.addr();
    if !subnet6.contains(&addr6) || addr6 == subnet6.network() {
        return Err(CniError::config(
            "ipam",
            format!(
                "IPAM plugin {plugin} gave {a6}, which is not a host address of network '{}''s IPv6 subnet {subnet6}: make the plugin's IPv6 range lie inside it",
                req.conf.name
            ),
        ));
    }
    let gw6 = crate::ipam::first_host6(&subnet6);
    if let Some(g) = lease.gateway6.filter(|g| *g != gw6) {
        return Err(CniError::config(
            "ipam",
            format!(
                "IPAM plugin {plugin} gives IPv6 gateway {g}; podnet's gateway of {subnet6} is {gw6}: set the range's gateway to {gw6} or leave it out"
            ),
        ));
    }
    if addr6 == gw6 {
        return Err(CniError::config(
            "ipam",
            format!("IPAM plugin {plugin} gave {a6}, the IPv6 gateway of {subnet6}: start the plugin's IPv6 range after it"),
        ));
    }
    Ok((subnet6, addr6))
}

/// IPAM DEL after podnet's own DEL (`podnet`): both ran; podnet's error first.
pub fn del(
    req: &DelRequest,
    env: &Env,
    plugin: &str,
    podnet: Result<(), CniError>,
) -> Result<(), CniError> {
    let ipam = Plugin {
        name: plugin,
        cni_path: &req.cni_path,
        env,
        conf: &req.conf.raw,
    };
    // No binary, no plugin that could hold or release anything: DEL is best effort and a
    // runtime repeats a failed one (kubelet until the pod is gone), so this one is noted only.
    let released = match ipam.locate() {
        Ok(bin) => ipam.del(&bin),
        Err(e) => {
            eprintln!("podnet: DEL goes past: {}", e.details);
            Ok(())
        }
    };
    podnet.and(released)
}

pub fn check(req: &CheckRequest, env: &Env, plugin: &str) -> Result<(), CniError> {
    let ipam = Plugin {
        name: plugin,
        cni_path: &req.cni_path,
        env,
        conf: &req.conf.raw,
    };
    let bin = ipam.locate()?;
    ipam.verb(&bin, "CHECK")
}

pub fn status(req: &StatusRequest, env: &Env, plugin: &str) -> Result<(), CniError> {
    let ipam = Plugin {
        name: plugin,
        cni_path: &req.cni_path,
        env,
        conf: &req.conf.raw,
    };
    let unavailable = |e: CniError| {
        CniError::new(
            code::NOT_AVAILABLE,
            format!("IPAM plugin {plugin} cannot serve ADD"),
            e.details,
        )
    };
    let bin = ipam.locate().map_err(unavailable)?;
    if !ipam
        .versions(&bin, req.version)
        .map_err(unavailable)?
        .contains(&req.version)
    {
        eprintln!(
            "podnet: IPAM plugin {plugin} does not speak CNI {}: STATUS not passed on",
            req.version
        );
        return Ok(());
    }
    ipam.verb(&bin, "STATUS").map_err(|e| match e.code {
        code::NOT_AVAILABLE | code::LIMITED_CONNECTIVITY => e,
        _ => unavailable(e),
    })
}

/// GC to the plugin (it gets the runtime's list in the configuration), or IPAM DEL of each
/// key podnet removed when the plugin does not speak GC. Errors are added to `errors`.
pub fn gc(req: &GcRequest, env: &Env, plugin: &str, removed: &[Key], errors: &mut Vec<CniError>) {
    let ipam = Plugin {
        name: plugin,
        cni_path: &req.cni_path,
        env,
        conf: &req.conf.raw,
    };
    let r = ipam.locate().and_then(|bin| {
        let speaks = ipam.versions(&bin, req.version)?;
        if speaks.contains(&req.version) {
            return ipam.verb(&bin, "GC");
        }
        // The newest version both speak, for the DELs.
        let Some(v) = speaks.into_iter().filter(|v| *v <= req.version).max() else {
            return Err(CniError::new(
                code::INCOMPATIBLE_VERSION,
                format!("IPAM plugin {plugin} speaks no version podnet can use"),
                format!("IPAM plugin {plugin} speaks no CNI version up to {}: its leases of removed attachments stay", req.version),
            ));
        };
        let conf = ipam.at_version(v);
        for k in removed {
            if let Err(e) = ipam.del_of(&bin, &conf, &k.container_id, &k.ifname) {
                errors.push(e);
            }
        }
        Ok(())
    });
    if let Err(e) = r {
        errors.push(e);
    }
}
