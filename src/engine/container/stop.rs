//! `stop`: out of every service, SIGTERM, one shared grace period, SIGKILL.

use super::find;
use crate::engine::{detach, proc, Ctx};
use crate::model::{Error, Result};
use std::time::{Duration, Instant};

/// Stop containers' processes: SIGTERM to each, then SIGKILL to those still alive after one
/// `grace` period shared by all (so stopping several waits once, not once per container).
/// Returns the error of each name that could not be stopped.
pub fn stop(ctx: &mut Ctx, names: &[String], grace: Duration) -> Vec<Error> {
    let mut errors = Vec::new();
    let mut pids = Vec::new();
    for name in names {
        match signal_stop(ctx, name) {
            Ok(Some(pid)) => pids.push(pid),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    let deadline = Instant::now() + grace;
    while pids.iter().any(|p| proc::alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for pid in pids {
        detach::kill(pid);
    }
    errors
}

/// First half of `stop`: out of every service, then SIGTERM. The process to wait for, if it
/// was running.
fn signal_stop(ctx: &mut Ctx, name: &str) -> Result<Option<(i32, u64)>> {
    let ep = find(ctx, name)?;
    let Some(pid) = ep.pid else {
        return Err(Error::input(format!("container '{name}' has no process podnet started (it was attached): use `podnet detach {name}`")));
    };
    // Out of every service first, so no new connection arrives during the grace period.
    ctx.store.write(|tx| tx.set_draining(ep.id))?;
    let labels = ctx.store.labels_of(ep.id)?;
    crate::engine::service::container_changed_or_warn(ctx, name, &labels);
    Ok(proc::signal(pid, libc::SIGTERM).then_some(pid))
}
