//! The CNI verbs against podnet's engine (`engine::runtime`): one parsed [`Call`] in, one
//! [`Reply`] out. The network configuration's network is a podnet network of the same name
//! (made on the first ADD, else it must agree); an attachment is found by the runtime's key
//! (network, CNI_CONTAINERID, CNI_IFNAME).
//!
//! State lives where the configuration's `root`/`runDir` say, else `PODNET_ROOT`/
//! `PODNET_RUN_DIR`, else the CLI's defaults ([`Dirs`]). Every verb that may change state runs
//! boot recovery first, as the CLI does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::conf::NetConf;
use super::env::Env;
use super::error::{code, CniError};
use super::ipam::Ipam;
use super::ipam_plugin::Lease;
use super::request::{AddRequest, Call, CheckRequest, DelRequest, GcRequest, StatusRequest};
use super::result::{self, Attached, Link, Route};
use super::runtime::Requests;
use super::{Refusal, Reply};
use crate::engine::contexts::Contexts;
use crate::engine::runtime::{self as rt, AttachRequest, Key, NetworkRequest, Pod};
use crate::engine::{Access, Ctx};
use crate::model::{Error, Labels};

/// podnet's directories when the configuration names none (the process's `PODNET_ROOT` and
/// `PODNET_RUN_DIR`, else the CLI's defaults).
#[derive(Debug, Clone)]
pub struct Dirs {
    pub root: PathBuf,
    pub run_dir: PathBuf,
}

impl Dirs {
    pub fn from_process() -> Dirs {
        let var = |k: &str, d: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(d))
        };
        Dirs {
            root: var("PODNET_ROOT", "/var/lib/podnet"),
            run_dir: var("PODNET_RUN_DIR", "/run/podnet"),
        }
    }

    pub(super) fn for_conf(&self, conf: &NetConf) -> (PathBuf, PathBuf) {
        (
            conf.root.clone().unwrap_or_else(|| self.root.clone()),
            conf.run_dir.clone().unwrap_or_else(|| self.run_dir.clone()),
        )
    }
}

/// Serve one call (VERSION is answered by the parser; it never reaches here).
/// `env`: the call's CNI_* variables, which a delegated IPAM plugin gets too.
/// `ctxs`: where the engine's contexts come from (fresh in a plugin process, kept open in the
/// agent).
pub fn serve(call: Call, env: &Env, dirs: &Dirs, ctxs: &mut Contexts) -> Reply {
    let (version, out) = match call {
        Call::Version(v) => return Reply::ok(Some(&v)),
        Call::Add(r) => (r.version, add(&r, env, dirs, ctxs).map(Some)),
        Call::Del(r) => (r.version, del(&r, env, dirs, ctxs).map(|()| None)),
        Call::Check(r) => (r.version, check(&r, env, dirs, ctxs).map(|()| None)),
        Call::Status(r) => (r.version, status(&r, env, dirs).map(|()| None)),
        Call::Gc(r) => (r.version, gc(&r, env, dirs, ctxs).map(|()| None)),
    };
    match out {
        Ok(body) => Reply::ok(body.as_ref()),
        Err(error) => Reply::refused(&Refusal { version, error }),
    }
}

pub(super) fn refuse(e: Error, root: &Path) -> CniError {
    CniError::from(&crate::engine::name_store_error(e, root))
}

pub(super) fn network_request(conf: &NetConf) -> NetworkRequest {
    let n = &conf.network;
    NetworkRequest {
        name: conf.name.clone(),
        subnet: n.subnet,
        gateway: n.gateway,
        bridge: n.bridge.clone(),
        mtu: n.mtu,
        internal: n.internal,
        icc: n.icc,
        ipv6: n.ipv6,
        subnet6: n.subnet6,
        nat6: n.nat6,
        macvlan: n.macvlan.clone(),
        ..Default::default()
    }
}

