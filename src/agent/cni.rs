//! CNI calls handed to the agent by the plugin (`cni::handoff`): served on the connection's
//! thread with one of a few engine contexts kept open between calls, as the plugin would in its own
//! process. The agent declines a call it cannot serve exactly as the plugin would — a caller
//! that is not root with CAP_NET_ADMIN, in another network or mount namespace (its CNI_NETNS
//! path and the host's links would not be the agent's), for other directories, or a plugin
//! of another build — and the plugin then does the call itself.

use super::serve::log;
use super::wire::{CniCall, CniReply, Response};
use crate::cni::{self, Dirs, Env};
use crate::engine::contexts::Contexts;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// Calls served at once. ADDs of one network serialize on the store's write lock anyway;
/// more let a slow DEL (the kernel's veth teardown, tens of ms) not hold up ADDs.
const WORKERS: usize = 4;

/// Kept contexts for the calls and what the agent serves. A call runs on the thread of the
/// connection that brought it, with a context taken from here: no hand-over to another
/// thread on the way (two wake-ups fewer per call than a worker pool).
pub(super) struct Workers {
    idle: Mutex<Vec<Contexts>>,
    returned: Condvar,
    dirs: Dirs,
}

impl Workers {
    pub(super) fn start(root: &Path, run_dir: &Path) -> std::io::Result<Arc<Workers>> {
        Ok(Arc::new(Workers {
            idle: Mutex::new((0..WORKERS).map(|_| Contexts::kept()).collect()),
            returned: Condvar::new(),
            dirs: Dirs {
                root: root.to_path_buf(),
                run_dir: run_dir.to_path_buf(),
            },
        }))
    }

    /// Serve `call` from the client at the other end of `conn`, or decline it.
    pub(super) fn serve(&self, conn: &UnixStream, call: CniCall) -> Response {
        if let Err(why) = self.may_serve(conn, &call) {
            // Said here, where an operator looks: the plugin does the call itself, silently.
            log(&format!(
                "declined a CNI call, the plugin does it itself: {why}"
            ));
            return Response::error(format!("agent: declined CNI call: {why}"));
        }
        let mut lent = self.lend();
        let r = work(&call, lent.ctxs());
        Response {
            body: serde_json::to_value(r).ok(),
            ..Response::ok()
        }
    }

    /// A kept context, waiting while all are in use.
    fn lend(&self) -> Lent<'_> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(ctxs) = idle.pop() {
                return Lent {
                    from: self,
                    ctxs: Some(ctxs),
                };
            }
            idle = self.returned.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn may_serve(&self, conn: &UnixStream, call: &CniCall) -> Result<(), String> {
        let own = super::wire::build();
        if call.build != own {
            return Err(format!(
                "the plugin is podnet {}, the agent podnet {own}: restart the agent",
                call.build
            ));
        }
        let (pid, uid) = super::wire::peer(conn).map_err(|e| format!("who is calling: {e}"))?;
        // The agent does for a caller only what the caller could do itself.
        if uid != 0 || crate::kernel::caps::net_admin_of(pid) != Some(true) {
            return Err(format!(
                "the caller (pid {pid}, uid {uid}) is not root with CAP_NET_ADMIN"
            ));
        }
        for ns in ["net", "mnt"] {
            let theirs = ns_identity(&format!("/proc/{pid}/ns/{ns}"));
            if theirs.is_none() || theirs != ns_identity(&format!("/proc/self/ns/{ns}")) {
                return Err(format!("the caller is in another {ns} namespace"));
            }
        }
        if !same_dir(&call.root, &self.dirs.root) || !same_dir(&call.run_dir, &self.dirs.run_dir) {
            return Err(format!(
                "the call's state is in {} and {}, the agent's in {} and {}",
                call.root.display(),
                call.run_dir.display(),
                self.dirs.root.display(),
                self.dirs.run_dir.display()
            ));
        }
        Ok(())
    }
}

/// A context lent to one call; back to the pool when the call ends, a fresh one in its
/// place if the call panicked (whatever it held may be half-used).
struct Lent<'a> {
    from: &'a Workers,
    ctxs: Option<Contexts>,
}

impl Lent<'_> {
    fn ctxs(&mut self) -> &mut Contexts {
        self.ctxs.as_mut().expect("lent until dropped")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let ctxs = match self.ctxs.take() {
            Some(c) if !std::thread::panicking() => c,
            _ => Contexts::kept(),
        };
        let mut idle = self.from.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.push(ctxs);
        self.from.returned.notify_one();
    }
}

/// One call, as the plugin would run it in its own process.
fn work(call: &CniCall, ctxs: &mut Contexts) -> CniReply {
    let env = Env::from_pairs(call.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let dirs = Dirs {
        root: call.root.clone(),
        run_dir: call.run_dir.clone(),
    };
    let r = cni::run_with(&env, call.stdin.as_bytes(), &dirs, ctxs);
    if r.code != 0 {
        log(&format!(
            "CNI {} {}: {}",
            env.get("CNI_COMMAND").unwrap_or("?"),
            env.get("CNI_CONTAINERID").unwrap_or("?"),
            String::from_utf8_lossy(&r.stdout).trim_end()
        ));
    }
    CniReply {
        stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
        code: r.code,
    }
}

fn ns_identity(path: &str) -> Option<(u64, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino()))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| PathBuf::from(p));
    a == b || canon(a) == canon(b)
}
