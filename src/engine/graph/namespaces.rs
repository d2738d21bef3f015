//! Reads namespaces' links, addresses and routes, the recorded containers' on a few threads
//! of their own.
//!
//! At 1,000 containers these reads were most of a graph (socket, setns and three dumps per
//! namespace, all on the calling thread). Each reader thread now takes the next path,
//! moves into that namespace for good (it never goes back: the thread is made for this and
//! ends with the work), opens an rtnetlink socket there and dumps; the calling thread's
//! namespace never changes. Why these numbers: docs/decisions/2026-12-02-graph-speed.md.

use super::facts::NsFacts;
use crate::kernel::{self, netns, Rtnl};
use crate::model::Result;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Reader threads at most. The machines are small (2 cores); past the cores, more threads
/// mostly win a larger share of a loaded machine, and every namespace read is a few
/// syscalls that contend on the same kernel locks (rtnl for the dumps).
const READERS: usize = 4;

/// What reading one namespace found.
#[derive(Debug)]
pub struct Read {
    /// Its file opened as a network namespace (`false`: gone, e.g. removed from outside or
    /// a reboot) — what a container's status needs.
    pub opened: bool,
    /// Its links, addresses and routes; `None` when it could not be opened or dumped.
    pub facts: Option<NsFacts>,
}

/// Reads every namespace of `paths` (distinct paths) on up to [`READERS`] threads, while
/// the calling thread runs `meanwhile` (the host's own dumps: ~45 ms at 1,000 veths, which
/// then cost no wall time of their own).
pub fn read_all<T>(paths: &[String], meanwhile: impl FnOnce() -> T) -> (T, HashMap<String, Read>) {
    let next = AtomicUsize::new(0);
    let reader = || {
        let mut out = Vec::new();
        // Work is handed out one path at a time: namespaces cost about the same, but a
        // reader thread may be descheduled on a loaded machine.
        while let Some(p) = paths.get(next.fetch_add(1, Ordering::Relaxed)) {
            out.push((p.clone(), read(p)));
        }
        out
    };
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..READERS.min(paths.len()))
            .map(|_| s.spawn(reader))
            .collect();
        let mine = meanwhile();
        let read = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect();
        (mine, read)
    })
}

/// On a reader thread: move into the namespace at `path` and dump it.
fn read(path: &str) -> Read {
    let Ok(ns) = netns::open(path.as_ref()) else {
        return Read {
            opened: false,
            facts: None,
        };
    };
    let facts = netns::move_thread_into(&ns)
        .and_then(|()| Rtnl::open())
        .and_then(|mut r| ns_facts(&mut r))
        .ok();
    Read {
        opened: true,
        facts,
    }
}

/// One namespace's links, addresses (both families, one dump) and IPv4 routes.
pub fn ns_facts(r: &mut Rtnl) -> Result<NsFacts> {
    Ok(NsFacts {
        links: kernel::link::list(r)?,
        addrs: kernel::addr::list_all(r)?,
        routes: kernel::route::list(r)?,
    })
}
