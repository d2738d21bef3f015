//! Repair: make the kernel match the store again after a crash, a reboot or damage from
//! outside. Bridges are made again from their records; each container is retired when dead
//! or repaired when damaged (`health`); half-done networks are finished or removed; kernel
//! objects podnet made that no record owns are removed; the tables are re-rendered.
//! Numbered steps `gc:K` (the fault switch).

use super::{firewall, health, network_repair, Ctx};
use crate::fault;
use crate::kernel::{link, netns};
use crate::model::Result;
use std::collections::HashSet;

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
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
            && self.networks.is_empty()
            && self.links.is_empty()
            && self.namespaces.is_empty()
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

/// Remove `pnv*` links and namespace mounts that no record owns.
fn orphans(ctx: &mut Ctx, report: &mut Report) -> Result<()> {
    // Kernel first, records second: a record is always committed before its kernel object is
    // made, so everything in this listing that belongs to a live operation already has its
    // record when the store is read next. (The other order races with a concurrent attach.)
    let links = link::list(ctx.host()?)?;
    let mounts: Vec<std::path::PathBuf> = std::fs::read_dir(ctx.run_dir.join("netns"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
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
    Ok(())
}

fn is_podnet_veth(name: &str) -> bool {
    name.strip_prefix("pnv")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
