//! A lost or replaced store: an empty store (no network, container or service) that finds
//! podnet objects it did not make cannot tell a live state elsewhere from a dead one, so gc
//! refuses rather than deleting them; `podnet gc --remove-foreign` is the explicit way out
//! when that state really is lost.

use super::names::podnet_named;
use super::run_dir::{self, Claim};
use super::sweep::{is_owned, owned_mounts};
use super::{remedy, tables, Identity, Owner, Stamp};
use crate::engine::{detach, proc, Ctx};
use crate::kernel::{link, netns};
use crate::model::{Error, Result};

/// Whether the store records nothing at all.
pub fn records_empty(ctx: &Ctx) -> Result<bool> {
    Ok(ctx.store.networks()?.is_empty()
        && ctx.store.endpoints()?.is_empty()
        && !ctx.store.any_service()?)
}

/// podnet objects here that this store did not make.
#[derive(Default)]
struct Foreign {
    links: Vec<String>,
    namespaces: Vec<String>,
    tables: Vec<String>,
    makers: Vec<Stamp>,
    unmarked: bool,
}

impl Foreign {
    fn is_empty(&self) -> bool {
        self.links.is_empty() && self.namespaces.is_empty() && self.tables.is_empty()
    }

    /// Note who made an object: one entry per store, with its root once any mark names it.
    fn maker(&mut self, s: Option<Stamp>) {
        let Some(s) = s else {
            self.unmarked = true;
            return;
        };
        match self.makers.iter_mut().find(|m| m.id == s.id) {
            Some(m) if m.root.is_none() => m.root = s.root,
            Some(_) => {}
            None => self.makers.push(s),
        }
    }
}

fn survey(ctx: &mut Ctx, me: &Identity) -> Result<Foreign> {
    let mut f = Foreign::default();
    for l in link::list(ctx.host()?)? {
        match me.owner(l.alias.as_deref()) {
            Owner::Mine => {}
            Owner::Other(s) => {
                f.links.push(l.name);
                f.maker(Some(s));
            }
            Owner::Unmarked if podnet_named(&l) => {
                f.links.push(l.name);
                f.maker(None);
            }
            Owner::Unmarked => {}
        }
    }
    for (t, s) in tables::foreign(ctx.nft()?, me)? {
        f.tables.push(t);
        f.maker(s);
    }
    let claim = run_dir::read(&ctx.run_dir, me)?;
    if claim != Claim::Mine {
        let mounts = run_dir::mounts(&ctx.run_dir);
        f.namespaces = mounts
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        if !mounts.is_empty() {
            // Unclaimed mounts: a podnet older than claims made them.
            f.maker(match claim {
                Claim::Other(s) => s,
                _ => None,
            });
        }
    }
    Ok(f)
}

fn list(what: &str, items: &[String]) -> Option<String> {
    const SHOWN: usize = 4;
    if items.is_empty() {
        return None;
    }
    let mut s = format!("{what} {}", items[..items.len().min(SHOWN)].join(", "));
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    Some(s)
}

/// gc with an empty store: refuse when this host has podnet objects the store did not make.
pub fn refuse_if_lost(ctx: &mut Ctx) -> Result<()> {
    if !records_empty(ctx)? {
        return Ok(());
    }
    let me = Identity::of(ctx);
    let f = survey(ctx, &me)?;
    if f.is_empty() {
        return Ok(());
    }
    let found: Vec<String> = [
        list("links", &f.links),
        list("namespaces", &f.namespaces)
            .map(|l| format!("{l} (in {})", ctx.run_dir.join("netns").display())),
        list("tables", &f.tables),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut makers: Vec<String> = f.makers.iter().map(Stamp::describe).collect();
    if f.unmarked {
        makers.push("a podnet that left no store mark (older, or its state is lost)".into());
    }
    Err(Error::failed(format!(
        "{} records nothing, yet this host has podnet objects it did not make ({}; made by {}): gc leaves them alone; {}",
        me.describe(),
        found.join("; "),
        makers.join(" and "),
        remedy(f.makers.first(), &me)
    )))
}

/// What `gc --remove-foreign` removed.
#[derive(Debug, Default)]
pub struct Removed {
    pub links: Vec<String>,
    pub namespaces: Vec<String>,
    pub tables: Vec<String>,
}

/// `gc --remove-foreign`: remove the podnet objects this store did not make and no record of
/// it names — the namespace mounts of a run dir it does not own (killing what still runs in
/// them, which would otherwise be unreachable), links another state marked or unmarked ones
/// with podnet's names, and podnet tables that are not its own — then claim the run dir.
/// Only for a state that is lost for good: a live one's containers go with it.
pub fn remove_foreign(ctx: &mut Ctx) -> Result<Removed> {
    let me = Identity::of(ctx);
    let mut out = Removed::default();
    let endpoints = ctx.store.endpoints()?;
    let networks = ctx.store.networks()?;
    // Namespaces first: the kernel then destroys their veths itself, asynchronously.
    if run_dir::read(&ctx.run_dir, &me)? != Claim::Mine {
        let owned = owned_mounts(&endpoints);
        for p in run_dir::mounts(&ctx.run_dir) {
            if is_owned(&owned, &p) {
                continue;
            }
            if let Some(id) = netns::identity(&p) {
                for pid in proc::in_netns(id) {
                    if let Some(p) = proc::identity(pid) {
                        detach::kill(p);
                    }
                }
            }
            netns::remove(&p)?;
            out.namespaces.push(p.display().to_string());
        }
        run_dir::take(ctx, true)?;
    }
    let recorded: std::collections::HashSet<&str> = endpoints
        .iter()
        .filter_map(|e| e.host_veth.as_deref())
        .chain(networks.iter().map(|n| n.bridge.as_str()))
        .collect();
    for l in link::list(ctx.host()?)? {
        if recorded.contains(l.name.as_str()) {
            continue;
        }
        let foreign = match me.owner(l.alias.as_deref()) {
            Owner::Mine => false,
            Owner::Other(_) => true,
            Owner::Unmarked => podnet_named(&l),
        };
        if foreign && link::delete(ctx.host()?, &l.name)? {
            out.links.push(l.name);
        }
    }
    out.tables = tables::remove_foreign(ctx.nft()?, &me)?;
    Ok(out)
}
