//! gc's judgement of one container against the kernel: retire what is dead (record, lease and
//! ports go), repair what outside damage left repairable. Every judgement is made on the row
//! as it is inside the write transaction that acts on it, so a container whose `run` finished
//! meanwhile is never taken for a crashed one, and a repair never races a removal.

use super::gc::Action;
use super::{detach, proc, setup, Ctx};
use crate::kernel::{link, neigh, netns, Rtnl};
use crate::model::{Endpoint, EndpointState, Mode, Result};
use crate::store::Reads;
use std::fs::File;
use std::path::Path;

/// Check one container: retire it if dead, else repair what is missing. Appends what it did.
pub fn check(ctx: &mut Ctx, id: i64, report: &mut Vec<Action>) -> Result<()> {
    let mut why = None;
    let retired = detach::teardown_if(ctx, id, true, &mut |tx, ep| {
        why = dead(tx, ep)?;
        Ok(why.is_some())
    })?;
    if let (Some(ep), Some(why)) = (retired, why) {
        report.push(Action::retired(&ep.name, why));
        return Ok(());
    }
    match repair(ctx, id)? {
        Repair::Whole => {}
        Repair::Fixed(name, fixed) => report.push(Action::repaired(&name, fixed.join("; "))),
        Repair::Dead(seen, why) => {
            // Unrepairable: retired, if the row is still as the repair saw it.
            let retired = detach::teardown_if(ctx, id, true, &mut |_, ep| {
                Ok(ep.state == seen.state && ep.owner == seen.owner)
            })?;
            if let Some(ep) = retired {
                report.push(Action::retired(&ep.name, why));
            }
        }
    }
    Ok(())
}

/// Why an endpoint is dead, judged on its current row; None while it lives (or an operation
/// on it is in progress). A detached container whose command exited is kept, as Docker
/// keeps it, as long as its namespace is there.
fn dead(tx: &dyn Reads, ep: &Endpoint) -> Result<Option<String>> {
    if let Some(owner) = ep.owner {
        if proc::alive(owner) {
            return Ok(None);
        }
        return Ok(Some(match ep.state {
            EndpointState::Creating => {
                format!("the podnet process creating it (pid {}) died", owner.0)
            }
            EndpointState::Removing => {
                format!("its removal was interrupted (pid {} died)", owner.0)
            }
            EndpointState::Ready => {
                format!("its foreground `podnet run` (pid {}) is gone", owner.0)
            }
        }));
    }
    if ep.state != EndpointState::Ready {
        return Ok(Some(format!("it was left {}", ep.state.as_str())));
    }
    let Some(path) = ep.netns.as_deref() else {
        return Ok(None); // host mode: nothing of its own to lose
    };
    if ep.netns_owned {
        let running = ep.pid.is_some_and(proc::alive);
        if !running && netns::open(Path::new(path)).is_err() {
            return Ok(Some(match ep.pid {
                Some(p) => format!("its namespace and its process (pid {}) are gone", p.0),
                None => "its namespace is gone".to_string(),
            }));
        }
        return Ok(None); // a namespace with a live process in it is repaired, not retired
    }
    let recorded = tx.netns_identity(ep.id)?;
    if recorded.is_some() && netns::identity(Path::new(path)) != recorded {
        return Ok(Some(format!(
            "its namespace {path} is gone or was replaced"
        )));
    }
    Ok(None)
}

enum Repair {
    Whole,
    /// Repaired: the container's name and what was done.
    Fixed(String, Vec<String>),
    /// Could not be repaired: the row as seen, and why it is dead.
    Dead(Endpoint, String),
}

/// Repair a live container's kernel state while holding the store's write lock (no one can
/// claim the record meanwhile): its namespace mount, its veth and the veth's bridge port.
fn repair(ctx: &mut Ctx, id: i64) -> Result<Repair> {
    let alias = super::owner::Identity::of(ctx).link_alias();
    let (store, host) = ctx.store_and_host()?;
    store.write(|tx| {
        let Some(ep) = tx.endpoint_by_id(id)? else {
            return Ok(Repair::Whole);
        };
        // Only settled containers: an operation in progress owns the row until it is done.
        if ep.state != EndpointState::Ready || ep.owner.is_some_and(|o| !proc::alive(o)) {
            return Ok(Repair::Whole);
        }
        let Some(path) = ep.netns.clone() else {
            return Ok(Repair::Whole);
        };
        let mut fixed = Vec::new();
        if ep.netns_owned && netns::open(Path::new(&path)).is_err() {
            let Some(pid) = ep.pid.filter(|p| proc::alive(*p)) else {
                return Ok(Repair::Dead(
                    ep,
                    "its namespace and its process are gone".into(),
                ));
            };
            if let Err(e) = netns::pin(Path::new(&path), pid.0) {
                let why = format!("its namespace mount was gone and could not be restored: {e}");
                return Ok(Repair::Dead(ep, why));
            }
            fixed.push(format!(
                "namespace mount {path} was gone: re-mounted from its process (pid {})",
                pid.0
            ));
        }
        match veth(tx, host, &ep, &path, &alias) {
            Ok(Some(f)) => fixed.push(f),
            Ok(None) => {}
            Err(e) => {
                let why = format!("its veth could not be repaired: {e}");
                return Ok(Repair::Dead(ep, why));
            }
        }
        if fixed.is_empty() {
            Ok(Repair::Whole)
        } else {
            Ok(Repair::Fixed(ep.name, fixed))
        }
    })
}

/// A bridge endpoint's veth: re-created into its namespace (with `eth0`'s address and default
/// route) when it is gone, put back on its bridge and up when it is not. What was done.
fn veth(
    tx: &dyn Reads,
    host: &mut Rtnl,
    ep: &Endpoint,
    path: &str,
    alias: &str,
) -> Result<Option<String>> {
    let (Mode::Bridge(net_name), Some(veth), Some(ip)) = (&ep.mode, &ep.host_veth, ep.ip) else {
        return Ok(None);
    };
    let Some(net) = tx.network(net_name)? else {
        return Ok(None);
    };
    // gc made every ready network's bridge whole before judging containers.
    let Some(bridge) = link::get(host, &net.bridge)? else {
        return Ok(None);
    };
    match link::get(host, veth)? {
        None => {
            let ns = File::open(path)?;
            let mut inside = netns::rtnl_in(&ns)?;
            // The peer outlives a host end that was renamed or moved away: clear it first.
            link::delete(&mut inside, ep.ifname())?;
            setup::make_veth(host, veth, &net, bridge.index, &ns, alias, ep)?;
            link::set_up_by_name(&mut inside, "lo")?;
            // A container's later network has no default route (its first network has it).
            let first = tx.member(ep.id)?.is_none();
            setup::configure_eth0(&mut inside, &net, ip, ep.ip6, ep.ifname(), first)?;
            // The host still caches the old eth0's MAC for the address: until that entry went
            // stale and failed (seconds), the host's packets would go to a MAC no one has.
            neigh::forget(host, bridge.index, ip)?;
            Ok(Some(format!(
                "veth {veth} was gone: re-created with {} {ip} and its default route",
                ep.ifname()
            )))
        }
        Some(l) if l.master != Some(bridge.index) => {
            link::set_master(host, l.index, bridge.index)?;
            link::set_up(host, l.index)?;
            link::set_hairpin(host, veth)?;
            Ok(Some(format!(
                "veth {veth} was off bridge {}: put back",
                net.bridge
            )))
        }
        Some(l) if !l.up => {
            link::set_up(host, l.index)?;
            Ok(Some(format!("veth {veth} was down: brought up")))
        }
        Some(_) => Ok(None),
    }
}
