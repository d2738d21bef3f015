//! A container on several networks (issue 10): `network connect` adds a network as the next
//! `ethN`, `network disconnect` removes it, `run --network a --network b` starts on several.
//!
//! Each network after a container's first is an endpoint of its own (its lease, veth, MAC,
//! anti-spoofing elements: everything `attach` makes, with the same numbered steps and the
//! same repair by `gc`), named `CONTAINER:NETWORK` (no container name has a ':'), in the
//! container's namespace, recorded as the container's member (`store::Member`) in the
//! transaction that inserts it. The first network keeps eth0 and the default route(s); a
//! member has only its subnet's route. Services choose a container by its name or labels,
//! which are the container's (its first endpoint's): a multi-homed backend is reached at its
//! first network's address. Removing the container removes its members first
//! (`detach::teardown_claimed`).

use super::find;
use crate::engine::setup::{self, EndpointSpec, Netns};
use crate::engine::{detach, proc, Ctx, DEFAULT_NETWORK};
use crate::model::field::{ALIAS, NETWORK};
use crate::model::{
    cli_hint, validate_dns_name, Endpoint, EndpointState, Error, Labels, Mode, Network, Result,
};
use crate::store::{Reads, Writes};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// `podnet network connect NETWORK CONTAINER`.
#[derive(Debug, Clone, Default)]
pub struct ConnectRequest {
    pub network: String,
    pub container: String,
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    /// Names of the container on this network (`--alias`).
    pub aliases: Vec<String>,
}

/// The name `bridge` means the default network, as in `--network bridge`.
pub fn network_name(name: &str) -> &str {
    match name {
        "bridge" => DEFAULT_NETWORK,
        n => n,
    }
}

/// Check `--network-alias` names (DNS names).
pub fn check_aliases(aliases: &[String]) -> Result<()> {
    aliases.iter().try_for_each(|a| validate_dns_name(ALIAS, a))
}

/// Connect a container to one more network. Nothing is left behind on failure.
pub fn connect(ctx: &mut Ctx, req: &ConnectRequest) -> Result<Endpoint> {
    check_aliases(&req.aliases)?;
    let c = find(ctx, &req.container)?;
    let net_name = network_name(&req.network);
    // Refused here already so that a refused connect never creates the default network.
    precheck(ctx, &c, net_name)?;
    let member = add(ctx, &c, net_name, req.ip, req.ip6, &req.aliases)?;
    if !setup::mark_ready(ctx, &member, false)? {
        return Err(setup::taken_over(&member.name));
    }
    Ok(member)
}

/// Make `container` a member of `network` (its endpoint stays `creating`, owned by this
/// process, until the caller marks it ready).
pub(super) fn add(
    ctx: &mut Ctx,
    c: &Endpoint,
    network: &str,
    ip: Option<Ipv4Addr>,
    ip6: Option<Ipv6Addr>,
    aliases: &[String],
) -> Result<Endpoint> {
    let Some(path) = c.netns.as_deref() else {
        return Err(not_bridge(c));
    };
    let name = format!("{}:{network}", c.name);
    setup::attach(
        ctx,
        &EndpointSpec {
            name: &name,
            mode: Mode::Bridge(network.to_string()),
            netns: Netns::Existing(PathBuf::from(path)),
            ip,
            ip6,
            ports: &[],
            labels: &Labels::new(),
            owned_by_caller: false,
            ifname: None,
            mac: None,
            runtime: None,
            member_of: Some(c.id),
            aliases,
            delegated: false,
        },
    )
}

/// What the allocation transaction checks again (race-free) refused before anything is made.
fn precheck(ctx: &Ctx, c: &Endpoint, network: &str) -> Result<()> {
    let net_id = ctx.store.network(network)?.map(|n| n.id);
    judge(&*ctx.store, c, network, net_id)?;
    if let Some(p) = c.netns.as_deref() {
        if crate::kernel::netns::open(p.as_ref()).is_err() {
            return Err(Error::input(format!(
                "container '{}' has no network namespace any more (see `podnet ps -a`): remove it",
                c.name
            )));
        }
    }
    Ok(())
}

