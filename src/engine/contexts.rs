//! Where a front end gets its [`Ctx`] for each request: opened fresh (a command: one request
//! per process), or kept open between requests by a long-lived process that serves many (the
//! agent's CNI workers). Kept, the store's connection (schema read, statements prepared) and
//! the netlink and nftables sockets are made once, not per request; see
//! docs/decisions/2026-12-02-cni-through-the-agent.md for what that saves.

use super::{gc, Access, Ctx};
use crate::model::Result;
use crate::store::db_identity;
use std::path::Path;

/// A source of contexts; [`Contexts::fresh`] behaves exactly like [`super::open`].
pub struct Contexts {
    keep: bool,
    kept: Option<Kept>,
}

struct Kept {
    ctx: Ctx,
    /// The database file the store's connection opened (device, inode).
    db: (u64, u64),
}

impl Contexts {
    /// A new context per request.
    pub fn fresh() -> Contexts {
        Contexts {
            keep: false,
            kept: None,
        }
    }

    /// The context of a request that succeeded is kept for the next one on the same
    /// directories.
    pub fn kept() -> Contexts {
        Contexts {
            keep: true,
            kept: None,
        }
    }

    /// As [`super::open`]: privilege, store, and the recovery a first change after a boot
    /// owes (a kept context still runs that check: it is one `stat`).
    pub fn open(
        &mut self,
        root: &Path,
        run_dir: &Path,
        access: Access,
    ) -> Result<(Ctx, Option<gc::Report>)> {
        let mut ctx = self.open_as(root, run_dir, access)?;
        let recovered = match access {
            Access::Read => None,
            Access::Change | Access::Create => super::boot::recover_if_first(&mut ctx)?,
        };
        Ok((ctx, recovered))
    }

    /// As [`Ctx::open_as`]: privilege and store, no recovery.
    pub fn open_as(&mut self, root: &Path, run_dir: &Path, access: Access) -> Result<Ctx> {
        let reuse = match self.kept.take() {
            // The file must still be the one the connection has open: a store deleted and
            // made again (by hand, or a test wiping state) is a new database, and writes to
            // the old, unlinked one would be lost.
            Some(k) if k.ctx.root == root && k.ctx.run_dir == run_dir => {
                (db_identity(root) == Some(k.db)).then_some(k.ctx)
            }
            _ => None,
        };
        if let Some(ctx) = reuse {
            return Ok(ctx);
        }
        let mut ctx = Ctx::open_as(root, run_dir, access)?;
        if self.keep {
            ctx.close_here();
        }
        Ok(ctx)
    }

    /// The request that used `ctx` succeeded: keep it (when keeping). A failed request's
    /// context is dropped instead, so no half-read socket or aborted transaction carries over.
    pub fn done(&mut self, ctx: Ctx) {
        // A store that cannot tidy up now will at a later request (or a command's open).
        if !self.keep || ctx.store.tidy().is_err() {
            return;
        }
        if let Some(db) = db_identity(&ctx.root) {
            self.kept = Some(Kept { ctx, db });
        }
    }
}
