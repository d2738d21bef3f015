//! Repair: make the kernel match the store again after a crash, a reboot or damage from
//! outside. Bridges are made again from their records; each container is retired when dead
//! or repaired when damaged (`health`); half-done networks are finished or removed; kernel
//! objects this store made that no record owns are removed (and nothing it did not make: see
//! `owner`); the tables are re-rendered.
//! Numbered steps `gc:K` (the fault switch).

use super::network::repair as network_repair;
use super::{firewall, health, owner, Ctx};
use crate::fault;
use crate::kernel::link;
use crate::model::Result;

/// One thing gc did to a container or a network, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Action {
    pub name: String,
    /// `retired` (dead: record, lease and ports released), `repaired`, `removed`, `finished`.
    pub action: &'static str,
    pub why: String,
}

impl Action {
    pub fn new(name: &str, action: &'static str, why: impl Into<String>) -> Action {
        Action {
            name: name.to_string(),
            action,
            why: why.into(),
        }
    }
    pub fn retired(name: &str, why: impl Into<String>) -> Action {
        Action::new(name, "retired", why)
    }
    pub fn repaired(name: &str, why: impl Into<String>) -> Action {
        Action::new(name, "repaired", why)
    }
}

/// What `gc` did, for the user.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub containers: Vec<Action>,
    pub networks: Vec<Action>,
    /// Links podnet made that no record owns (removed).
    pub links: Vec<String>,
    /// Namespace mounts podnet made that no record owns (removed).
    pub namespaces: Vec<String>,
    /// Logs no record names (removed).
    pub logs: Vec<String>,
    /// Another state's tables (removed by `--remove-foreign` only).
    pub tables: Vec<String>,
    /// podnet objects left alone because this store did not make them.
    pub foreign: Vec<String>,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
            && self.networks.is_empty()
            && self.links.is_empty()
            && self.namespaces.is_empty()
            && self.logs.is_empty()
            && self.tables.is_empty()
    }
}

/// How much of the repair to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything (`podnet gc`).
    Full,
    /// What a boot breaks (the first command after one): bridges, containers, networks and
    /// tables; not the sweep of orphan links and mounts, which only a crash leaves.
    Boot,
}

pub fn run(ctx: &mut Ctx, scope: Scope) -> Result<Report> {
    if scope == Scope::Full {
        // An empty store facing podnet objects it did not make refuses before touching
        // anything. (The boot scope deletes nothing of anyone's: it has no need to.)
        owner::lost::refuse_if_lost(ctx)?;
    }
    let mut report = Report::default();
    // Bridges first: containers are re-wired to them below.
    network_repair::bridges(ctx, &mut report.networks)?;
    let listed = ctx.store.endpoint_ids()?;
    fault::step("gc", 1);
    for id in listed {
        health::check(ctx, id, &mut report.containers)?;
    }
    fault::step("gc", 2);
    network_repair::abandoned(ctx, &mut report.networks)?;
    fault::step("gc", 3);
    if scope == Scope::Full {
        orphans(ctx, &mut report)?;
    }
    fault::step("gc", 4);
    // Re-render podnet's tables from the store: repairs a flushed or edited ruleset, and
    // after a boot makes them for the first time.
    firewall::sync(ctx)?;
    super::service::sync(ctx)?;
    fault::step("gc", 5);
    Ok(report)
}

/// `gc --remove-foreign`: first remove the podnet objects this store did not make (a state
/// that is lost for good left them), then gc as usual.
pub fn run_removing_foreign(ctx: &mut Ctx) -> Result<Report> {
    let removed = owner::lost::remove_foreign(ctx)?;
    let mut report = run(ctx, Scope::Full)?;
    report.links.splice(0..0, removed.links);
    report.namespaces.splice(0..0, removed.namespaces);
    report.tables = removed.tables;
    Ok(report)
}

/// Remove links marked with this store's id and namespace mounts of a run dir it owns that no
/// record owns (`owner::sweep`).
fn orphans(ctx: &mut Ctx, report: &mut Report) -> Result<()> {
    // Kernel first, records second: a record is always committed before its kernel object is
    // made, so everything in this listing that belongs to a live operation already has its
    // record when the store is read next. (The other order races with a concurrent attach.)
    let links = link::list(ctx.host()?)?;
    let mounts = owner::sweep::own_mounts(ctx)?;
    // Logs live under this store's own root: every one no record names is this store's orphan.
    let logs = super::logs::listed(ctx);
    let swept = owner::sweep::orphans(ctx, links, mounts)?;
    report.links = swept.links;
    report.namespaces = swept.namespaces;
    report.foreign = swept.foreign;
    let endpoints = ctx.store.endpoints()?;
    let names: std::collections::HashSet<&str> =
        endpoints.iter().map(|e| e.name.as_str()).collect();
    report.logs = super::logs::remove_orphans(ctx, logs, &names);
    Ok(())
}
