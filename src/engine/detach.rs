//! Tearing an endpoint down, in numbered steps (the fault switch's `detach:K`). Idempotent:
//! every step tolerates its work being already done, so `gc` can run it again after a crash.

use super::{firewall, logs, proc, publish, Ctx};
use crate::fault;
use crate::kernel::{link, netns};
use crate::model::{Endpoint, Result};
use crate::store::endpoints;
use std::path::Path;

/// Remove an endpoint: its process (if podnet started one), its namespace (if podnet owns it)
/// or else its veth, then its record and lease.
///
/// When podnet owns the namespace, unmounting it is enough: the kernel destroys the veth in it
/// asynchronously (~0.05 ms here, against ~17 ms for a synchronous veth delete).
pub fn teardown(ctx: &mut Ctx, ep: &Endpoint) -> Result<()> {
    teardown_with(ctx, ep, false)
}

/// Teardown for crash repair: also kills every process still inside a namespace podnet owns,
/// since a crash may have come between starting a process and recording it. (Not on the normal
/// path: scanning /proc costs milliseconds with many processes.)
pub fn repair(ctx: &mut Ctx, ep: &Endpoint) -> Result<()> {
    teardown_with(ctx, ep, true)
}

fn teardown_with(ctx: &mut Ctx, ep: &Endpoint, sweep: bool) -> Result<()> {
    // The log first: it frees the space a chatty container may have taken from the store.
    logs::remove(ctx, &ep.name)?;
    ctx.store
        .write(|tx| endpoints::set_removing(tx, ep.id, proc::me()))?;
    // Services drop it before anything else (`removing` is not a backend), so no new
    // connection is sent to a container that is going away.
    let labels = ctx.store.labels_of(ep.id)?;
    super::service::container_changed_or_warn(ctx, &ep.name, &labels);
    fault::step("detach", 1);
    // Ports first: no new connection reaches a container that is going away.
    let tables_in_step = publish::unpublish(ctx, ep)?;
    // A recorded process that is already gone may have left children in the namespace (they
    // keep it, and its veth, alive): sweep then too.
    let leader_gone = ep.pid.is_some_and(|p| !proc::alive(p));
    if let Some(pid) = ep.pid {
        kill(pid);
    }
    if let (true, true, Some(path)) = (sweep || leader_gone, ep.netns_owned, &ep.netns) {
        if let Some(id) = netns::identity(Path::new(path)) {
            for pid in proc::in_netns(id) {
                if let Some(p) = proc::identity(pid) {
                    kill(p);
                }
            }
        }
    }
    fault::step("detach", 2);
    match (&ep.netns, ep.netns_owned, &ep.host_veth) {
        (Some(path), true, _) => netns::remove(Path::new(path))?,
        (_, false, Some(veth)) => {
            link::delete(ctx.host()?, veth)?;
        }
        _ => {}
    }
    fault::step("detach", 3);
    ctx.store.write(|tx| endpoints::delete(tx, ep.id))?;
    if !tables_in_step {
        firewall::sync(ctx)?;
    }
    fault::step("detach", 4);
    Ok(())
}

/// SIGKILL a recorded process, with its whole process group when it leads one (a detached
/// container runs in its own session, so whatever it started dies with it).
pub fn kill(pid: proc::ProcId) {
    proc::signal(pid, libc::SIGKILL);
}
