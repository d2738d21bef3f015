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

/// How often the store's files are looked at: the page is at most this much behind a
/// command's change (plus the drawing).
const TICK: Duration = Duration::from_millis(200);
/// Every how many ticks the host's links are dumped too (links made by hand: a dump costs
/// more than two `stat`s at 1,000 containers).
const LINK_TICKS: u32 = 5;
/// How often the picture is redrawn anyway (changes inside containers' namespaces), at the
/// least; longer when drawing is slow, so that it stays under 1 % of a core.
const REDRAW: Duration = Duration::from_secs(5);
const REDRAW_PER_DRAW: u32 = 100;

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
    links: u64,
    ticks: u32,
    drawn: Instant,
    /// How long the last drawing took.
    took: Duration,
}

/// Draws the first picture (an error here is the command's: e.g. no state) and returns
/// the watch that keeps it live.
pub fn first<'a>(ctx: Ctx, shared: &'a Shared, root: &Path) -> Result<Watch<'a>> {
    let mut w = Watch {
        ctx,
        shared,
        db: crate::store::db_path(root),
        last: 0,
        links: 0,
        ticks: 0,
        drawn: Instant::now(),
        took: Duration::ZERO,
    };
    w.last = w.fingerprint();
    w.links = w.link_fingerprint();
    w.draw()?;
    Ok(w)
}

impl Watch<'_> {
    pub fn run(mut self) -> Result<()> {
        loop {
            std::thread::sleep(TICK);
            self.ticks = (self.ticks + 1) % LINK_TICKS;
            let fp = self.fingerprint();
            let links = match self.ticks {
                0 => self.link_fingerprint(),
                _ => self.links,
            };
            let every = REDRAW.max(self.took * REDRAW_PER_DRAW);
            if fp != self.last || links != self.links || self.drawn.elapsed() >= every {
                (self.last, self.links) = (fp, links);
                if let Err(e) = self.draw() {
                    let mut now = self.shared.now.lock().unwrap_or_else(|e| e.into_inner());
                    now.error = Some(e.to_string());
                }
            }
        }
    }

    /// The store's files (SQLite rewrites them on every commit).
    fn fingerprint(&mut self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for p in [self.db.clone(), self.db.with_extension("db-wal")] {
            if let Ok(m) = std::fs::metadata(&p) {
                (m.mtime(), m.mtime_nsec(), m.size(), m.ino()).hash(&mut h);
            }
        }
        h.finish()
    }

    /// The host's links (a link made or changed by hand).
    fn link_fingerprint(&mut self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        if let Ok(links) = self.ctx.host().and_then(crate::kernel::link::list) {
            for l in links {
                (l.index, l.name, l.master, l.up, l.kind).hash(&mut h);
            }
        }
        h.finish()
    }

    fn draw(&mut self) -> Result<()> {
        self.drawn = Instant::now();
        let g = graph::graph(&mut self.ctx, None);
        self.took = self.drawn.elapsed();
        let g = g?;
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