/// Whether container `c` may join `network` (`net_id` when the network exists, as the
/// transaction sees it).
fn judge(tx: &dyn Reads, c: &Endpoint, network: &str, net_id: Option<i64>) -> Result<()> {
    if !matches!(c.mode, Mode::Bridge(_)) {
        return Err(not_bridge(c));
    }
    let me = proc::me();
    let settled = c.state == EndpointState::Ready
        || (c.state == EndpointState::Creating && c.owner == Some(me));
    if !settled {
        return Err(Error::input(format!(
            "container '{}' is {}: wait until it is running",
            c.name,
            c.state.as_str()
        )));
    }
    let on = match (&c.mode, net_id) {
        (Mode::Bridge(first), _) if first == network => true,
        (_, Some(id)) => tx.members_of(c.id)?.iter().any(|m| m.network_id == id),
        _ => false,
    };
    if on {
        return Err(Error::input(format!(
            "container '{}' is already on network '{network}'{}",
            c.name,
            cli_hint(&format!(
                ": see `podnet inspect {}`, or `podnet network disconnect {network} {}` first",
                c.name, c.name
            ))
        )));
    }
    Ok(())
}

/// Inside the transaction that inserts a member: the container (endpoint `container_id`) is
/// still there, settled, on a bridge network and not yet on `net`. Its interface name: the
/// first free `ethN`.
pub(crate) fn member_check(tx: &dyn Writes, container_id: i64, net: &Network) -> Result<String> {
    let Some(c) = tx.endpoint_by_id(container_id)? else {
        return Err(Error::input(
            "the container was removed meanwhile: see `podnet ps`".to_string(),
        ));
    };
    judge(tx, &c, &net.name, Some(net.id))?;
    tx.free_ifname(container_id)
}

fn not_bridge(c: &Endpoint) -> Error {
    let mode = match &c.mode {
        Mode::Container(o) => format!("container:{o}"),
        m => m.kind().to_string(),
    };
    Error::input(format!(
        "container '{}' uses {NETWORK} {mode}: only containers on bridge networks can join more networks",
        c.name
    ))
}

/// `podnet network disconnect NETWORK CONTAINER`: remove the member, leaving nothing.
pub fn disconnect(ctx: &mut Ctx, network: &str, container: &str) -> Result<()> {
    let c = find(ctx, container)?;
    let network = network_name(network);
    let members = ctx.store.members_of(c.id)?;
    if matches!(&c.mode, Mode::Bridge(first) if first == network) {
        let why = match members.is_empty() {
            true => format!(
                "network '{network}' is container '{container}''s only network: remove the container instead{}",
                cli_hint(&format!(" (`podnet rm -f {container}`)"))
            ),
            false => format!(
                "network '{network}' is container '{container}''s first network (eth0, its default route), which it keeps until it is removed: disconnect its other networks instead"
            ),
        };
        return Err(Error::input(why));
    }
    let net = ctx.store.network(network)?;
    let Some(m) = net.and_then(|n| members.into_iter().find(|m| m.network_id == n.id)) else {
        return Err(Error::input(format!(
            "container '{container}' is not on network '{network}'{}",
            cli_hint(&format!(": see `podnet inspect {container}`"))
        )));
    };
    let me = proc::me();
    let judge = &mut |_: &dyn Reads, ep: &Endpoint| -> Result<bool> {
        if ep.owner.is_some_and(|o| o != me && proc::alive(o)) {
            return Err(Error::failed(format!(
                "container '{container}' is being connected to or disconnected from '{network}' by another podnet process"
            )));
        }
        Ok(true)
    };
    match detach::teardown_if(ctx, m.endpoint_id, false, judge)? {
        Some(_) => Ok(()),
        None => Err(Error::input(format!(
            "container '{container}' is not on network '{network}' any more"
        ))),
    }
}

/// Remove every member of container `c` (its teardown, before the container's own).
pub(crate) fn remove_members(ctx: &mut Ctx, c: &Endpoint) -> Result<()> {
    for m in ctx.store.members_of(c.id)? {
        detach::teardown_if(ctx, m.endpoint_id, false, &mut |_, _| Ok(true))?;
    }
    Ok(())
}
