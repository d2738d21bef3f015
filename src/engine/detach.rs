//! Tearing an endpoint down, in numbered steps (the fault switch's `detach:K`). Idempotent:
//! every step tolerates its work being already done, so `gc` can run it again after a crash.
//!
//! Who may tear an endpoint down is decided inside the write transaction that takes it over
//! (state `removing`, owner = this process), judged on the row as it is then and changed by
//! compare-and-set on its state and owner: two processes can never both claim one row, and no
//! decision rests on a snapshot read earlier.

use super::{firewall, logs, proc, publish, Ctx};
use crate::fault;
use crate::kernel::{link, netns};
use crate::model::{Endpoint, EndpointState, Result};
use crate::store::Reads;
use std::path::Path;
use std::time::Duration;

/// How long a `rm -f` waits for the `podnet` process that was still creating the container
/// it took over to end (that process stops its own child when it sees the row is gone).
const CREATOR_GRACE: Duration = Duration::from_secs(10);

/// Decides, on the row as it is inside the claiming transaction, whether to take it over:
/// `Ok(true)` claims, `Ok(false)` leaves it, an error refuses (and is returned).
pub type Judge<'a> = &'a mut dyn FnMut(&dyn Reads, &Endpoint) -> Result<bool>;

/// Take endpoint `id` over if `judge` says so, then tear it down. Returns the row as it was
/// when claimed, or None when there was no row or the judge left it.
///
/// `sweep` also kills every process found inside a namespace podnet owns (crash repair: a
/// crash may have come between starting a process and recording it). Without it, that scan
/// of /proc (milliseconds with many processes) happens only when the row says a process may
/// be unrecorded: it was never `ready`, has no process recorded, or its process is gone.
pub fn teardown_if(ctx: &mut Ctx, id: i64, sweep: bool, judge: Judge) -> Result<Option<Endpoint>> {
    let me = proc::me();
    let claimed = ctx.store.write(|tx| {
        let Some(ep) = tx.endpoint_by_id(id)? else {
            return Ok(None);
        };
        if !judge(tx, &ep)? || !tx.claim_endpoint(&ep, me)? {
            return Ok(None);
        }
        Ok(Some(ep))
    })?;
    let Some(ep) = claimed else { return Ok(None) };
    teardown_claimed(ctx, &ep, sweep)?;
    Ok(Some(ep))
}

/// Claim an endpoint this process is creating (its own undo after a failure). Does nothing
/// when a `rm -f` or `gc` took it over meanwhile: they finish the teardown.
pub fn undo_own(ctx: &mut Ctx, id: i64) -> Result<()> {
    let me = proc::me();
    teardown_if(ctx, id, false, &mut |_, ep| Ok(ep.owner == Some(me))).map(|_| ())
}

/// The teardown proper, on an endpoint this process has claimed; `ep` is the row as it was
/// just before the claim.
fn teardown_claimed(ctx: &mut Ctx, ep: &Endpoint, sweep: bool) -> Result<()> {
    // Services drop it before anything else (`removing` is not a backend), so no new
    // connection is sent to a container that is going away.
    let labels = ctx.store.labels_of(ep.id)?;
    super::service::container_changed_or_warn(ctx, &ep.name, &labels);
    fault::step("detach", 1);
    // Its later networks (`network connect`) go first: their rows point at this one.
    super::container::remove_members(ctx, ep)?;
    // Taken from a live process still creating it: that process may be about to start the
    // container's command. It sees the row is no longer its own and stops the command itself;
    // once it has ended, nothing more can enter the namespace and the sweep below is complete.
    if let (EndpointState::Creating, Some(owner)) = (ep.state, ep.owner) {
        if owner != proc::me() {
            proc::wait_gone(owner, CREATOR_GRACE);
        }
    }
    // The log, once no creator can start a pump for it any more: it also frees the space a
    // chatty container may have taken on the store's file system.
    logs::remove(ctx, &ep.name)?;
    if ep.netns_owned {
        super::container::etc::remove(ctx, &ep.name)?;
    }
    // Its bridge port goes down before its anti-spoofing elements go: nothing it (or anything
    // left in its namespace, e.g. an attached one's processes) sends passes unchecked.
    if let Some(veth) = &ep.host_veth {
        link::disable_bridge_port(ctx.host()?, veth)?;
    }
    // Ports first: no new connection reaches a container that is going away.
    let tables_in_step = publish::unpublish(ctx, ep)?;
    // A process may be unrecorded (the row never got ready) or may have left children in the
    // namespace when it died (they keep it, and its veth, alive): sweep then too.
    let leader_gone = ep.pid.is_some_and(|p| !proc::alive(p));
    let unrecorded = ep.state != EndpointState::Ready || ep.pid.is_none();
    if let Some(pid) = ep.pid {
        kill(pid);
    }
    if let (true, true, Some(path)) = (
        sweep || leader_gone || unrecorded,
        ep.netns_owned,
        &ep.netns,
    ) {
        sweep_netns(Path::new(path));
    }
    fault::step("detach", 2);
    match (&ep.netns, ep.netns_owned, &ep.host_veth) {
        (Some(path), true, _) => netns::remove(Path::new(path))?,
        (_, false, Some(veth)) => {
            link::delete(ctx.host()?, veth)?;
        }
        // A macvlan endpoint in a namespace podnet does not own (a runtime's): its interface
        // lives only in there. A namespace already gone took it along.
        (Some(path), false, None) if matches!(ep.mode, crate::model::Mode::Bridge(_)) => {
            if let Ok(ns) = std::fs::File::open(path) {
                let mut inside = netns::rtnl_in(&ns)?;
                link::delete(&mut inside, ep.ifname())?;
            }
        }
        _ => {}
    }
    fault::step("detach", 3);
    let named = match super::names::serves(ctx, ep)? {
        true => Some(super::names::container_of(ctx, ep)?),
        false => None,
    };
    let me = proc::me();
    ctx.store.write(|tx| tx.delete_endpoint(ep.id, me))?;
    if !tables_in_step {
        firewall::sync(ctx)?;
    }
    fault::step("detach", 4);
    if let Some(container) = named {
        super::names::left(ctx, container);
    }
    Ok(())
}

/// Kill every process inside the namespace pinned at `path` (found by namespace identity).
///
/// Waits (up to 2 s) until they are gone: SIGKILL is delivered at once but the process exits
/// later, and under load "later" was after `rm -f` had returned (a test then still found the
/// container's process). Only this rare path waits; the normal removal kills the recorded
/// process and unmounts without waiting.
fn sweep_netns(path: &Path) {
    if let Some(id) = netns::identity(path) {
        let killed: Vec<proc::ProcId> = proc::in_netns(id)
            .into_iter()
            .filter_map(proc::identity)
            .collect();
        for p in &killed {
            kill(*p);
        }
        for p in killed {
            proc::wait_gone(p, std::time::Duration::from_secs(2));
        }
    }
}

/// SIGKILL a recorded process, with its whole process group when it leads one (a detached
/// container runs in its own session, so whatever it started dies with it).
pub fn kill(pid: proc::ProcId) {
    proc::signal(pid, libc::SIGKILL);
}
