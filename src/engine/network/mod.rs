//! Networks: a bridge holding the gateway address, and a subnet its containers draw from.

pub mod repair;

use super::{firewall, owner, proc, Ctx, DEFAULT_MTU, DEFAULT_NETWORK};
use crate::ipam;
use crate::kernel::{addr, link, route, sysctl};
use crate::model::field::{BRIDGE, GATEWAY, MTU, SUBNET};
use crate::model::{
    cli_hint, validate_ifname, validate_name, Error, Network, NetworkState, Result,
};
use crate::plan::netfilter as plan;
use crate::store::NewNetwork;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// A network to create, parsed (the CLI's `network create`, a CNI or netavark network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRequest {
    pub name: String,
    /// None: picked from the private pools, avoiding the host's routes and other networks.
    pub subnet: Option<Ipv4Net>,
    /// None: the subnet's first host address. Needs `subnet`.
    pub gateway: Option<Ipv4Addr>,
    pub mtu: Option<u32>,
    pub bridge: Option<String>,
    pub internal: bool,
    /// Containers on the network may talk to each other (`--icc`, default true).
    pub icc: bool,
}

impl Default for NetworkRequest {
    fn default() -> Self {
        NetworkRequest {
            name: String::new(),
            subnet: None,
            gateway: None,
            mtu: None,
            bridge: None,
            internal: false,
            icc: true,
        }
    }
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
pub fn create(ctx: &mut Ctx, spec: &NetworkRequest) -> Result<Network> {
    validate_name("network", &spec.name)?;
    if ["bridge", "host", "none"].contains(&spec.name.as_str())
        || spec.name.starts_with("container:")
    {
        return Err(Error::input(format!(
            "network name '{}' is reserved for a network mode: choose another name",
            spec.name
        )));
    }
    let (subnet, gateway) = (spec.subnet, spec.gateway);
    if gateway.is_some() && subnet.is_none() {
        return Err(Error::input(format!(
            "{GATEWAY} needs {SUBNET}: give the subnet the gateway belongs to"
        )));
    }
    let mtu = spec.mtu.unwrap_or(DEFAULT_MTU);
    if !(68..=65535).contains(&mtu) {
        return Err(Error::input(format!(
            "{MTU} {mtu} is out of range: use 68 to 65535"
        )));
    }
    if let Some(b) = &spec.bridge {
        validate_ifname(BRIDGE, b)?;
        owner::names::check_bridge_flag(ctx, b)?;
    }
    // One podnet state per host network namespace: not on another state's tables.
    owner::tables::check_usable(ctx)?;
    let routes = route::destinations(ctx.host()?)?;
    let owner = proc::me();
    let net = ctx.store.write(|tx| {
        if tx.network(&spec.name)?.is_some() {
            return Err(Error::conflict(format!(
                "network '{}' already exists: choose another name or remove it first",
                spec.name
            )));
        }
        let others: Vec<(String, Ipv4Net)> = tx
            .networks()?
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
                ipam::check_requested(GATEWAY, &subnet, g)?;
                g
            }
            None => ipam::first_host(&subnet),
        };
        let next_id = tx.next_network_id()?;
        let bridge = spec
            .bridge
            .clone()
            .unwrap_or_else(|| bridge_name(&spec.name, next_id));
        if tx.networks()?.iter().any(|n| n.bridge == bridge) {
            return Err(Error::input(format!(
                "bridge {bridge} is already used by another network: choose another {BRIDGE}"
            )));
        }
        tx.insert_network(&NewNetwork {
            name: &spec.name,
            bridge: &bridge,
            subnet,
            gateway,
            subnet6: None,
            gateway6: None,
            nat6: true,
            mtu,
            internal: spec.internal,
            icc: spec.icc,
            owner,
        })?;
        Ok(tx.network(&spec.name)?.expect("row just inserted"))
    })?;
    let mut created = false;
    if let Err(e) = realize_noting(ctx, &net, &mut created) {
        // Undo: the bridge goes only if this very call created it.
        let undo = undo_create(ctx, &net, created);
        return Err(match undo {
            Ok(()) => e,
            Err(u) => e.undo_failed(u),
        });
    }
    ctx.store.write(|tx| tx.set_network_ready(&net.name))?;
    Ok(Network {
        state: NetworkState::Ready,
        ..net
    })
}

/// Make the kernel match a network record (idempotent).
pub(super) fn realize(ctx: &mut Ctx, net: &Network) -> Result<()> {
    realize_noting(ctx, net, &mut false)
}

/// [`realize`], setting `created` when it created the bridge (before anything after that fails).
fn realize_noting(ctx: &mut Ctx, net: &Network, created: &mut bool) -> Result<()> {
    make_bridge_noting(ctx, net, created)?;
    firewall::apply_or_sync(ctx, &plan::add_network(&firewall::net_facts(net)))?;
    firewall::forward_accepts(ctx)
}

/// A network's bridge as its record says: up, holding the gateway address, with podnet's
/// sysctls (idempotent). Returns the bridge's index. Uses an existing bridge only if this store
/// made it (see `owner::names::existing_bridge`).
pub fn make_bridge(ctx: &mut Ctx, net: &Network) -> Result<u32> {
    make_bridge_noting(ctx, net, &mut false)
}

fn make_bridge_noting(ctx: &mut Ctx, net: &Network, created: &mut bool) -> Result<u32> {
    let me = owner::Identity::of(ctx);
    let rtnl = ctx.host()?;
    let bridge = link::ensure_bridge(rtnl, &net.bridge, net.mtu, &me.link_alias())?;
    *created = bridge.created;
    let index = bridge.link.index;
    if !bridge.created {
        let found = owner::names::existing_bridge(&me, rtnl, bridge.link, net)?;
        if !found.up {
            link::set_up(rtnl, found.index)?;
        }
    }
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
    Ok(index)
}

