//! Networks: a bridge holding the gateway address, and a subnet its containers draw from.

use super::{firewall, proc, Ctx, DEFAULT_MTU, DEFAULT_NETWORK};
use crate::ipam;
use crate::kernel::{addr, link, route, sysctl};
use crate::model::{validate_ifname, validate_name, Error, Network, NetworkState, Result};
use crate::plan::netfilter as plan;
use crate::store::{networks, NewNetwork};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// What the user asked for in `network create`.
#[derive(Debug, Default, Clone)]
pub struct NetworkSpec {
    pub name: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub mtu: Option<u32>,
    pub bridge: Option<String>,
    pub internal: bool,
    /// `--icc=false` sets this; default true.
    pub no_icc: bool,
}

/// Parse a CIDR given on the command line, naming the flag in the error.
pub fn parse_subnet(s: &str) -> Result<Ipv4Net> {
    s.parse().map_err(|_| {
        Error::input(format!(
            "--subnet '{s}' is not an IPv4 CIDR: write it like 10.90.0.0/24"
        ))
    })
}

pub fn parse_ip(flag: &str, s: &str) -> Result<Ipv4Addr> {
    s.parse().map_err(|_| {
        Error::input(format!(
            "{flag} '{s}' is not an IPv4 address: write it like 10.90.0.5"
        ))
    })
}

/// The bridge name for a network: `pn-NAME` when it fits in an interface name.
fn bridge_name(name: &str, id_hint: i64) -> String {
    if name == DEFAULT_NETWORK {
        return name.to_string();
    }
    let n = format!("pn-{name}");
    if n.len() <= 15 {
        n
    } else {
        format!("pnbr{id_hint}")
    }
}

/// Create a network: record it, make its bridge with the gateway address, mark it ready.
/// Everything is checked before anything is made; a kernel failure undoes what was made.
pub fn create(ctx: &mut Ctx, spec: &NetworkSpec) -> Result<Network> {
    validate_name("network", &spec.name)?;
    if ["bridge", "host", "none"].contains(&spec.name.as_str())
        || spec.name.starts_with("container:")
    {
        return Err(Error::input(format!(
            "network name '{}' is reserved for a network mode: choose another name",
            spec.name
        )));
    }
    let subnet = spec.subnet.as_deref().map(parse_subnet).transpose()?;
    let gateway = spec
        .gateway
        .as_deref()
        .map(|g| parse_ip("--gateway", g))
        .transpose()?;
    if gateway.is_some() && subnet.is_none() {
        return Err(Error::input(
            "--gateway needs --subnet: give the subnet the gateway belongs to",
        ));
    }
    let mtu = spec.mtu.unwrap_or(DEFAULT_MTU);
    if !(68..=65535).contains(&mtu) {
        return Err(Error::input(format!(
            "--mtu {mtu} is out of range: use 68 to 65535"
        )));
    }
    if let Some(b) = &spec.bridge {
        validate_ifname("--bridge", b)?;
    }
    let routes = route::destinations(ctx.host()?)?;
    let owner = proc::me();
    let net = ctx.store.write(|tx| {
        if networks::get(tx, &spec.name)?.is_some() {
            return Err(Error::conflict(format!(
                "network '{}' already exists: choose another name or remove it first",
                spec.name
            )));
        }
        let others: Vec<(String, Ipv4Net)> = networks::list(tx)?
            .into_iter()
            .map(|n| (n.name, n.subnet))
            .collect();
        let subnet = match subnet {
            Some(s) => {
                ipam::check_subnet(&s, &others, &routes)?;
                s
            }
            None => {
                let taken: Vec<Ipv4Net> = others
                    .iter()
                    .map(|o| o.1)
                    .chain(routes.iter().copied())
                    .collect();
                ipam::pick_subnet(&taken)?
            }
        };
        let gateway = match gateway {
            Some(g) => {
                ipam::check_requested("--gateway", &subnet, g)?;
                g
            }
            None => ipam::first_host(&subnet),
        };
        let next_id: i64 = tx.query_row("SELECT coalesce(max(id),0)+1 FROM networks", [], |r| {
            r.get(0)
        })?;
        let bridge = spec
            .bridge
            .clone()
            .unwrap_or_else(|| bridge_name(&spec.name, next_id));
        if networks::list(tx)?.iter().any(|n| n.bridge == bridge) {
            return Err(Error::input(format!(
                "bridge {bridge} is already used by another network: choose another --bridge"
            )));
        }
        networks::insert(
            tx,
            &NewNetwork {
                name: &spec.name,
                bridge: &bridge,
                subnet,
                gateway,
                mtu,
                internal: spec.internal,
                icc: !spec.no_icc,
                owner,
            },
        )?;
        Ok(networks::get(tx, &spec.name)?.expect("row just inserted"))
    })?;
    if let Err(e) = realize(ctx, &net) {
        let undo = destroy(ctx, &net);
        return Err(match undo {
            Ok(()) => e,
            Err(u) => e.undo_failed(u),
        });
    }
    ctx.store.write(|tx| networks::set_ready(tx, &net.name))?;
    Ok(Network {
        state: NetworkState::Ready,
        ..net
    })
}

