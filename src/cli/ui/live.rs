//! The live picture: one thread owns the state (store and netlink sockets are not shared),
//! redraws when a cheap fingerprint changes and publishes the result; page requests only
//! read what it published, and `/events` waits on a condition variable, so an idle page
//! costs a 200 ms fingerprint (two `stat`s and one link dump) and nothing else.

use crate::cli::graph::{json, svg};
use crate::engine::{graph, Ctx};
use crate::model::Result;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often the fingerprint is taken: the page is at most this much behind a change.
const TICK: Duration = Duration::from_millis(200);
/// How often the picture is redrawn anyway (changes inside containers' namespaces).
const REDRAW: Duration = Duration::from_secs(5);

/// What the pages see: the latest picture and its version.
#[derive(Default)]
pub struct Shared {
    pub now: Mutex<Picture>,
    pub changed: Condvar,
}

#[derive(Default, Clone)]
pub struct Picture {
    /// Bumped each time the graph differs from the last one drawn.
    pub version: u64,
    pub json: String,
    pub svg: String,
    /// The last failure to draw, if the latest attempt failed.
    pub error: Option<String>,
}

impl Shared {
    /// The picture once its version is past `since`, or the current one after `wait`.
    pub fn after(&self, since: u64, wait: Duration) -> Picture {
        let now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        let (now, _) = self
            .changed
            .wait_timeout_while(now, wait, |p| p.version <= since)
            .unwrap_or_else(|e| e.into_inner());
        now.clone()
    }
    pub fn current(&self) -> Picture {
        self.now.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub struct Watch<'a> {
    ctx: Ctx,
    shared: &'a Shared,
    db: PathBuf,
    last: u64,
    drawn: Instant,
}

/// Draws the first picture (an error here is the command's: e.g. no state) and returns
/// the watch that keeps it live.
pub fn first<'a>(ctx: Ctx, shared: &'a Shared, root: &Path) -> Result<Watch<'a>> {
    let mut w = Watch {
        ctx,
        shared,
        db: crate::store::db_path(root),
        last: 0,
        drawn: Instant::now(),
    };
    w.last = w.fingerprint();
    w.draw()?;
    Ok(w)
}

impl Watch<'_> {
    pub fn run(mut self) -> Result<()> {
        loop {
            std::thread::sleep(TICK);
            let fp = self.fingerprint();
            if fp != self.last || self.drawn.elapsed() >= REDRAW {
                self.last = fp;
                if let Err(e) = self.draw() {
                    let mut now = self.shared.now.lock().unwrap_or_else(|e| e.into_inner());
                    now.error = Some(e.to_string());
                }
            }
        }
    }

    /// The store's files (SQLite rewrites them on every commit) and the host's links.
    fn fingerprint(&mut self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for p in [self.db.clone(), self.db.with_extension("db-wal")] {
            if let Ok(m) = std::fs::metadata(&p) {
                (m.mtime(), m.mtime_nsec(), m.size(), m.ino()).hash(&mut h);
            }
        }
        if let Ok(links) = self.ctx.host().and_then(crate::kernel::link::list) {
            for l in links {
                (l.index, l.name, l.master, l.up, l.kind).hash(&mut h);
            }
        }
        h.finish()
    }

    fn draw(&mut self) -> Result<()> {
        self.drawn = Instant::now();
        let g = graph::graph(&mut self.ctx, None)?;
        let json = json(&g)?;
        let mut now = self.shared.now.lock().unwrap_or_else(|e| e.into_inner());
        now.error = None;
        if now.json != json {
            now.version += 1;
            now.svg = svg::render(&g);
            now.json = json;
            self.shared.changed.notify_all();
        }
        Ok(())
    }
}
