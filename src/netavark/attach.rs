//! `setup NETNS` and `teardown NETNS` as runtime attachments (`engine::runtime`): the same
//! endpoints, leases, ports, isolation and services as `podnet run`, keyed by Podman's
//! container ID and interface name, shown by `podnet ps` (runtime `netavark`, POD = the
//! container's name) and reclaimed by `podnet gc`.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::IpAddr;

use super::request::SetupRequest;
use super::wire::{dirs, refused};
use super::{network, status_block, Reply};
use crate::engine::runtime::{self, AttachRequest, Key, Pod};
use crate::engine::{boot, Access, Ctx};
use crate::model::{Error, Labels, Result};

/// Who asks, as `podnet ps`/`inspect` show it.
pub const RUNTIME: &str = "netavark";

fn key(req: &SetupRequest) -> Key {
    Key {
        container_id: req.container_id.clone(),
        ifname: req.ifname.clone(),
    }
}

pub fn setup(req: &SetupRequest) -> Reply {
    let (root, run_dir) = dirs(&req.network);
    let opened = runtime::open(&root, &run_dir)
        .map(|c| c.announce_names(crate::agent::client::announcer(&root, &run_dir)));
    match opened.and_then(|mut ctx| attach(&mut ctx, req)) {
        Ok(block) => Reply::ok(Some(&block)),
        Err(e) => refused(e, &root),
    }
}

fn attach(ctx: &mut Ctx, req: &SetupRequest) -> Result<super::types::StatusBlock> {
    // Podman's IPAM hands one address per subnet; a podnet network has one subnet per family.
    let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = req.static_ips.iter().partition(|a| a.is_ipv4());
    if v4.len() > 1 || v6.len() > 1 {
        return Err(Error::field(
            "static_ips",
            format!(
                "static_ips {:?}: a podnet network has one subnet per family and gives one address of each: give one address per family at most",
                req.static_ips
            ),
        ));
    }
    let ip = v4.first().and_then(|a| match a {
        IpAddr::V4(a) => Some(*a),
        IpAddr::V6(_) => None,
    });
    let ip6 = v6.first().and_then(|a| match a {
        IpAddr::V6(a) => Some(*a),
        IpAddr::V4(_) => None,
    });
    let net = network::ensure(ctx, &req.network)?;
    let a = runtime::attach(
        ctx,
        &AttachRequest {
            network: net.name.clone(),
            netns: req.netns.clone(),
            key: key(req),
            runtime: RUNTIME.into(),
            pod: Pod {
                namespace: None,
                name: Some(req.container_name.clone()).filter(|n| !n.is_empty()),
            },
            ip,
            ip6,
            delegated: false,
            mac: req.static_mac,
            ports: req.ports.clone(),
            labels: Labels::default(),
            names: std::iter::once(&req.container_name)
                .chain(&req.aliases)
                .cloned()
                .collect(),
        },
    )?;
    let ep = &a.endpoint;
    let (Some(ip), Some(mac)) = (ep.ip, ep.mac) else {
        return Err(Error::failed(format!(
            "container {} on network '{}' has no address or MAC recorded: tear it down and set it up again",
            req.container_id, net.name
        )));
    };
    let address = Ipv4Net::new(ip, a.network.subnet.prefix_len()).expect("prefix of a subnet");
    let mut addresses = vec![(IpNet::V4(address), Some(IpAddr::V4(a.network.gateway)))];
    if let (Some(ip6), Some(s6)) = (ep.ip6, a.network.subnet6) {
        let address6 = Ipv6Net::new(ip6, s6.prefix_len()).expect("prefix of a subnet");
        addresses.push((IpNet::V6(address6), a.network.gateway6.map(IpAddr::V6)));
    }
    Ok(status_block(
        ep.ifname(),
        mac,
        &addresses,
        &network::dns(&a.network),
    ))
}

/// Idempotent: a container podnet never attached (or detached already), a network or a
/// whole state that does not exist, and a namespace that is gone are all success.
pub fn teardown(req: &SetupRequest) -> Reply {
    let (root, run_dir) = dirs(&req.network);
    for why in &req.ignored {
        eprintln!("podnet: teardown goes past: {why}");
    }
    let mut ctx = match Ctx::open_as(&root, &run_dir, Access::Change) {
        Ok(c) => c.announce_names(crate::agent::client::announcer(&root, &run_dir)),
        Err(Error::NoState { .. }) => return Reply::ok::<()>(None),
        Err(e) => return refused(e, &root),
    };
    let done = boot::recover_if_first(&mut ctx)
        .and_then(|_| runtime::detach(&mut ctx, &req.network.name, &key(req)));
    match done {
        Ok(_) => Reply::ok::<()>(None),
        Err(e) => refused(e, &root),
    }
}
