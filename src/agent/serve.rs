//! The agent proper: one thread owns the store and the DNS server and does every change;
//! connection threads hand it requests and wait for its answer. Requests that queue while a
//! re-read runs are answered by the next one (one re-read serves them all).
//!
//! A sync that names one container (a `run`, `rm`, `connect`, `disconnect`, runtime ADD or
//! DEL) reads only that container's rows and patches them into the names last served; any
//! other sync (networks, services, a retry, a store made again) reads every name. Either way
//! the table is swapped whole before the answer, so what the command changed is served when
//! it returns.

use super::wire::{self, Request, Response};
use super::{client, cni, conns, guard, listen_of, lock, pids, to_dns};
use crate::dns;
use crate::model::{Error, NetworkNames, Result};
use crate::store::{State, Store};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// How often the agent looks again at what it could not do (addresses not bound, no store
/// yet) without being asked.
const RETRY: Duration = Duration::from_secs(1);

/// What the main thread is asked to do.
pub(super) enum Job {
    /// Serve what the store says; the answer goes back on the sender. With a container's
    /// id, only that container's names changed.
    Sync(Sender<Response>, Option<i64>),
    /// Someone (named as the kernel names them) deleted part of podnet's nftables tables:
    /// render them again.
    Repair(String),
    /// A container's process exited (endpoint id, name, process).
    Exited(i64, String, crate::engine::proc::ProcId),
}

/// How long a repair waits for the rest of a burst of deletions (a firewall reload is
/// several transactions) so that one re-render follows them all.
const DEBOUNCE: Duration = Duration::from_millis(50);

/// The main thread's state.
struct Agent {
    root: PathBuf,
    /// The store and its file's identity (a store deleted and made again is opened again).
    store: Option<(Store, Option<(u64, u64)>)>,
    server: dns::Server,
    /// Something could not be done on the last pass (retried every [`RETRY`]).
    pending: bool,
    /// Each served address's bridge index when it was bound.
    bound: HashMap<dns::Listen, u32>,
    /// The names being served (None: read them all at the next sync).
    names: Option<Vec<NetworkNames>>,
    repairer: guard::Repairer,
    /// A repair failed: tried again every [`RETRY`].
    repair_pending: bool,
    /// The containers' processes the pid watch follows.
    wanted: pids::Wanted,
    /// The cluster publisher's wake-up (a no-op in single-host mode).
    publish: super::services::Poke,
}

pub fn run(root: &Path, run_dir: &Path) -> Result<i32> {
    std::fs::create_dir_all(run_dir)?;
    let _held = match lock::take(&client::lock_path(run_dir))? {
        Ok(h) => h,
        Err(pid) => {
            eprintln!("agent already running (pid {pid})");
            return Ok(0);
        }
    };
    // Cluster mode: join before serving, so a refused join is the agent's one-line error.
    let _membership = super::cluster::start(root, run_dir)?;
    // Woken by commands (`publish`) and by containers' processes exiting.
    let publish = super::services::Poke::default();
    super::services::start_for(root, run_dir, _membership.as_ref(), publish.clone())?;
    let own = Arc::new(AtomicU32::new(0));
    let server = dns::Server::start(dns::Config::default())
        .map_err(|e| Error::failed(format!("agent: DNS server: {e}")))?;
    let mut agent = Agent {
        root: root.to_path_buf(),
        store: None,
        server,
        pending: false,
        bound: HashMap::new(),
        names: None,
        repairer: guard::Repairer::new(root, run_dir, own.clone()),
        repair_pending: false,
        wanted: pids::Wanted::default(),
        publish: publish.clone(),
    };
    agent.sync(None);
    // The lock is ours: a socket file left there is a dead agent's.
    let path = client::socket_path(run_dir);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| Error::failed(format!("agent: socket {}: {e}", path.display())))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    log(&format!("serving (pid {})", std::process::id()));
    let (tx, rx) = mpsc::channel();
    if let Err(e) = pids::start(tx.clone(), agent.wanted.clone()) {
        log(&format!("cannot watch containers' processes: {e}"));
    }
    if let Err(e) = guard::start(tx.clone(), own) {
        log(&format!(
            "cannot watch nftables (tables are repaired by commands only): {e}"
        ));
    }
    let workers = cni::Workers::start(root, run_dir)?;
    std::thread::Builder::new()
        .name("accept".into())
        .spawn(move || accept(listener, tx, workers, publish))?;
    agent.main_loop(rx);
    Ok(0)
}

/// A line in the agent's log (its stderr: the log file when detached, the journal under
/// systemd).
pub(super) fn log(msg: &str) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    eprintln!("{t:.3} podnet agent: {msg}");
}

