//! Telling whoever serves names (the agent, issue 10) that they changed. The change is
//! already in the store; this only makes "a name resolves as soon as `run` returns, and is
//! gone when `rm` returns" true by waiting (bounded) for it to be served. Never fails a
//! command.
//!
//! How the server is told is not the engine's business: the front end that opened the
//! context supplies an [`Announce`] (`Ctx::announce_names`; the CLI and the runtime plugins
//! hand in `agent::client::Announcer`). A context without one tells no one (the agent's own).
//!
//! The same front-end hook hears, on every network, that a container changed as a service
//! backend ([`Announce::backends_changed`]): a cluster node's agent publishes its containers
//! to etcd then (issue 11), instead of polling the store.
//!
//! Cost on the hot path: a network without DNS pays one row read (the network's, already
//! cached by SQLite), plus one for the container's later networks; nothing is sent and no
//! socket opened.

use super::Ctx;
use crate::model::{Endpoint, Mode, Result};

/// Whoever serves the store's names and must hear of a change before a command returns.
pub trait Announce: Send {
    /// The names in the store changed: return once they are served. `start`: a container
    /// joined a DNS-enabled network, so a server that is not running must be started (when
    /// false, a stopped one serves nothing and reads the store when it starts). An error is
    /// one line for the user (a warning: the command succeeded). `container`: when only one
    /// container's names changed, its id (a server may then read only its names); None:
    /// anything may have changed (networks, services).
    fn changed(&self, start: bool, container: Option<i64>) -> std::result::Result<(), String>;

    /// A container may have changed as a service backend (it became ready, is being
    /// removed, stopped, or was relabelled): tell whoever publishes this node's containers to
    /// a cluster (issue 11). Returns at once and never fails a command; the default tells no
    /// one (single-host front ends need nothing more).
    fn backends_changed(&self) {}
}

/// Whether `ep` is named somewhere: it is on a DNS-enabled network, or it is a container
/// with a later network that is.
pub fn serves(ctx: &Ctx, ep: &Endpoint) -> Result<bool> {
    let Mode::Bridge(n) = &ep.mode else {
        return Ok(false);
    };
    if ctx.store.network(n)?.is_some_and(|n| n.dns) {
        return Ok(true);
    }
    let members = ctx.store.members_of(ep.id)?;
    if members.is_empty() {
        return Ok(false);
    }
    let networks = ctx.store.networks()?;
    Ok(members
        .iter()
        .any(|m| networks.iter().any(|n| n.id == m.network_id && n.dns)))
}

/// Whether any network has DNS (services are named on every one).
pub fn any_dns_network(ctx: &Ctx) -> Result<bool> {
    Ok(ctx.store.networks()?.iter().any(|n| n.dns))
}

/// The container `ep` names: itself, or the container a member endpoint (a later network)
/// belongs to. Read while the member's row still exists.
pub fn container_of(ctx: &Ctx, ep: &Endpoint) -> Result<i64> {
    Ok(ctx.store.member(ep.id)?.map_or(ep.id, |m| m.container_id))
}

/// Container `container` joined a DNS-enabled network: it must be served before the command
/// returns, so a server that is not running is started.
pub fn joined(ctx: &Ctx, container: i64) {
    tell(ctx, true, Some(container));
}

/// Container `container` left a DNS-enabled network (or went): tell a running server.
pub fn left(ctx: &Ctx, container: i64) {
    tell(ctx, false, Some(container));
}

/// Names went away or changed (a service or network changed): tell a running server.
pub fn changed(ctx: &Ctx) {
    tell(ctx, false, None);
}

/// A container may have changed as a service backend: tell the cluster's publisher, if any.
pub fn backends_changed(ctx: &Ctx) {
    if let Some(a) = ctx.names.as_ref() {
        a.backends_changed();
    }
}

fn tell(ctx: &Ctx, start: bool, container: Option<i64>) {
    if let Some(Err(e)) = ctx.names.as_ref().map(|a| a.changed(start, container)) {
        eprintln!("podnet: warning: {e}");
    }
}
