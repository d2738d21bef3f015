//! `setup NETNS` and `teardown NETNS` as runtime attachments (`engine::runtime`): the same
//! endpoints, leases, ports, isolation and services as `podnet run`, keyed by Podman's
//! container ID and interface name, shown by `podnet ps` (runtime `netavark`, POD = the
//! container's name) and reclaimed by `podnet gc`.

use ipnet::{IpNet, Ipv4Net};
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
    match runtime::open(&root, &run_dir).and_then(|mut ctx| attach(&mut ctx, req)) {
        Ok(block) => Reply::ok(Some(&block)),
        Err(e) => refused(e, &root),
    }
}

fn attach(ctx: &mut Ctx, req: &SetupRequest) -> Result<super::types::StatusBlock> {
    // Podman's IPAM hands one address per subnet; a podnet network has one subnet.
    if req.static_ips.len() > 1 {
        return Err(Error::field(
            "static_ips",
            format!(
                "static_ips {:?}: a podnet network has one subnet and gives one address: give one address at most",
                req.static_ips
            ),
        ));
    }
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
            ip: req.static_ips.first().copied(),
            mac: req.static_mac,
            ports: req.ports.clone(),
            labels: Labels::default(),
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
    Ok(status_block(
        ep.ifname(),
        mac,
        IpNet::V4(address),
        Some(IpAddr::V4(a.network.gateway)),
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
        Ok(c) => c,
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
