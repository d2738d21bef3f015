//! gc's part: links and namespace mounts this store made that no record owns any more are
//! removed; links its records name that carry no mark (made by a podnet older than marks) are
//! marked; everything else — another state's links, unmarked podnet-looking links no record
//! names, a run dir another state claimed — is left alone and reported.

use super::names::podnet_named;
use super::run_dir::{self, Claim};
use super::{Identity, Owner};
use crate::engine::Ctx;
use crate::kernel::link::{self, Link};
use crate::kernel::netns;
use crate::model::Result;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Swept {
    pub links: Vec<String>,
    pub namespaces: Vec<String>,
    /// Objects left alone because this store did not make them.
    pub foreign: Vec<String>,
}

/// The namespace mounts of the run dir if they are this store's to sweep: it claimed the run
/// dir, or (the upgrade path) nobody did and this store has records — it then claims it now.
/// None when another state claimed it.
pub fn own_mounts(ctx: &Ctx) -> Result<Option<Vec<PathBuf>>> {
    let me = Identity::of(ctx);
    let mounts = run_dir::mounts(&ctx.run_dir);
    match run_dir::read(&ctx.run_dir, &me)? {
        Claim::Mine => Ok(Some(mounts)),
        Claim::Absent if mounts.is_empty() => Ok(Some(mounts)),
        Claim::Absent if !super::lost::records_empty(ctx)? => {
            run_dir::take(ctx, false)?;
            match run_dir::read(&ctx.run_dir, &me)? {
                Claim::Mine => Ok(Some(mounts)),
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

/// Remove this store's orphans among `links` and `mounts` (listed before the records are read:
/// a record is committed before its kernel object is made, so a live operation's objects
/// always have theirs).
pub fn orphans(ctx: &mut Ctx, links: Vec<Link>, mounts: Option<Vec<PathBuf>>) -> Result<Swept> {
    let me = Identity::of(ctx);
    let endpoints = ctx.store.endpoints()?;
    let networks = ctx.store.networks()?;
    let recorded: HashSet<&str> = endpoints
        .iter()
        .filter_map(|e| e.host_veth.as_deref())
        .chain(networks.iter().map(|n| n.bridge.as_str()))
        .collect();
    let mut out = Swept::default();
    for l in links {
        let known = recorded.contains(l.name.as_str());
        match me.owner(l.alias.as_deref()) {
            Owner::Mine if !known => {
                link::delete(ctx.host()?, &l.name)?;
                out.links.push(l.name);
            }
            Owner::Mine => {}
            Owner::Unmarked if podnet_named(&l) && known => {
                // false: its owner removed it since the listing; nothing is left to mark.
                link::set_alias(ctx.host()?, &l.name, &me.link_alias())?;
            }
            Owner::Unmarked if podnet_named(&l) => out.foreign.push(format!("link {}", l.name)),
            Owner::Unmarked => {}
            Owner::Other(_) => out.foreign.push(format!("link {}", l.name)),
        }
    }
    match mounts {
        Some(mounts) => {
            let owned = owned_mounts(&endpoints);
            for p in mounts {
                if !is_owned(&owned, &p) {
                    netns::remove(&p)?;
                    out.namespaces.push(p.display().to_string());
                }
            }
        }
        None => out
            .foreign
            .push(format!("run dir {}", ctx.run_dir.display())),
    }
    Ok(out)
}

/// The namespace mounts records own (by path).
pub fn owned_mounts(endpoints: &[crate::model::Endpoint]) -> HashSet<&str> {
    endpoints
        .iter()
        .filter(|e| e.netns_owned)
        .filter_map(|e| e.netns.as_deref())
        .collect()
}

/// Whether `p` names a namespace mount one of `owned` records (by path).
pub fn is_owned(owned: &HashSet<&str>, p: &Path) -> bool {
    owned.contains(p.to_string_lossy().as_ref())
}