impl Agent {
    fn main_loop(&mut self, rx: Receiver<Job>) {
        loop {
            let first = match rx.recv_timeout(RETRY) {
                Ok(j) => Some(j),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut waiting = Vec::new();
            let mut sync = self.pending;
            // The containers named by the syncs; None once one of them (or a retry) needs
            // every name read.
            let mut only: Option<BTreeSet<i64>> = (!self.pending).then(BTreeSet::new);
            let mut repair = self.repair_pending;
            let mut by = String::from("someone");
            let tick = first.is_none();
            let mut jobs: Vec<Job> = first.into_iter().chain(rx.try_iter()).collect();
            if jobs.iter().any(|j| matches!(j, Job::Repair(_))) {
                std::thread::sleep(DEBOUNCE);
                jobs.extend(rx.try_iter());
            }
            for job in jobs {
                match job {
                    Job::Sync(reply, container) => {
                        sync = true;
                        waiting.push(reply);
                        match (container, only.as_mut()) {
                            (Some(c), Some(set)) => {
                                set.insert(c);
                            }
                            _ => only = None,
                        }
                    }
                    Job::Repair(who) => {
                        repair = true;
                        by = who;
                    }
                    Job::Exited(id, name, pid) => match self.repairer.exited(id, &name, pid) {
                        Ok(true) => {
                            self.publish.poke();
                            log(&format!(
                                "container '{name}': its process {} exited; out of every service",
                                pid.0
                            ))
                        }
                        Ok(false) => {}
                        Err(e) => log(&format!(
                            "container '{name}': its process exited, services not updated: {e}"
                        )),
                    },
                }
            }
            if repair {
                self.repair_pending = false;
                match self.repairer.repair() {
                    Ok(()) => log(&format!("{by} deleted podnet's nftables tables or rules: rendered again from the store")),
                    Err(e) => {
                        self.repair_pending = true;
                        log(&format!("cannot restore podnet's nftables tables: {e}; retrying"));
                    }
                }
            }
            if sync {
                let r = self.sync(only.as_ref());
                for w in waiting {
                    let _ = w.send(r.clone());
                }
            }
            // After the answers: the pid watch's list is not what a command waits for.
            match (tick, sync, only.as_ref()) {
                (false, true, Some(containers)) => self.follow_containers(containers),
                (true, _, _) | (_, true, _) => self.follow_processes(),
                _ => {}
            }
        }
    }

    /// Hand the pid watch every running container's process (a container that is not a
    /// backend is watched too: it may become one by a label). Read at each store change
    /// the agent is told of and every [`RETRY`] (commands on networks without DNS do not
    /// tell the agent).
    fn follow_processes(&mut self) {
        let Some((store, _)) = self.store.as_ref() else {
            return;
        };
        let reads = (store as &dyn State).reads();
        let Ok(eps) = reads.endpoints() else { return };
        let mut want = HashMap::new();
        for e in eps {
            if let (crate::model::EndpointState::Ready, Some(pid)) = (e.state, e.pid) {
                if !reads.is_draining(e.id).unwrap_or(true) {
                    want.insert(e.id, (e.name, pid));
                }
            }
        }
        *self.wanted.lock().unwrap_or_else(|p| p.into_inner()) = want;
    }

    /// Follow only `containers`' processes (a sync named them: nothing else changed).
    fn follow_containers(&mut self, containers: &BTreeSet<i64>) {
        let Some((store, _)) = self.store.as_ref() else {
            return;
        };
        let reads = (store as &dyn State).reads();
        let mut wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        for &id in containers {
            match reads.endpoint_by_id(id) {
                Ok(Some(e)) => match (e.state, e.pid) {
                    (crate::model::EndpointState::Ready, Some(pid))
                        if !reads.is_draining(e.id).unwrap_or(true) =>
                    {
                        wanted.insert(e.id, (e.name, pid));
                    }
                    _ => {
                        wanted.remove(&id);
                    }
                },
                Ok(None) => {
                    wanted.remove(&id);
                }
                // Read in full at the next tick.
                Err(_) => {}
            }
        }
    }

    /// Serve the store's names: the table first, then the addresses (new gateways bound,
    /// gone ones closed). `only`: just these containers' names changed (the networks did
    /// not), so only their rows are read and the addresses stay as they are.
    fn sync(&mut self, only: Option<&BTreeSet<i64>>) -> Response {
        self.pending = false;
        let file = crate::store::db_identity(&self.root);
        if self.store.as_ref().is_some_and(|(_, id)| *id != file) {
            self.store = None;
            self.names = None;
        }
        if self.store.is_none() {
            match Store::open_existing(&self.root) {
                Ok(s) => self.store = Some((s, file)),
                // No state yet: nothing to serve until a command makes it.
                Err(Error::NoState { .. }) => return Response::ok(),
                Err(e) => {
                    self.pending = true;
                    log(&format!("cannot open the store: {e}"));
                    return Response::error(format!("agent: store: {e}"));
                }
            }
        }
        let (store, _) = self.store.as_ref().expect("opened above");
        let reads = (store as &dyn State).reads();
        if let (Some(containers), Some(names)) = (only, self.names.as_mut()) {
            match patch(reads, names, containers) {
                Ok(true) => {
                    self.server.update(&to_dns(names));
                    return Response::ok();
                }
                // A network the agent does not serve yet: read everything.
                Ok(false) => {}
                Err(e) => {
                    self.names = None;
                    self.pending = true;
                    log(&format!("cannot read names: {e}"));
                    return Response::error(format!("agent: store: {e}"));
                }
            }
        }
        let nets = match reads.dns_names() {
            Ok(n) => n,
            Err(e) => {
                self.names = None;
                self.pending = true;
                log(&format!("cannot read names: {e}"));
                return Response::error(format!("agent: store: {e}"));
            }
        };
        self.server.update(&to_dns(&nets));
        let want = listen_of(&nets);
        let index: Vec<u32> = want.iter().map(bridge_index).collect();
        // A bridge made again (network removed and created under the same name) is a new
        // interface: sockets bound to the old one would never hear it, so they go first.
        let fresh: Vec<dns::Listen> = want
            .iter()
            .zip(&index)
            .filter(|(l, i)| self.bound.get(*l).is_none_or(|b| b == *i))
            .map(|(l, _)| l.clone())
            .collect();
        if fresh.len() != want.len() {
            self.server.set_listen(&fresh);
        }
        let failed = self.server.set_listen(&want);
        self.bound = want
            .iter()
            .zip(index)
            .filter(|(l, _)| !failed.iter().any(|(f, _)| f == *l))
            .map(|(l, i)| (l.clone(), i))
            .collect();
        for (l, e) in &failed {
            log(&format!(
                "cannot serve DNS on {} ({}): {e}; retrying",
                l.addr,
                l.device.as_deref().unwrap_or("any")
            ));
        }
        self.pending |= !failed.is_empty();
        self.names = Some(nets);
        Response::ok()
    }
}

/// Replace `containers`' records in `names` with what the store has for them now, in the
/// order a full read has them (by container id, services last). False: a record is on a
/// network `names` does not have (nothing changed then; read everything).
fn patch(
    reads: &dyn crate::store::Reads,
    names: &mut [NetworkNames],
    containers: &BTreeSet<i64>,
) -> Result<bool> {
    let mut fresh = Vec::new();
    for &c in containers {
        for (net, record) in reads.container_dns_names(c)? {
            match names.iter().position(|n| n.network.id == net) {
                Some(i) => fresh.push((i, record)),
                None => return Ok(false),
            }
        }
    }
    let owners: Vec<String> = containers.iter().map(i64::to_string).collect();
    for n in names.iter_mut() {
        n.records.retain(|r| !owners.contains(&r.owner));
    }
    for (i, record) in fresh {
        names[i].records.push(record);
    }
    for n in names.iter_mut() {
        // Stable: services (no owner) keep their order, after every container.
        n.records
            .sort_by_key(|r| (r.owner.is_empty(), r.owner.parse::<i64>().unwrap_or(0)));
    }
    Ok(true)
}

/// The index of the interface an address is served on (0: none).
fn bridge_index(l: &dns::Listen) -> u32 {
    let Some(dev) = l.device.as_deref() else {
        return 0;
    };
    let Ok(name) = std::ffi::CString::new(dev) else {
        return 0;
    };
    // SAFETY: if_nametoindex reads a NUL-terminated string that outlives the call.
    unsafe { libc::if_nametoindex(name.as_ptr()) }
}

/// Accept connections; each gets a thread (a client holds one only for its requests).
fn accept(
    listener: UnixListener,
    tx: Sender<Job>,
    workers: Arc<cni::Workers>,
    publish: super::services::Poke,
) {
    conns::accept(listener, move |conn| {
        if let Err(e) = converse(conn, &tx, &workers, &publish) {
            if e.kind() != io::ErrorKind::BrokenPipe {
                log(&format!("client: {e}"));
            }
        }
    });
}

/// Answer one client's requests until it closes the connection.
fn converse(
    mut conn: UnixStream,
    tx: &Sender<Job>,
    workers: &cni::Workers,
    publish: &super::services::Poke,
) -> io::Result<()> {
    while let Some(body) = wire::recv_bytes(&mut conn)? {
        let resp = match wire::parse_request(&body) {
            Err(e) => Response::error(e),
            Ok(Request::Ping) => Response::ok(),
            // Answered at once: publishing waits on etcd, which a command must not.
            Ok(Request::Publish) => {
                publish.poke();
                Response::ok()
            }
            Ok(Request::Sync { container }) => {
                let (rtx, rrx) = mpsc::channel();
                match tx.send(Job::Sync(rtx, container)) {
                    Ok(()) => rrx
                        .recv()
                        .unwrap_or_else(|_| Response::error("agent: stopping")),
                    Err(_) => Response::error("agent: stopping"),
                }
            }
            Ok(Request::Cni(call)) => workers.serve(&conn, call),
        };
        wire::send(&mut conn, &resp)?;
    }
    Ok(())
}