fn add(
    req: &AddRequest,
    env: &Env,
    dirs: &Dirs,
    ctxs: &mut Contexts,
) -> Result<serde_json::Value, CniError> {
    // Before anything is made: CNI_NETNS must be a network namespace (code 4 naming it).
    crate::kernel::netns::open(&req.netns).map_err(|e| {
        CniError::env(
            "CNI_NETNS",
            format!("CNI_NETNS {}: {e}", req.netns.display()),
        )
    })?;
    if let Ipam::Delegate { plugin } = &req.conf.ipam {
        return super::delegated::add(req, env, dirs, plugin);
    }
    let ips = requested_ips(&req.requests, &req.conf)?;
    let (root, run_dir) = dirs.for_conf(&req.conf);
    let r = (|| {
        let (ctx, _) = ctxs.open(&root, &run_dir, Access::Create)?;
        let mut ctx = ctx.announce_names(crate::agent::client::announcer(&root, &run_dir));
        rt::ensure_network(&mut ctx, &network_request(&req.conf))?;
        let a = rt::attach(&mut ctx, &attach_request(req, ips, false))?;
        ctxs.done(ctx);
        Ok(a)
    })();
    let a = r.map_err(|e| refuse(e, &root))?;
    Ok(answer(req, &a, None))
}

/// An attachment's addresses of each family (None: podnet's IPAM chooses).
pub(super) type Ips = (Option<Ipv4Addr>, Option<Ipv6Addr>);

/// The engine's request for ADD `req`, with addresses `ips`, given by a delegated IPAM plugin
/// (`delegated`) or asked for by the runtime.
pub(super) fn attach_request(req: &AddRequest, ips: Ips, delegated: bool) -> AttachRequest {
    AttachRequest {
        network: req.conf.name.clone(),
        netns: req.netns.clone(),
        key: key(&req.attachment),
        runtime: "cni".into(),
        pod: Pod {
            namespace: req.requests.pod.namespace.clone(),
            name: req.requests.pod.name.clone(),
        },
        ip: ips.0,
        ip6: ips.1,
        delegated,
        mac: req.requests.mac,
        ports: req.requests.ports.clone(),
        labels: labels(&req.requests),
        // Podman 4 sends its container's name as K8S_POD_NAME, containerd the pod's.
        names: req
            .requests
            .pod
            .name
            .iter()
            .chain(&req.requests.aliases)
            .cloned()
            .collect(),
    }
}

/// ADD's result for attachment `a`; `lease`: what a delegated IPAM plugin gave, whose DNS is
/// the answer's when the configuration has none.
pub(super) fn answer(
    req: &AddRequest,
    a: &rt::Attachment,
    lease: Option<&Lease>,
) -> serde_json::Value {
    let mut attached = attached(a, &req.netns, &req.conf);
    if let (true, Some(l)) = (attached.dns.is_empty(), lease) {
        attached.dns = l.dns.clone();
    }
    result::render(
        &result::add_result(req.prev_result.as_ref(), &attached),
        req.version,
    )
}

/// The addresses asked for: at most one of each family (podnet gives an attachment one
/// address per subnet), each with its subnet's prefix when the configuration has that subnet.
/// Whether the network has IPv6 at all the engine judges (field `ip6`).
fn requested_ips(r: &Requests, conf: &NetConf) -> Result<Ips, CniError> {
    let (mut v4, mut v6): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for one in &r.ips {
        match one.addr {
            IpAddr::V4(a) => v4.push((a, one.prefix)),
            IpAddr::V6(a) => v6.push((a, one.prefix)),
        }
    }
    let prefix =
        |addr: IpAddr, asked: Option<u8>, subnet: Option<ipnet::IpNet>| match (asked, subnet) {
            (Some(p), Some(s)) if p != s.prefix_len() => Err(CniError::config(
                "ips",
                format!(
                "the address {addr}/{p} asked for has another prefix than the network's subnet {s}"
            ),
            )),
            _ => Ok(()),
        };
    for (family, n) in [("IPv4", v4.len()), ("IPv6", v6.len())] {
        if n > 1 {
            return Err(CniError::unsupported(
                "ips",
                &serde_json::json!(r.ips.iter().map(|i| i.addr.to_string()).collect::<Vec<_>>()),
                format!("podnet gives an attachment one {family} address: ask for one of each family at most"),
            ));
        }
    }
    let ip = v4.first().copied();
    let ip6 = v6.first().copied();
    if let Some((a, p)) = ip {
        prefix(IpAddr::V4(a), p, conf.network.subnet.map(ipnet::IpNet::V4))?;
    }
    if let Some((a, p)) = ip6 {
        prefix(IpAddr::V6(a), p, conf.network.subnet6.map(ipnet::IpNet::V6))?;
    }
    Ok((ip.map(|x| x.0), ip6.map(|x| x.0)))
}

