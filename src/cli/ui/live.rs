//! The live picture: one thread owns the state (store and netlink sockets are not shared),
//! redraws when a cheap fingerprint changes and publishes the result; page requests only
//! read what it published, and `/events` waits on a condition variable, so an idle page
//! costs a 200 ms fingerprint (two `stat`s and a look at a link-event socket) and nothing
//! else.

use crate::cli::graph::{json, svg};
use crate::engine::{graph, Ctx};
use crate::kernel::link_events::LinkEvents;
use crate::model::Result;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often the store's files are looked at: the page is at most this much behind a
/// command's change (plus the drawing).
const TICK: Duration = Duration::from_millis(200);
/// How often the picture is redrawn anyway (changes inside containers' namespaces), at the
/// least; longer when drawing costs more: the period is this many times the CPU the last
/// drawing took (all its threads, JSON and SVG included), so redraws cost ≤ 0.5 % of a
/// core and the ui stays under its 1 % with the ticks (wall time was the measure before:
/// the graph's readers now spend more CPU than wall time).
const REDRAW: Duration = Duration::from_secs(5);
const REDRAW_PER_DRAW: u32 = 200;

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
    /// The host's link changes (links made by hand). Without it (it could not be opened),
    /// those show at the next periodic redraw.
    links: Option<LinkEvents>,
    drawn: Instant,
    /// The CPU time the last drawing took.
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
        links: None,
        drawn: Instant::now(),
        took: Duration::ZERO,
    };
    w.links = w.ctx.host().and_then(LinkEvents::open).ok();
    w.last = w.fingerprint();
    w.draw()?;
    Ok(w)
}

impl Watch<'_> {
    pub fn run(mut self) -> Result<()> {
        loop {
            std::thread::sleep(TICK);
            let fp = self.fingerprint();
            let links = match (&mut self.links, self.ctx.host()) {
                (Some(l), Ok(host)) => l.changed(host),
                _ => false,
            };
            let every = REDRAW.max(self.took * REDRAW_PER_DRAW);
            if fp != self.last || links || self.drawn.elapsed() >= every {
                self.last = fp;
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

    fn draw(&mut self) -> Result<()> {
        self.drawn = Instant::now();
        let cpu = process_cpu();
        let drawn = self.publish();
        self.took = process_cpu().saturating_sub(cpu);
        drawn
    }

    fn publish(&mut self) -> Result<()> {
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

/// CPU time of the whole process (the graph reads namespaces on threads of its own).
fn process_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
