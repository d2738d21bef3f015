//! Telling the agent that the names it serves changed (issue 10). The change is already in
//! the store; this only makes "a name resolves as soon as `run` returns, and is gone when
//! `rm` returns" true by waiting (bounded) for the agent to serve it. Never fails a command.
//!
//! Cost on the hot path: a network without DNS pays one row read (the network's, already
//! cached by SQLite); nothing is sent and no socket opened.

use super::Ctx;
use crate::agent::client::{self, Told};
use crate::model::{Endpoint, Mode, Result};

/// Whether `ep` is on a DNS-enabled network (so its names are served).
pub fn serves(ctx: &Ctx, ep: &Endpoint) -> Result<bool> {
    match &ep.mode {
        Mode::Bridge(n) => Ok(ctx.store.network(n)?.is_some_and(|n| n.dns)),
        _ => Ok(false),
    }
}

/// Whether any network has DNS (services are named on every one).
pub fn any_dns_network(ctx: &Ctx) -> Result<bool> {
    Ok(ctx.store.networks()?.iter().any(|n| n.dns))
}

/// A container joined a DNS-enabled network: the agent must serve it before the command
/// returns, so an agent that is not running is started.
pub fn joined(ctx: &Ctx) {
    tell(ctx, true);
}

/// Names went away or changed (a container left, a service or network changed): tell a
/// running agent; a stopped one serves nothing and reads the store when it starts.
pub fn changed(ctx: &Ctx) {
    tell(ctx, false);
}

fn tell(ctx: &Ctx, start: bool) {
    match client::sync(&ctx.root, &ctx.run_dir, start) {
        Ok(Told::Synced(_) | Told::Down) => {}
        Err(e) => eprintln!(
            "podnet: warning: the agent did not confirm the change of names: {e}; names follow once it runs (`podnet agent`, log in {})",
            client::log_path(&ctx.root).display()
        ),
    }
}