fn labels(r: &Requests) -> Labels {
    r.labels.iter().cloned().collect()
}

fn attached(a: &rt::Attachment, netns: &Path, conf: &NetConf) -> Attached {
    let net = &a.network;
    let ep = &a.endpoint;
    let ip = ep.ip.expect("a bridge attachment has an address");
    let gw = IpAddr::V4(net.gateway);
    // An IPv6 address only on a dual-stack network, which has a gateway there too.
    let v6 = match (ep.ip6, net.subnet6, net.gateway6) {
        (Some(ip6), Some(s6), Some(g6)) => Some((ip6, s6, g6)),
        _ => None,
    };
    let mut routes = vec![Route::new(
        "0.0.0.0/0".parse().expect("the default route"),
        Some(gw),
    )];
    if let Some((_, _, g6)) = v6 {
        routes.push(Route::new(
            "::/0".parse().expect("the default route"),
            Some(IpAddr::V6(g6)),
        ));
    }
    Attached {
        // A macvlan network has no bridge and nothing on the host: the container's
        // interface alone, as the reference macvlan plugin answers.
        bridge: net.is_bridge().then(|| Link {
            name: net.bridge.clone(),
            mac: None,
            mtu: Some(net.mtu),
        }),
        host: Link {
            name: ep.host_veth.clone().unwrap_or_default(),
            mac: None,
            mtu: Some(net.mtu),
        },
        container: Link {
            name: ep.ifname().to_owned(),
            mac: ep.mac,
            mtu: Some(net.mtu),
        },
        sandbox: netns.display().to_string(),
        address: ipnet::IpNet::V4(
            ipnet::Ipv4Net::new(ip, net.subnet.prefix_len()).expect("a subnet's prefix"),
        ),
        gateway: Some(gw),
        address6: v6.map(|(ip6, s6, _)| {
            ipnet::IpNet::V6(ipnet::Ipv6Net::new(ip6, s6.prefix_len()).expect("a subnet's prefix"))
        }),
        gateway6: v6.map(|(_, _, g6)| IpAddr::V6(g6)),
        routes,
        dns: dns_of(conf, net),
    }
}

/// The DNS a container on `net` is told of (the runtime writes its resolv.conf from it): the
/// configuration's own `dns` when it has one, else, on a network with DNS, podnet's server on
/// the gateways with podnet's search domain (the agent serves the container's name from the
/// moment ADD returns).
fn dns_of(conf: &NetConf, net: &crate::model::Network) -> result::Dns {
    let servers = net.dns_servers();
    if !conf.dns.is_empty() || servers.is_empty() {
        return conf.dns.clone();
    }
    result::Dns {
        nameservers: servers.iter().map(IpAddr::to_string).collect(),
        search: vec![crate::agent::ZONE.to_owned()],
        ..result::Dns::default()
    }
}

pub(super) fn key(a: &super::conf::Attachment) -> Key {
    Key {
        container_id: a.container_id.clone(),
        ifname: a.ifname.clone(),
    }
}