/// The index of a network's bridge, re-creating the bridge when it is missing (deleted from
/// outside, or gone with a reboot): a container can always join a recorded network.
/// Never another state's bridge: its mark comes with the lookup.
pub fn bridge_index(ctx: &mut Ctx, net: &Network) -> Result<u32> {
    match link::get(ctx.host()?, &net.bridge)? {
        Some(b) => {
            owner::names::refuse_foreign_bridge(&owner::Identity::of(ctx), &b, net)?;
            Ok(b.index)
        }
        None => make_bridge(ctx, net),
    }
}

/// Remove a network this process has claimed (`removing`, owned by it): its bridge (only if
/// this store made it: when undoing a create, `undo` says whether that very call made it;
/// otherwise the bridge's mark decides), then its record, then its netfilter state.
fn destroy(ctx: &mut Ctx, net: &Network, undo: Option<bool>) -> Result<()> {
    let me = owner::Identity::of(ctx);
    let rtnl = ctx.host()?;
    let ours = match undo {
        Some(created) => created,
        None => owner::names::bridge_is_mine(&me, rtnl, net)?,
    };
    if ours {
        link::delete(rtnl, &net.bridge)?;
    }
    ctx.store.write(|tx| tx.delete_network(&net.name))?;
    if ctx.store.networks()?.is_empty() {
        // The last network took podnet's reason to have tables: remove them.
        firewall::sync(ctx)
    } else {
        firewall::apply_or_sync(ctx, &plan::remove_network(&firewall::net_facts(net)))?;
        firewall::forward_accepts(ctx)
    }
}

/// Claim a network this process is creating and remove it (undo of a failed create; `created`:
/// whether the create made the bridge).
fn undo_create(ctx: &mut Ctx, net: &Network, created: bool) -> Result<()> {
    let me = proc::me();
    if ctx
        .store
        .write(|tx| tx.claim_network(net.id, NetworkState::Creating, Some(me), me))?
    {
        destroy(ctx, net, Some(created))?;
    }
    Ok(())
}

/// Finish removing a network whose remover died (gc).
pub(super) fn finish_removal(ctx: &mut Ctx, net: &Network) -> Result<()> {
    destroy(ctx, net, None)
}

/// The network an endpoint joins, creating the default network on first use. A network still
/// `creating` (another process is making it, or one crashed doing so) is realised again here;
/// that is safe because realising is idempotent.
pub fn resolve(ctx: &mut Ctx, name: &str) -> Result<Network> {
    let net = match ctx.store.network(name)? {
        Some(n) => n,
        None if name == DEFAULT_NETWORK => match create(
            ctx,
            &NetworkRequest {
                name: name.into(),
                ..Default::default()
            },
        ) {
            Ok(n) => n,
            // Lost a race with a concurrent first use: the other process's record is fine.
            // Refused for another reason (its bridge name is taken): say that.
            Err(e) if e.is_bad_input() => match ctx.store.network(name)? {
                Some(n) => n,
                None => return Err(e),
            },
            Err(e) => return Err(e),
        },
        None => {
            return Err(Error::input(format!(
                "network '{name}' does not exist{}",
                cli_hint(&format!(
                    ": create it with `podnet network create {name}` or see `podnet network ls`"
                ))
            )))
        }
    };
    match net.state {
        NetworkState::Creating => {
            realize(ctx, &net)?;
            ctx.store.write(|tx| tx.set_network_ready(&net.name))?;
        }
        NetworkState::Removing => {
            return Err(Error::input(format!(
                "network '{name}' is being removed: create it again or use another network"
            )))
        }
        NetworkState::Ready => {}
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
    let me = proc::me();
    // Judged and claimed in one transaction: a container joining meanwhile either committed
    // its lease first (refused here) or sees the network `removing` (refused there).
    let net = ctx.store.write(|tx| {
        let net = tx.network(name)?.ok_or_else(|| {
            Error::input(format!(
                "network '{name}' does not exist: see `podnet network ls`"
            ))
        })?;
        let users = tx.network_users(net.id)?;
        if !users.is_empty() {
            return Err(Error::input(format!(
                "network '{name}' is in use by {}: remove those containers first (`podnet rm -f NAME`)",
                users.join(", ")
            )));
        }
        if name == DEFAULT_NETWORK && tx.any_service()? {
            return Err(Error::input(format!(
                "network '{name}' carries the host's route to service VIPs: remove the services first (`podnet service ls`)"
            )));
        }
        let owner = tx.network_owner(net.id)?;
        if net.state != NetworkState::Ready && owner.is_some_and(proc::alive) {
            return Err(Error::failed(format!(
                "network '{name}' is being created or removed by another podnet process"
            )));
        }
        if !tx.claim_network(net.id, net.state, owner, me)? {
            return Err(Error::failed(format!("network '{name}' changed meanwhile: try again")));
        }
        Ok(net)
    })?;
    destroy(ctx, &net, None)
}

/// Remove every network no container uses, except the default one. Returns their names.
pub fn prune(ctx: &mut Ctx) -> Result<Vec<String>> {
    let me = proc::me();
    let mut removed = Vec::new();
    for net in ctx.store.networks()? {
        if net.name == DEFAULT_NETWORK || net.state != NetworkState::Ready {
            continue;
        }
        // Skipped when a container joined it since the listing.
        if ctx
            .store
            .write(|tx| tx.claim_network(net.id, NetworkState::Ready, None, me))?
        {
            destroy(ctx, &net, None)?;
            removed.push(net.name);
        }
    }
    Ok(removed)
}
