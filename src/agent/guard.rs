//! Keeping podnet's nftables tables alive: when anyone else deletes or flushes them (a
//! firewall reload, `nft flush ruleset`), re-render them from the store within a second,
//! with no podnet command run. The engine's repair path (what `gc` does) does the work.

use super::serve::{log, Job};
use crate::engine::contexts::Contexts;
use crate::engine::{firewall, service, Access, Ctx};
use crate::kernel::nft::watch::{Seen, Watch};
use crate::model::Result;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// podnet's tables are the ones named so (`podnet`, `podnet-svc`, in every family).
const PREFIX: &str = "podnet";

/// Watches from a thread of its own; asks the main thread for a repair when a transaction
/// by someone else deleted part of podnet's tables (or notifications were lost). `own`
/// holds the port id of the repairing socket: its own changes are not news.
pub fn start(tx: Sender<Job>, own: Arc<AtomicU32>) -> std::io::Result<()> {
    let mut watch = Watch::open(PREFIX)?;
    std::thread::Builder::new()
        .name("nft-watch".into())
        .spawn(move || loop {
            let news = match watch.read() {
                Ok(Seen::Lost) => Some("someone (notifications were lost)".to_string()),
                Ok(Seen::Changes(c)) => c
                    .iter()
                    .find(|c| c.took_away(own.load(Ordering::Relaxed)))
                    .map(|c| c.who()),
                Err(e) => {
                    log(&format!("nftables watch: {e}"));
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    None
                }
            };
            if let Some(who) = news {
                if tx.send(Job::Repair(who)).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// The repairing side: a context kept open, so that its nftables socket (whose port id
/// the watch ignores) stays the same.
pub struct Repairer {
    root: PathBuf,
    run_dir: PathBuf,
    ctxs: Contexts,
    own: Arc<AtomicU32>,
}

impl Repairer {
    pub fn new(root: &Path, run_dir: &Path, own: Arc<AtomicU32>) -> Repairer {
        Repairer {
            root: root.to_path_buf(),
            run_dir: run_dir.to_path_buf(),
            ctxs: Contexts::kept(),
            own,
        }
    }

    /// Run `f` on the repairing context: kept open between calls (its nftables socket, whose
    /// port id the watch ignores, stays the same), made again when the store was.
    fn with<T>(&mut self, f: impl FnOnce(&mut Ctx) -> Result<T>) -> Result<T> {
        let mut ctx = self
            .ctxs
            .open_as(&self.root, &self.run_dir, Access::Change)?;
        self.own.store(ctx.nft_portid()?, Ordering::Relaxed);
        let r = f(&mut ctx)?;
        self.ctxs.done(ctx);
        Ok(r)
    }

    /// Re-render podnet's tables and services from the store (idempotent).
    pub fn repair(&mut self) -> Result<()> {
        self.with(|ctx| {
            firewall::sync(ctx)?;
            service::sync(ctx)
        })
    }

    /// Container `id`'s process `pid` exited: recorded as no longer a backend (if the row
    /// still has that process), then every service that selects it is re-rendered without
    /// it. Whether the row was that process's.
    pub fn exited(
        &mut self,
        id: i64,
        name: &str,
        pid: crate::engine::proc::ProcId,
    ) -> Result<bool> {
        self.with(|ctx| {
            let recorded = ctx.store.write(|tx| {
                let same = tx
                    .endpoint_by_id(id)?
                    .is_some_and(|e| e.pid == Some(pid) && e.name == name);
                if same {
                    tx.set_draining(id)?;
                }
                Ok(same)
            })?;
            if recorded {
                let labels = ctx.store.labels_of(id)?;
                service::container_changed(ctx, name, &labels)?;
            }
            Ok(recorded)
        })
    }
}
