//! Recovery after a boot. The store survives a reboot (`/var/lib`), the kernel's state and the
//! run dir (`/run`, a tmpfs) do not. A marker file in the run dir says "this run dir has been
//! reconciled with this store"; when it is missing, the first command that changes anything
//! makes the kernel match the store before it acts: bridges with their addresses, podnet's
//! tables, services and their route; containers that died with the boot are retired (leases
//! and ports released). Checking costs one stat per command.

use super::gc::{self, Report, Scope};
use super::Ctx;
use crate::fault;
use crate::model::field::RUN_DIR;
use crate::model::{Error, Result};
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

fn marker(ctx: &Ctx) -> PathBuf {
    // Per store: a run dir shared by two state roots is reconciled with each.
    ctx.run_dir.join(format!("recovered-{}", ctx.store.id()))
}

/// Recover if this is the first command since the run dir was made. Returns what the recovery
/// did (None when it had already been done). Concurrent first commands recover once: the
/// others wait for it on a lock file.
pub fn recover_if_first(ctx: &mut Ctx) -> Result<Option<Report>> {
    let marker = marker(ctx);
    if marker.exists() {
        return Ok(None);
    }
    fs::create_dir_all(&ctx.run_dir).map_err(|e| {
        Error::failed(format!(
            "create run directory {}: {e} (set {RUN_DIR} or PODNET_RUN_DIR)",
            ctx.run_dir.display()
        ))
    })?;
    let lock = File::create(ctx.run_dir.join("recover.lock"))?;
    // SAFETY: flock on an fd we own; the lock is released when `lock` is closed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::failed(format!(
            "lock {}: {}",
            ctx.run_dir.join("recover.lock").display(),
            std::io::Error::last_os_error()
        )));
    }
    if marker.exists() {
        return Ok(None);
    }
    let report = gc::run(ctx, Scope::Boot)?;
    fault::step("boot", 1);
    // Written only once everything is rebuilt: a crash before it means the next command
    // recovers again (every part of the recovery is idempotent).
    File::create(&marker)?;
    Ok(Some(report))
}

/// Record that a full `podnet gc` just reconciled the run dir with the store (it does all the
/// recovery does, and more).
pub fn mark_recovered(ctx: &Ctx) -> Result<()> {
    let marker = marker(ctx);
    if !marker.exists() {
        fs::create_dir_all(&ctx.run_dir)?;
        File::create(&marker)?;
    }
    Ok(())
}
