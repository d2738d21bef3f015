//! What the kernel-event watchers share: a mirror of some kernel state, kept from
//! notifications by a thread in one node's network namespace, and one goal at a time
//! (a predicate over the mirror) with the time of the notification that first made it
//! true. The watcher evaluates the goal itself after every change it applies, so no
//! intermediate state is missed and the stamp is the notification's arrival, not the time
//! some poller looked. [`watch_netlink`] is the one receive loop of every watcher; each
//! brings only its decoder.

use netlink_sys::Socket;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

type Goal<M> = Box<dyn Fn(&M) -> bool + Send>;

struct State<M> {
    mirror: M,
    /// The goals of the current step, each with the time it was first met.
    goals: Vec<(Goal<M>, Option<Instant>)>,
    /// Notifications were lost (socket buffer overflow): the mirror cannot be trusted.
    lost: bool,
}

/// A mirror of `M` and the goals of one step; see the module docs.
pub struct Watched<M> {
    state: Mutex<State<M>>,
    cv: Condvar,
}

impl<M: Default> Watched<M> {
    pub fn new() -> Arc<Watched<M>> {
        Arc::new(Watched {
            state: Mutex::new(State {
                mirror: M::default(),
                goals: Vec::new(),
                lost: false,
            }),
            cv: Condvar::new(),
        })
    }
}

impl<M> Watched<M> {
    /// Applies one change (or one transaction's changes) that arrived at `at`.
    pub fn apply(&self, at: Instant, f: impl FnOnce(&mut M)) {
        let mut s = self.state.lock().unwrap();
        f(&mut s.mirror);
        let State { mirror, goals, .. } = &mut *s;
        let mut met = false;
        for (g, hit) in goals.iter_mut() {
            if hit.is_none() && g(mirror) {
                *hit = Some(at);
                met = true;
            }
        }
        if met {
            self.cv.notify_all();
        }
    }

    pub fn mark_lost(&self) {
        self.state.lock().unwrap().lost = true;
        self.cv.notify_all();
    }

    /// Adds a goal to the step; its index for [`Self::wait`]. Err when it already holds
    /// (the change it waits for came before the clock started: a broken trial).
    pub fn set_goal(&self, goal: impl Fn(&M) -> bool + Send + 'static) -> Result<usize, String> {
        let mut s = self.state.lock().unwrap();
        if goal(&s.mirror) {
            return Err("the goal already holds before the change".into());
        }
        s.goals.push((Box::new(goal), None));
        Ok(s.goals.len() - 1)
    }

    /// Waits up to `limit` for goal `i`; the time of the notification that met it.
    pub fn wait(&self, i: usize, limit: Duration) -> Result<Instant, String> {
        let s = self.state.lock().unwrap();
        let (s, _) = self
            .cv
            .wait_timeout_while(s, limit, |s| s.goals[i].1.is_none() && !s.lost)
            .unwrap();
        if s.lost {
            return Err("netlink notifications were lost (ENOBUFS)".into());
        }
        s.goals[i]
            .1
            .ok_or_else(|| format!("goal not met within {limit:?}"))
    }

    /// Ends the step: forgets its goals.
    pub fn clear_goals(&self) {
        self.state.lock().unwrap().goals.clear();
    }

    /// Untimed: returns once `goal` holds (at once if it already does).
    pub fn until(
        &self,
        goal: impl Fn(&M) -> bool + Send + 'static,
        limit: Duration,
    ) -> Result<(), String> {
        self.clear_goals();
        let r = match self.set_goal(goal) {
            Err(_) => Ok(()),
            Ok(i) => self.wait(i, limit).map(|_| ()),
        };
        self.clear_goals();
        r
    }

    /// Reads the mirror.
    pub fn with<T>(&self, f: impl FnOnce(&M) -> T) -> T {
        f(&self.state.lock().unwrap().mirror)
    }

    /// Changes the mirror without evaluating goals (a reset the kernel does not announce,
    /// e.g. routes flushed with their device).
    pub fn reset(&self, f: impl FnOnce(&mut M)) {
        f(&mut self.state.lock().unwrap().mirror)
    }
}

/// Runs `body` on a thread of its own in the network namespace at `netns` (a path the
/// machine's mount namespace can open, e.g. `/proc/HOLDER/root/run/netns/node1`).
/// `body` gets a `ready` callback to call once its socket is subscribed; this returns
/// after that, so no notification after the return is missed.
pub fn spawn_in(
    netns: PathBuf,
    name: String,
    body: impl FnOnce(&dyn Fn()) + Send + 'static,
) -> Result<(), String> {
    let (tx, rx) = channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let entered = File::open(&netns)
                .map_err(|e| format!("open {}: {e}", netns.display()))
                .and_then(|f| {
                    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(|e| format!("setns {}: {e}", netns.display()))
                });
            if let Err(e) = entered {
                let _ = tx.send(Err(e));
                return;
            }
            let ready = || {
                let _ = tx.send(Ok(()));
            };
            body(&ready);
        })
        .map_err(|e| format!("spawn {name}: {e}"))?;
    rx.recv()
        .map_err(|_| format!("{name} ended before it was ready"))?
}

/// Starts a watcher in the namespace at `netns`: a netlink socket of `protocol` joined to
/// `groups` (with a forced receive buffer), each datagram handed to `decode` with its
/// arrival time and the mirror. Lost notifications (ENOBUFS) mark the mirror lost and end
/// the watcher. Returns once the socket is subscribed, so no later notification is missed.
pub fn watch_netlink<M, D>(
    netns: PathBuf,
    name: String,
    protocol: isize,
    groups: &'static [u32],
    mut decode: D,
) -> Result<Arc<Watched<M>>, String>
where
    M: Default + Send + 'static,
    D: FnMut(&[u8], Instant, &Watched<M>) + Send + 'static,
{
    let w = Watched::new();
    let mirror = w.clone();
    let what = name.clone();
    spawn_in(netns, name, move |ready| {
        let mut sock = Socket::new(protocol).expect("netlink socket");
        sock.bind_auto().expect("bind");
        for g in groups {
            sock.add_membership(*g)
                .unwrap_or_else(|e| panic!("{what}: join netlink group {g}: {e}"));
        }
        force_rcvbuf(&sock);
        ready();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match sock.recv(&mut &mut buf[..], 0) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    mirror.mark_lost();
                    return;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => panic!("{what}: netlink notifications: {e}"),
            };
            decode(&buf[..n], Instant::now(), &mirror);
        }
    })?;
    Ok(w)
}

/// A 4 MiB receive buffer (SO_RCVBUFFORCE: we are root), so a full render's burst of
/// notifications is not lost.
fn force_rcvbuf(sock: &Socket) {
    let size: libc::c_int = 4 << 20;
    // SAFETY: setsockopt on a socket we own, with a pointer to a local that outlives it.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        );
    }
}
