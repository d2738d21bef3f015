//! Watching containers' processes (pidfd): when one exits, its container leaves every
//! service at once (before, a dead backend kept its share of new connections, refused,
//! until the next command or `gc`).

use super::serve::{log, Job};
use crate::engine::proc::{self, ProcId};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the watch sleeps in poll before it looks at a changed list of processes.
const TICK: Duration = Duration::from_millis(200);

/// The processes to watch: endpoint id → (container name, process). Replaced whole by the
/// main thread after each store read.
pub type Wanted = Arc<Mutex<HashMap<i64, (String, ProcId)>>>;

/// Start the watch thread; it reports each exit as [`Job::Exited`].
pub fn start(tx: Sender<Job>, wanted: Wanted) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("pid-watch".into())
        .spawn(move || watch(tx, wanted))?;
    Ok(())
}

fn watch(tx: Sender<Job>, wanted: Wanted) {
    let mut open: HashMap<i64, (String, ProcId, OwnedFd)> = HashMap::new();
    loop {
        let want = wanted.lock().unwrap_or_else(|p| p.into_inner()).clone();
        open.retain(|id, (_, pid, _)| want.get(id).is_some_and(|w| w.1 == *pid));
        for (id, (name, pid)) in want {
            if open.contains_key(&id) {
                continue;
            }
            match pidfd(pid) {
                Some(fd) => {
                    open.insert(id, (name, pid, fd));
                }
                // Gone already (or reused): an exit to report all the same.
                None => {
                    if tx.send(Job::Exited(id, name, pid)).is_err() {
                        return;
                    }
                    wanted.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                }
            }
        }
        let ids: Vec<i64> = open.keys().copied().collect();
        let mut fds: Vec<libc::pollfd> = ids
            .iter()
            .map(|id| libc::pollfd {
                fd: open[id].2.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: poll over an array of pollfd this function owns, with its length.
        let n = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                TICK.as_millis() as i32,
            )
        };
        if n <= 0 {
            continue;
        }
        for (i, p) in fds.iter().enumerate() {
            if p.revents == 0 {
                continue;
            }
            let id = ids[i];
            if let Some((name, pid, _)) = open.remove(&id) {
                wanted.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                if tx.send(Job::Exited(id, name, pid)).is_err() {
                    return;
                }
            }
        }
    }
}

/// A pidfd for `pid` if it is still the process recorded (same start time), checked after
/// the pidfd is open so that a reused pid is never watched in its place.
fn pidfd(pid: ProcId) -> Option<OwnedFd> {
    // SAFETY: pidfd_open(2) by syscall number; the result is an fd owned at once.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.0, 0) };
    if raw < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            log(&format!("pidfd of {}: {e}", pid.0));
        }
        return None;
    }
    // SAFETY: a fresh fd from the kernel.
    let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    proc::alive(pid).then_some(fd)
}
