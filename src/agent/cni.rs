//! CNI calls handed to the agent by the plugin (`cni::handoff`): a few worker threads, each
//! with engine contexts kept open between calls, serve them as the plugin would in its own
//! process. The agent declines a call it cannot serve exactly as the plugin would — a caller
//! that is not root with CAP_NET_ADMIN, in another network or mount namespace (its CNI_NETNS
//! path and the host's links would not be the agent's), for other directories, or a plugin
//! of another build — and the plugin then does the call itself.

use super::serve::log;
use super::wire::{CniCall, CniReply, Response};
use crate::cni::{self, Dirs, Env};
use crate::engine::contexts::Contexts;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

/// Calls served at once. ADDs of one network serialize on the store's write lock anyway;
/// more workers let a slow DEL (the kernel's veth teardown, tens of ms) not hold up ADDs.
const WORKERS: usize = 4;

struct Task {
    call: CniCall,
    reply: Sender<CniReply>,
}

/// The workers and what the agent serves.
pub(super) struct Workers {
    tasks: Mutex<Sender<Task>>,
    dirs: Dirs,
}

impl Workers {
    pub(super) fn start(root: &Path, run_dir: &Path) -> std::io::Result<Arc<Workers>> {
        let (tx, rx) = mpsc::channel::<Task>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..WORKERS {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("cni-{i}"))
                .spawn(move || work(&rx))?;
        }
        Ok(Arc::new(Workers {
            tasks: Mutex::new(tx),
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
        let (tx, rx) = mpsc::channel();
        let sent = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(Task { call, reply: tx });
        match sent.ok().and_then(|()| rx.recv().ok()) {
            Some(r) => Response {
                body: serde_json::to_value(r).ok(),
                ..Response::ok()
            },
            None => Response::error("agent: stopping"),
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
        let (pid, uid) = peer(conn).map_err(|e| format!("who is calling: {e}"))?;
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

/// One worker: takes calls until the agent stops, keeping its contexts open between them.
fn work(tasks: &Mutex<Receiver<Task>>) {
    let mut ctxs = Contexts::kept();
    loop {
        let task = match tasks.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(t) => t,
            Err(_) => return,
        };
        let env = Env::from_pairs(task.call.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let dirs = Dirs {
            root: task.call.root.clone(),
            run_dir: task.call.run_dir.clone(),
        };
        let r = cni::run_with(&env, task.call.stdin.as_bytes(), &dirs, &mut ctxs);
        if r.code != 0 {
            log(&format!(
                "CNI {} {}: {}",
                env.get("CNI_COMMAND").unwrap_or("?"),
                env.get("CNI_CONTAINERID").unwrap_or("?"),
                String::from_utf8_lossy(&r.stdout).trim_end()
            ));
        }
        // The client may be gone (killed): it will call again.
        let _ = task.reply.send(CniReply {
            stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
            code: r.code,
        });
    }
}

/// The pid and uid of the process at the other end of `conn`.
fn peer(conn: &UnixStream) -> std::io::Result<(i32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED writes a ucred of at most `len` bytes into `cred`, which lives
    // across the call; the fd is the open socket `conn` borrows.
    let r = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((cred.pid, cred.uid))
}

fn ns_identity(path: &str) -> Option<(u64, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino()))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| PathBuf::from(p));
    a == b || canon(a) == canon(b)
}