/// Make the kernel match a network record (idempotent).
fn realize(ctx: &mut Ctx, net: &Network) -> Result<()> {
    let rtnl = ctx.host()?;
    let index = link::ensure_bridge(rtnl, &net.bridge, net.mtu)?;
    addr::add(rtnl, index, net.gateway, net.subnet.prefix_len())?;
    // Locally originated traffic to 127.0.0.1:PUBLISHED is DNAT'ed out of this bridge; the
    // kernel drops loopback-sourced packets on a device without route_localnet. Set on podnet's
    // bridges only (never globally); podnet's input rule keeps containers off the host's
    // loopback services (CVE-2020-8558).
    sysctl::ensure_if(&net.bridge, "route_localnet", "1")?;
    if !net.internal {
        // Routing between the bridge and the rest of the world (outbound NAT, published ports).
        sysctl::ensure("net.ipv4.ip_forward", "1")?;
    }
    firewall::apply_or_sync(ctx, &plan::add_network(&firewall::net_facts(net)))?;
    firewall::forward_accepts(ctx)
}

fn destroy(ctx: &mut Ctx, net: &Network) -> Result<()> {
    link::delete(ctx.host()?, &net.bridge)?;
    ctx.store.write(|tx| networks::delete(tx, &net.name))?;
    if ctx.store.networks()?.is_empty() {
        // The last network took podnet's reason to have tables: remove them.
        firewall::sync(ctx)
    } else {
        firewall::apply_or_sync(ctx, &plan::remove_network(&firewall::net_facts(net)))?;
        firewall::forward_accepts(ctx)
    }
}

/// The network an endpoint joins, creating the default network on first use. A network still
/// `creating` (another process is making it, or one crashed doing so) is realised again here;
/// that is safe because realising is idempotent.
pub fn resolve(ctx: &mut Ctx, name: &str) -> Result<Network> {
    let net = match ctx.store.network(name)? {
        Some(n) => n,
        None if name == DEFAULT_NETWORK => match create(ctx, &NetworkSpec { name: name.into(), ..Default::default() }) {
            Ok(n) => n,
            // Lost a race with a concurrent first use: the other process's record is fine.
            Err(Error::Conflict { .. }) => ctx.store.network(name)?.ok_or_else(|| Error::failed("default network vanished"))?,
            Err(e) => return Err(e),
        },
        None => {
            return Err(Error::input(format!(
                "network '{name}' does not exist: create it with `podnet network create {name}` or see `podnet network ls`"
            )))
        }
    };
    if net.state == NetworkState::Creating {
        realize(ctx, &net)?;
        ctx.store.write(|tx| networks::set_ready(tx, &net.name))?;
    }
    Ok(net)
}

/// The subnet the default network would get if `name` is it and does not exist yet (so that a
/// requested address can be checked before the network is made); None for other networks.
pub fn default_subnet_if_created(ctx: &mut Ctx, name: &str) -> Result<Option<Ipv4Net>> {
    if name != DEFAULT_NETWORK {
        return Ok(None);
    }
    let routes = route::destinations(ctx.host()?)?;
    let taken: Vec<Ipv4Net> = ctx
        .store
        .networks()?
        .iter()
        .map(|n| n.subnet)
        .chain(routes)
        .collect();
    Ok(Some(ipam::pick_subnet(&taken)?))
}

/// Remove a network that no container uses.
pub fn remove(ctx: &mut Ctx, name: &str) -> Result<()> {
    let net = ctx.store.network(name)?.ok_or_else(|| {
        Error::input(format!(
            "network '{name}' does not exist: see `podnet network ls`"
        ))
    })?;
    let users = ctx.store.network_users(net.id)?;
    if !users.is_empty() {
        return Err(Error::input(format!(
            "network '{name}' is in use by {}: remove those containers first (`podnet rm -f NAME`)",
            users.join(", ")
        )));
    }
    if name == DEFAULT_NETWORK && crate::store::services::any(ctx.store.conn())? {
        return Err(Error::input(format!(
            "network '{name}' carries the host's route to service VIPs: remove the services first (`podnet service ls`)"
        )));
    }
    destroy(ctx, &net)
}

/// Remove every network no container uses, except the default one. Returns their names.
pub fn prune(ctx: &mut Ctx) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for net in ctx.store.networks()? {
        if net.name != DEFAULT_NETWORK && ctx.store.network_users(net.id)?.is_empty() {
            destroy(ctx, &net)?;
            removed.push(net.name);
        }
    }
    Ok(removed)
}

/// Networks whose creator died before marking them ready (gc removes them).
pub fn abandoned(ctx: &Ctx) -> Result<Vec<Network>> {
    let mut out = Vec::new();
    for n in ctx.store.networks()? {
        if n.state == NetworkState::Creating {
            if let Some(owner) = ctx.store.network_owner(&n.name)? {
                if !proc::alive(owner) {
                    out.push(n);
                }
            }
        }
    }
    Ok(out)
}

/// Finish or undo a network whose creator died: keep it (made whole) when containers already
/// use it, remove it otherwise.
pub fn repair_abandoned(ctx: &mut Ctx, net: &Network) -> Result<()> {
    if ctx.store.network_users(net.id)?.is_empty() {
        destroy(ctx, net)
    } else {
        realize(ctx, net)?;
        ctx.store.write(|tx| networks::set_ready(tx, &net.name))
    }
}
