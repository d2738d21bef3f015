//! Repair after a crash: finish or undo every half-done operation whose process is gone, and
//! remove kernel objects podnet made that no record owns.

use super::{detach, firewall, network, proc, Ctx};
use crate::kernel::{link, netns};
use crate::model::{EndpointState, Result};
use std::collections::HashSet;
use std::path::Path;

/// What `gc` did, for the user.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub endpoints: Vec<String>,
    pub links: Vec<String>,
    pub namespaces: Vec<String>,
    pub networks: Vec<String>,
    /// Logs of containers no record knows.
    pub logs: Vec<String>,
}

pub fn run(ctx: &mut Ctx) -> Result<Report> {
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
    let mounts: Vec<std::path::PathBuf> = std::fs::read_dir(ctx.run_dir.join("netns"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let logs = super::logs::listed(ctx);
    let endpoints = ctx.store.endpoints()?;
    let veths: HashSet<&str> = endpoints
        .iter()
        .filter_map(|e| e.host_veth.as_deref())
        .collect();
    for l in links {
        if is_podnet_veth(&l.name) && !veths.contains(l.name.as_str()) {
            link::delete(ctx.host()?, &l.name)?;
            report.links.push(l.name);
        }
    }
    let owned: HashSet<&str> = endpoints
        .iter()
        .filter(|e| e.netns_owned)
        .filter_map(|e| e.netns.as_deref())
        .collect();
    for p in mounts {
        if !owned.contains(p.to_string_lossy().as_ref()) {
            netns::remove(&p)?;
            report.namespaces.push(p.display().to_string());
        }
    }
    let names: HashSet<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
    report.logs = super::logs::remove_orphans(ctx, logs, &names);
    // Re-render podnet's tables from the store: repairs a flushed or edited ruleset.
    firewall::sync(ctx)?;
    super::service::sync(ctx)?;
    Ok(report)
}

fn is_podnet_veth(name: &str) -> bool {
    name.strip_prefix("pnv")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
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
