//! Reading a container's log: every kept file, oldest first, then (`-f`) what the pump
//! appends, until the pump is done (the command and everything holding its output ended) or
//! the container is removed.

use super::{dir, CURRENT};
use crate::engine::container;
use crate::engine::Ctx;
use crate::model::{Error, Result};
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// How often `-f` looks for more output.
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    No,
    Yes,
}

/// Pass a container's log to `sink`, oldest first.
pub fn copy(ctx: &Ctx, name: &str, follow: Follow, mut sink: impl FnMut(&[u8])) -> Result<()> {
    let ep = container::find(ctx, name)?;
    let d = dir(ctx, name);
    let lock = match File::open(&d) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::conflict(format!(
                "container '{}' keeps no log: only `podnet run -d` containers do (a foreground run writes to its terminal)",
                ep.name
            )))
        }
        Err(e) => return Err(Error::failed(format!("open log {}: {e}", d.display()))),
    };
    // Open every file before reading any: a rotation meanwhile renames them, but what is open
    // stays readable, so nothing is read twice or skipped.
    let mut files = Vec::new();
    for k in (1..=99).rev() {
        if let Ok(f) = File::open(d.join(format!("{CURRENT}.{k}"))) {
            files.push(f);
        }
    }
    let mut current = File::open(d.join(CURRENT)).ok();
    let mut buf = vec![0u8; 64 * 1024];
    for mut f in files {
        drain(&mut f, &mut buf, &mut sink)?;
    }
    if let Some(f) = current.as_mut() {
        drain(f, &mut buf, &mut sink)?;
    }
    if follow == Follow::No {
        return Ok(());
    }
    loop {
        // Whether the pump was done before this round's reads: then they were the last.
        let done = pump_done(&lock);
        if let Some(f) = current.as_mut() {
            drain(f, &mut buf, &mut sink)?;
        }
        // Rotated: the old file was read to its end just above; go on with the new one.
        while let Some(mut next) = replaced(&d, current.as_ref()) {
            drain(&mut next, &mut buf, &mut sink)?;
            current = Some(next);
        }
        if done || !d.exists() {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

fn drain(f: &mut File, buf: &mut [u8], sink: &mut impl FnMut(&[u8])) -> Result<()> {
    loop {
        match f.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sink(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::failed(format!("read log: {e}"))),
        }
    }
}

/// The current file when it is no longer the one `open` reads (a rotation happened).
fn replaced(d: &Path, open: Option<&File>) -> Option<File> {
    let now = std::fs::metadata(d.join(CURRENT)).ok()?;
    let same = open
        .and_then(|f| f.metadata().ok())
        .is_some_and(|m| (m.dev(), m.ino()) == (now.dev(), now.ino()));
    if same {
        return None;
    }
    File::open(d.join(CURRENT)).ok()
}

/// The pump holds a shared lock on the log directory while it runs.
fn pump_done(dir: &File) -> bool {
    // SAFETY: flock on a descriptor we own; the exclusive lock taken is dropped at once.
    unsafe {
        if libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 {
            libc::flock(dir.as_raw_fd(), libc::LOCK_UN);
            true
        } else {
            false
        }
    }
}
