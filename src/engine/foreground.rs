//! A foreground `run`: podnet stays between its caller and the command, as Docker's sig-proxy
//! does. A signal sent to podnet (SIGTERM from a supervisor, `kill -INT`) is passed on to the
//! command, and podnet lives on to tear the container down once the command is gone; a second
//! one kills the command. Signals the terminal sends (Ctrl-C, Ctrl-\, hangup) already reach
//! the command, which shares podnet's process group, so they are not sent twice.
//!
//! The signals are blocked, not handled: they wait as pending until `sigwaitinfo` takes them,
//! so none is lost between starting the command and waiting for it, and no handler runs
//! while podnet is changing the kernel or the store.

use crate::model::{Error, Result};
use std::mem::MaybeUninit;
use std::os::unix::process::ExitStatusExt;
use std::process::Child;

/// The signals a foreground run passes on to its command.
const FORWARDED: [i32; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

fn set_of(signals: &[i32]) -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset only writes into it.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for s in signals {
            libc::sigaddset(set.as_mut_ptr(), *s);
        }
        set.assume_init()
    }
}

/// The forwarded signals and SIGCHLD, blocked on the calling thread (podnet's only one) for
/// the rest of the process. Threads started later inherit the mask, and so would the command:
/// its child side calls [`unblock`] before exec (std keeps the parent's mask).
pub struct Signals {
    forwarded: libc::sigset_t,
    waited: libc::sigset_t,
}

/// Undo [`Signals::block`] in a forked child before it execs the command. Only
/// async-signal-safe calls (sigemptyset, sigaddset, pthread_sigmask).
pub fn unblock() {
    let mut all = [0; FORWARDED.len() + 1];
    all[..FORWARDED.len()].copy_from_slice(&FORWARDED);
    all[FORWARDED.len()] = libc::SIGCHLD;
    let set = set_of(&all);
    // SAFETY: pthread_sigmask with a valid set.
    unsafe {
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

impl Signals {
    pub fn block() -> Signals {
        let forwarded = set_of(&FORWARDED);
        let mut all = FORWARDED.to_vec();
        all.push(libc::SIGCHLD);
        let waited = set_of(&all);
        // SAFETY: pthread_sigmask with a valid set; the old mask is not needed (the process
        // ends after the run).
        unsafe {
            libc::pthread_sigmask(libc::SIG_BLOCK, &waited, std::ptr::null_mut());
        }
        Signals { forwarded, waited }
    }

    /// A signal that arrived before the command started (consumed): the caller should not
    /// start it at all.
    pub fn take_pending(&self) -> Option<i32> {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: sigtimedwait with a valid set and timeout; a null info pointer is allowed.
        let s = unsafe { libc::sigtimedwait(&self.forwarded, std::ptr::null_mut(), &zero) };
        (s > 0).then_some(s)
    }

    /// Wait for the command, passing signals on. Returns its shell-style status (128+N when a
    /// signal N ended it).
    pub fn wait(&self, child: &mut Child) -> Result<i32> {
        let pid = child.id() as libc::pid_t;
        let mut passed_on = 0;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
            }
            let mut info = MaybeUninit::<libc::siginfo_t>::uninit();
            // SAFETY: sigwaitinfo fills `info` for the signal it returns.
            let sig = unsafe { libc::sigwaitinfo(&self.waited, info.as_mut_ptr()) };
            if sig < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::failed(format!("wait for the command: {e}")));
            }
            if sig == libc::SIGCHLD {
                continue;
            }
            // SAFETY: sigwaitinfo returned a signal, so `info` is initialised.
            let code = unsafe { info.assume_init() }.si_code;
            if code == libc::SI_KERNEL {
                // From the terminal: it went to the whole foreground process group, the
                // command included.
                continue;
            }
            let send = if passed_on == 0 { sig } else { libc::SIGKILL };
            passed_on += 1;
            // SAFETY: kill(2) on our own child, which is not reaped yet (try_wait above
            // found it running), so its PID cannot have been reused.
            unsafe {
                libc::kill(pid, send);
            }
        }
    }
}
