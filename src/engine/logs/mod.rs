//! Logs of detached containers: `ROOT/logs/NAME/container.log` and its rotated predecessors
//! `container.log.1` (newest) to `.N-1`, written by a [`pump`] the container's `run -d` forks,
//! bounded by a [`LogConfig`], removed with the container, read by `podnet logs [-f]`.
//!
//! The log lives in a directory of its own so that removal is final: once the directory is
//! gone, a pump still draining a dying container cannot create a file in it again.

mod pump;
mod read;

pub use pump::start;
pub use read::{copy, Follow};

use super::Ctx;
use crate::model::Result;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The current file's name; rotated files add `.1`, `.2`, ...
const CURRENT: &str = "container.log";

/// The directory of a container's log.
pub fn dir(ctx: &Ctx, name: &str) -> PathBuf {
    ctx.root.join("logs").join(name)
}

/// Remove a container's log (idempotent). Done first when a container is torn down, so that
/// a full disk is relieved before the store must write.
pub fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    // The single unbounded file of podnets before rotation, for containers they started.
    let _ = std::fs::remove_file(legacy(ctx, name));
    remove_dir(&dir(ctx, name))
}

fn legacy(ctx: &Ctx, name: &str) -> PathBuf {
    ctx.root.join("logs").join(format!("{name}.log"))
}

fn remove_dir(d: &Path) -> Result<()> {
    // A pump rotating at this very moment may create a file between the emptying and the
    // rmdir; the next round removes it, and after the rmdir it can create nothing.
    let mut last = None;
    for _ in 0..3 {
        match std::fs::remove_dir_all(d) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    let e = last.expect("three failed rounds");
    Err(crate::model::Error::failed(format!(
        "remove log {}: {e}",
        d.display()
    )))
}

/// Containers with a log (read before the records: see `gc`).
pub fn listed(ctx: &Ctx) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(ctx.root.join("logs"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_string();
                    match e.file_type().ok()?.is_dir() {
                        true => Some(name),
                        false => name.strip_suffix(".log").map(String::from),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Remove the logs in `listed` whose container has no record; returns their names.
pub fn remove_orphans(ctx: &Ctx, listed: Vec<String>, known: &HashSet<&str>) -> Vec<String> {
    let mut removed = Vec::new();
    for name in listed {
        if !known.contains(name.as_str()) && remove(ctx, &name).is_ok() {
            removed.push(name);
        }
    }
    removed
}
