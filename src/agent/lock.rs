//! One agent per runtime dir: an exclusive flock on a file holding the holder's pid. The
//! kernel drops the lock when the holder dies (even by SIGKILL), so there is no stale lock.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// The lock, held while this value lives.
pub struct Held(#[allow(dead_code)] File);

/// Take the lock at `path`: `Ok(Ok(held))`, or `Ok(Err(pid))` with the holder's pid (0 when
/// it has not written it yet).
pub fn take(path: &Path) -> io::Result<Result<Held, u32>> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)?;
    // SAFETY: flock on an fd this function owns.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(e);
        }
        let mut text = String::new();
        f.read_to_string(&mut text)?;
        return Ok(Err(text.trim().parse().unwrap_or(0)));
    }
    f.set_len(0)?;
    f.rewind()?;
    writeln!(f, "{}", std::process::id())?;
    Ok(Ok(Held(f)))
}
