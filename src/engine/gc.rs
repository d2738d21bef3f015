//! Repair after a crash: finish or undo every half-done operation whose process is gone, and
//! remove kernel objects this store made that no record owns (and nothing it did not make:
//! see `owner`).

use super::{detach, firewall, network, owner, proc, Ctx};
use crate::kernel::{link, netns};
use crate::model::{EndpointState, Result};
use std::path::Path;

/// What `gc` did, for the user.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub endpoints: Vec<String>,
    pub links: Vec<String>,
    pub namespaces: Vec<String>,
    pub networks: Vec<String>,
    /// Another state's tables (`--remove-foreign` only).
    pub tables: Vec<String>,
    /// podnet objects left alone because this store did not make them.
    pub foreign: Vec<String>,
}

pub fn run(ctx: &mut Ctx) -> Result<Report> {
    // An empty store facing podnet objects it did not make refuses before touching anything.
    owner::lost::refuse_if_lost(ctx)?;
    let mut report = Report::default();
    for ep in ctx.store.endpoints()? {
        if is_garbage(ctx, &ep)? {
            detach::repair(ctx, &ep)?;
            report.endpoints.push(ep.name);
        }
    }
    for net in network::abandoned(ctx)? {
        network::repair_abandoned(ctx, &net)?;
        report.networks.push(net.name);
    }
    // Kernel first, records second: a record is always committed before its kernel object is
    // made, so everything in this listing that belongs to a live operation already has its
    // record when the store is read next. (The other order races with a concurrent attach.)
    let links = link::list(ctx.host()?)?;
    let mounts = owner::sweep::own_mounts(ctx)?;
    let swept = owner::sweep::orphans(ctx, links, mounts)?;
    report.links = swept.links;
    report.namespaces = swept.namespaces;
    report.foreign = swept.foreign;
    // Re-render podnet's tables from the store: repairs a flushed or edited ruleset.
    firewall::sync(ctx)?;
    super::service::sync(ctx)?;
    Ok(report)
}

/// `gc --remove-foreign`: first remove the podnet objects this store did not make (a state
/// that is lost for good left them), then gc as usual.
pub fn run_removing_foreign(ctx: &mut Ctx) -> Result<Report> {
    let removed = owner::lost::remove_foreign(ctx)?;
    let mut report = run(ctx)?;
    report.links.splice(0..0, removed.links);
    report.namespaces.splice(0..0, removed.namespaces);
    report.tables = removed.tables;
    Ok(report)
}

/// An endpoint is garbage when the process responsible for it is gone: an operation in progress
/// (creating/removing) or a foreground run whose podnet died, or an attached namespace that no
/// longer exists. A detached container whose command exited is kept, as Docker keeps it.
fn is_garbage(ctx: &Ctx, ep: &crate::model::Endpoint) -> Result<bool> {
    if let Some(owner) = ep.owner {
        if !proc::alive(owner) {
            return Ok(true);
        }
        return Ok(false);
    }
    if ep.state != EndpointState::Ready {
        return Ok(true);
    }
    if !ep.netns_owned {
        if let Some(path) = &ep.netns {
            let recorded = ctx.store.netns_identity(ep.id)?;
            if recorded.is_some() && netns::identity(Path::new(path)) != recorded {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