/// Open the state for DEL and GC: none at all means nothing was ever attached (success).
pub(super) fn open_existing(
    ctxs: &mut Contexts,
    root: &Path,
    run_dir: &Path,
) -> Result<Option<Ctx>, Error> {
    match ctxs.open(root, run_dir, Access::Change) {
        Ok((ctx, _)) => Ok(Some(
            ctx.announce_names(crate::agent::client::announcer(root, run_dir)),
        )),
        Err(Error::NoState { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn del(req: &DelRequest, env: &Env, dirs: &Dirs, ctxs: &mut Contexts) -> Result<(), CniError> {
    for e in &req.ignored {
        eprintln!("podnet: DEL goes past: {}", e.details);
    }
    let (root, run_dir) = dirs.for_conf(&req.conf);
    let r = (|| {
        let Some(mut ctx) = open_existing(ctxs, &root, &run_dir)? else {
            return Ok(());
        };
        rt::detach(&mut ctx, &req.conf.name, &key(&req.attachment))?;
        ctxs.done(ctx);
        Ok(())
    })();
    let r = r.map_err(|e| refuse(e, &root));
    match &req.conf.ipam {
        Ipam::Podnet => r,
        Ipam::Delegate { plugin } => super::delegated::del(req, env, plugin, r),
    }
}

fn check(req: &CheckRequest, env: &Env, dirs: &Dirs, ctxs: &mut Contexts) -> Result<(), CniError> {
    let (root, run_dir) = dirs.for_conf(&req.conf);
    let told = req.prev_result.sandbox_ips(&req.attachment.ifname);
    let expect = told.iter().find_map(|n| match n.addr() {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    });
    let expect6 = told.iter().find_map(|n| match n.addr() {
        IpAddr::V6(a) => Some(a),
        IpAddr::V4(_) => None,
    });
    let r = (|| {
        let (mut ctx, _) = ctxs.open(&root, &run_dir, Access::Change)?;
        rt::ensure_network(&mut ctx, &network_request(&req.conf))?;
        rt::check(
            &mut ctx,
            &req.conf.name,
            &key(&req.attachment),
            &req.netns,
            expect,
            expect6,
        )?;
        ctxs.done(ctx);
        Ok(())
    })();
    r.map_err(|e| refuse(e, &root))?;
    match &req.conf.ipam {
        Ipam::Podnet => Ok(()),
        Ipam::Delegate { plugin } => super::delegated::check(req, env, plugin),
    }
}

fn status(req: &StatusRequest, env: &Env, dirs: &Dirs) -> Result<(), CniError> {
    let (root, run_dir) = dirs.for_conf(&req.conf);
    let r = (|| {
        let mut ctx = Ctx::open(&root, &run_dir)?;
        rt::status(&mut ctx, &req.conf.name)
    })();
    r.map_err(|e| {
        let e = crate::engine::name_store_error(e, &root);
        CniError::new(
            code::NOT_AVAILABLE,
            "podnet cannot serve ADD",
            e.to_string(),
        )
    })?;
    match &req.conf.ipam {
        Ipam::Podnet => Ok(()),
        Ipam::Delegate { plugin } => super::delegated::status(req, env, plugin),
    }
}

fn gc(req: &GcRequest, env: &Env, dirs: &Dirs, ctxs: &mut Contexts) -> Result<(), CniError> {
    // No list: the runtime did not say which attachments are valid, so none is removed (and
    // no IPAM plugin is asked: without a list it could only drop every lease).
    let Some(valid) = &req.valid else {
        return Ok(());
    };
    let (root, run_dir) = dirs.for_conf(&req.conf);
    let valid: Vec<Key> = valid.iter().map(key).collect();
    let delegate = match &req.conf.ipam {
        Ipam::Delegate { plugin } => Some(plugin.as_str()),
        Ipam::Podnet => None,
    };
    let mut errors: Vec<CniError> = Vec::new();
    let mut removed: Vec<Key> = Vec::new();
    let r = (|| {
        let Some(mut ctx) = open_existing(ctxs, &root, &run_dir)? else {
            return Ok(());
        };
        // With delegated IPAM, the keys GC removes are the ones whose leases go too.
        let stale: Vec<Key> = match delegate {
            Some(_) => rt::list(&ctx, Some(&req.conf.name))?
                .into_iter()
                .map(|a| a.key)
                .filter(|k| !valid.contains(k))
                .collect(),
            None => Vec::new(),
        };
        let outcome = rt::gc(&mut ctx, &req.conf.name, &valid)?;
        errors.extend(outcome.errors.into_iter().map(|e| refuse(e, &root)));
        for k in stale {
            if rt::find(&ctx, &req.conf.name, &k)?.is_none() {
                removed.push(k);
            }
        }
        Ok(())
    })();
    if let Err(e) = r {
        errors.insert(0, refuse(e, &root));
    }
    if let Some(plugin) = delegate {
        super::delegated::gc(req, env, plugin, &removed, &mut errors);
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        n => {
            let mut e = errors[0].clone();
            e.msg = format!("{n} attachments could not be removed");
            e.details = errors
                .iter()
                .map(|e| e.details.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            Err(e)
        }
    }
}
