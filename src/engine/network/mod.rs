//! Networks: a bridge holding the gateway address, and a subnet its containers draw from.

pub mod macvlan;
pub mod repair;

pub use macvlan::MacvlanRequest;

use super::{firewall, owner, proc, Ctx, DEFAULT_MTU, DEFAULT_NETWORK};
use crate::ipam;
use crate::kernel::{addr, link, route, sysctl};
use crate::model::field::{BRIDGE, GATEWAY, IPV6, MTU, SUBNET};
use crate::model::{
    cli_hint, validate_ifname, validate_name, Error, Network, NetworkState, Result,
};
use crate::plan::netfilter as plan;
use crate::store::NewNetwork;
use ipnet::{Ipv4Net, Ipv6Net};
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
    /// Dual-stack (`--ipv6`): an IPv6 subnet beside the IPv4 one; implied by `subnet6`.
    /// None: not stated. A new network is then IPv4-only (unless `subnet6`), and a runtime's
    /// request agrees with an existing network of either kind (see `runtime::ensure_network`).
    pub ipv6: Option<bool>,
    /// The IPv6 subnet; None with `ipv6`: a /64 picked from `pool6`.
    pub subnet6: Option<Ipv6Net>,
    /// Masquerade IPv6 egress (NAT66); false routes the IPv6 subnet as it is. None: not
    /// stated (on for a new network; a runtime's request takes the existing one's).
    pub nat6: Option<bool>,
    /// Where picked IPv6 subnets come from; None: this host's ULA /48 (chosen at random once
    /// and kept in the store). The CLI's `--ipv6-pool` / `PODNET_IPV6_POOL`.
    pub pool6: Option<Ipv6Net>,
    /// IPv4 too (always true from the CLI). False (a runtime asked for an IPv6-only
    /// network) is refused: podnet's networks are IPv4 or dual-stack.
    pub ipv4: bool,
    /// The agent serves names on the gateways (the CLI's `--dns`, default on there; off
    /// here, the default network's and a runtime's, which have their own DNS).
    pub dns: bool,
    /// A macvlan network (`--driver macvlan`): its parent, mode, range, host access.
    pub macvlan: Option<MacvlanRequest>,
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
            ipv6: None,
            subnet6: None,
            nat6: None,
            pool6: None,
            ipv4: true,
            dns: false,
            macvlan: None,
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
    let ipv6 = spec.ipv6 == Some(true) || spec.subnet6.is_some();
    if !spec.ipv4 {
        return Err(Error::input(format!(
            "IPv6-only networks are not supported: a podnet network always has IPv4; give an IPv4 {SUBNET} too (or none, to get one picked) for a dual-stack network"
        )));
    }
    if !ipv6 && spec.nat6 == Some(false) {
        return Err(Error::input(format!(
            "IPv6 NAT off needs IPv6: add {IPV6} (and an IPv6 {SUBNET}) or drop the IPv6 NAT setting"
        )));
    }
    if let Some(s6) = &spec.subnet6 {
        crate::model::inet6::check_shape6(SUBNET, s6)?;
    }
    // One podnet state per host network namespace: not on another state's tables.
    owner::tables::check_usable(ctx)?;
    let macvlan = match &spec.macvlan {
        Some(m) => {
            let bridges = bridge_names(ctx)?;
            Some(macvlan::check(ctx, spec, m, &bridges)?.0)
        }
        None => None,
    };
    // A macvlan subnet is the parent's LAN: the host has a route there by definition.
    let routes = match macvlan {
        Some(_) => Vec::new(),
        None => route::destinations(ctx.host()?)?,
    };
    // IPv6 routes are read only for a dual-stack network: IPv4 ones cost what they did.
    let routes6 = if ipv6 {
        route::destinations6(ctx.host()?)?
    } else {
        Vec::new()
    };
    let owner = proc::me();
    let net = ctx.store.write(|tx| {
        if tx.network(&spec.name)?.is_some() {
            return Err(Error::conflict(format!(
                "network '{}' already exists: choose another name or remove it first",
                spec.name
            )));
        }
        let all = tx.networks()?;
        if let (Some(m), Some(s)) = (&macvlan, subnet) {
            macvlan::check_others(&all, &s, m)?;
        }
        // A bridge network's subnet may not overlap a macvlan network's LAN either.
        let others: Vec<(String, Ipv4Net)> = all.into_iter().map(|n| (n.name, n.subnet)).collect();
        let subnet = match subnet {
            Some(s) if macvlan.is_some() => s,
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
        let subnet6 = if ipv6 {
            Some(choose_subnet6(tx, spec, &routes6)?)
        } else {
            None
        };
        let next_id = tx.next_network_id()?;
        let bridge = match &macvlan {
            Some(_) => macvlan::shim_name(next_id),
            None => spec
                .bridge
                .clone()
                .unwrap_or_else(|| bridge_name(&spec.name, next_id)),
        };
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
            subnet6,
            gateway6: subnet6.as_ref().map(ipam::first_host6),
            nat6: spec.nat6.unwrap_or(true),
            mtu,
            internal: spec.internal,
            icc: spec.icc,
            // Names are served on a podnet gateway; a macvlan network's is the LAN's router.
            dns: spec.dns && macvlan.is_none(),
            macvlan: macvlan.as_ref(),
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
    if net.dns {
        super::names::changed(ctx);
    }
    Ok(Network {
        state: NetworkState::Ready,
        ..net
    })
}

/// A dual-stack network's IPv6 subnet: the one given, checked against other networks and the
/// host's IPv6 routes, or the first free /64 of the pool.
fn choose_subnet6(
    tx: &dyn crate::store::Writes,
    spec: &NetworkRequest,
    routes6: &[Ipv6Net],
) -> Result<Ipv6Net> {
    let others: Vec<(String, Ipv6Net)> = tx
        .networks()?
        .into_iter()
        .filter_map(|n| Some((n.name, n.subnet6?)))
        .collect();
    if let Some(s) = spec.subnet6 {
        ipam::check_subnet6(&s, &others, routes6)?;
        return Ok(s);
    }
    let pool = match spec.pool6 {
        Some(p) => p,
        None => tx.ula48()?.ok_or_else(|| {
            Error::failed(format!(
                "the state store has lost this host's unique local IPv6 prefix (meta 'ula48'): give an IPv6 {SUBNET} or an IPv6 pool"
            ))
        })?,
    };
    let taken: Vec<Ipv6Net> = others
        .iter()
        .map(|o| o.1)
        .chain(routes6.iter().copied())
        .collect();
    ipam::pick_subnet6(&pool, &taken)
}

/// Make the kernel match a network record (idempotent).
pub(super) fn realize(ctx: &mut Ctx, net: &Network) -> Result<()> {
    realize_noting(ctx, net, &mut false)
}

/// [`realize`], setting `created` when it created the bridge (before anything after that fails).
fn realize_noting(ctx: &mut Ctx, net: &Network, created: &mut bool) -> Result<()> {
    if !net.is_bridge() {
        return macvlan::realize(ctx, net, created);
    }
    make_bridge_noting(ctx, net, created)?;
    let facts = firewall::net_facts(net);
    let mut batch = plan::add_network(&facts);
    if let Some(o) = super::overlay::network::facts(&ctx.root) {
        // Refused when the tables were rendered before the node joined (no overlay sets):
        // then the full render puts everything in.
        batch.append(plan::add_overlay_network(&o, &facts));
    }
    firewall::apply_or_sync(ctx, &batch)?;
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
    // A dual-stack bridge does no DAD (see `make_bridge6`): set while it is down, since the
    // kernel starts DAD of its link-local address the moment it comes up (a bridge without
    // ports has a carrier).
    let dual = net.subnet6.is_some();
    let no_dad = |ifname: &str| {
        if dual {
            sysctl::ensure_if6(ifname, "accept_dad", "0")?;
        }
        Ok(())
    };
    let bridge = link::ensure_bridge_with(rtnl, &net.bridge, net.mtu, &me.link_alias(), &no_dad)?;
    *created = bridge.created;
    let index = bridge.link.index;
    if bridge.created {
        // A fixed address: the gateway's neighbour entry in every container stays right when
        // the port whose address the bridge would otherwise borrow leaves (the gateway went
        // silent for ~30 s after `rm` of that container; tests/agent.rs, 100 run/rm).
        link::set_address(rtnl, index, crate::model::Mac::for_container(net.gateway).0)?;
    } else {
        let found = owner::names::existing_bridge(&me, rtnl, bridge.link, net)?;
        if !found.up {
            no_dad(&net.bridge)?;
            link::set_up(rtnl, found.index)?;
        }
    }
    addr::add(rtnl, index, net.gateway, net.subnet.prefix_len())?;
    // Locally originated traffic to 127.0.0.1:PUBLISHED is DNAT'ed out of this bridge; the
    // kernel drops loopback-sourced packets on a device without route_localnet. Set on podnet's
    // bridges only (never globally); podnet's input rule keeps containers off the host's
    // loopback services (CVE-2020-8558).
    sysctl::ensure_if(&net.bridge, "route_localnet", "1")?;
    if net.subnet6.is_some() {
        // IPv6 has no route_localnet: the host's own [::1]:PUBLISHED needs this route (see
        // kernel::loopback6).
        crate::kernel::loopback6::add(rtnl, index)?;
    }
    if !net.internal {
        // Routing between the bridge and the rest of the world (outbound NAT, published ports).
        sysctl::ensure("net.ipv4.ip_forward", "1")?;
    }
    if let (Some(subnet6), Some(gateway6)) = (net.subnet6, net.gateway6) {
        make_bridge6(ctx, net, index, subnet6, gateway6)?;
    }
    Ok(index)
}

/// The IPv6 half of a dual-stack network's bridge: it takes no router advertisement (it is
/// the router of its link: a container's RA must never configure the host), does no DAD
/// (`accept_dad=0`, set before it is up: its link-local address is the source of the
/// neighbour solicitations for forwarded traffic, and the kernel sends none while it is
/// tentative, ~1-2 s after the bridge comes up: published ports and NAT66 replies would
/// stall), holds the IPv6
/// gateway (no DAD either: usable at once), and the host forwards IPv6 — turned on with the first
/// IPv6 network, after the host's RA-configured interfaces are made to keep their routes
/// (see `sysctl::enable_ipv6_forwarding`), which is said on stderr.
fn make_bridge6(
    ctx: &mut Ctx,
    net: &Network,
    index: u32,
    subnet6: Ipv6Net,
    gateway6: std::net::Ipv6Addr,
) -> Result<()> {
    sysctl::ensure_if6(&net.bridge, "accept_ra", "0")?;
    addr::add6(ctx.host()?, index, gateway6, subnet6.prefix_len())?;
    if net.internal || sysctl::get("net.ipv6.conf.all.forwarding").as_deref() == Some("1") {
        return Ok(());
    }
    // podnet's own links are left as they are (its bridges take no RA at all).
    let bridges = bridge_names(ctx)?;
    let raised = sysctl::enable_ipv6_forwarding(|name| {
        owner::names::reserved(name) || bridges.iter().any(|b| b == name)
    })?;
    if !raised.is_empty() {
        eprintln!(
            "podnet: IPv6 forwarding is now on; accept_ra raised from 1 to 2 on {} so that they keep the routes router advertisements give them",
            raised.join(", ")
        );
    }
    Ok(())
}

/// The index of a network's bridge, re-creating the bridge when it is missing (deleted from
/// outside, or gone with a reboot): a container can always join a recorded network.
/// Never another state's bridge: its mark comes with the lookup.
pub fn bridge_index(ctx: &mut Ctx, net: &Network) -> Result<u32> {
    let index = match link::get(ctx.host()?, &net.bridge)? {
        Some(b) => {
            owner::names::refuse_foreign_bridge(&owner::Identity::of(ctx), &b, net)?;
            b.index
        }
        None => make_bridge(ctx, net)?,
    };
    ctx.bridges.insert(net.bridge.clone(), index);
    Ok(index)
}

/// The index [`bridge_index`] last found for `net` in this context, if any: possibly stale
/// (only for a use the kernel checks, and that looks again when refused).
pub fn known_bridge_index(ctx: &mut Ctx, net: &Network) -> Option<u32> {
    ctx.bridges.get(&net.bridge).copied()
}

/// Forget what [`known_bridge_index`] would answer for `net`.
pub fn forget_bridge_index(ctx: &mut Ctx, net: &Network) {
    ctx.bridges.remove(&net.bridge);
}

/// Remove a network this process has claimed (`removing`, owned by it): its bridge (only if
/// this store made it: when undoing a create, `undo` says whether that very call made it;
/// otherwise the bridge's mark decides), then its record, then its netfilter state.
fn destroy(ctx: &mut Ctx, net: &Network, undo: Option<bool>) -> Result<()> {
    if !net.is_bridge() {
        // No bridge, no netfilter state: its shim (marked, so only this store's) and record.
        macvlan::remove_shim(ctx, net)?;
        return ctx.store.write(|tx| tx.delete_network(&net.name));
    }
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
    let left = ctx.store.networks()?;
    if left.is_empty() || (net.subnet6.is_some() && !left.iter().any(firewall::dual_stack)) {
        // The last network (or the last dual-stack one) took podnet's reason to have tables
        // (or the IPv6 ones): render them from the store, which removes them.
        firewall::sync(ctx)?;
    } else {
        firewall::apply_or_sync(ctx, &plan::remove_network(&firewall::net_facts(net)))?;
        firewall::forward_accepts(ctx)?;
    }
    // A running agent stops serving on the gateway (a bridge made again under the same
    // name is a new interface its old sockets would not hear).
    if net.dns {
        super::names::changed(ctx);
    }
    Ok(())
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
        None if name == DEFAULT_NETWORK => {
            // A node in a cluster: the node's subnet (normally its agent made it already).
            let joined = super::overlay::network::joined(&ctx.root);
            let req = match &joined {
                Some(j) => super::overlay::network::default_request(j),
                None => NetworkRequest {
                    name: name.into(),
                    ..Default::default()
                },
            };
            let n = match create(ctx, &req) {
                Ok(n) => n,
                // Lost a race with a concurrent first use: the other process's record is
                // fine. Refused for another reason (its bridge name is taken): say that.
                Err(e) if e.is_bad_input() => match ctx.store.network(name)? {
                    Some(n) => n,
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            };
            if joined.is_some() {
                // The node's own connections to cluster VIPs leave through it
                // (`service::route`); its agent puts the route back at its next start too.
                if let Err(e) = crate::engine::service::route::sync(ctx) {
                    eprintln!("podnet: warning: no route for the service range: {e}");
                }
            }
            n
        }
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
    if let Some(j) = super::overlay::network::joined(&ctx.root) {
        return Ok(Some(j.subnet));
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

/// The `bridge` column of every recorded network (a macvlan network's: its host shim).
fn bridge_names(ctx: &Ctx) -> Result<Vec<String>> {
    Ok(ctx
        .store
        .networks()?
        .into_iter()
        .map(|n| n.bridge)
        .collect())
}
