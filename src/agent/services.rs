//! Cluster mode: the cluster's services rendered on this node, and this node's containers
//! published as their endpoints (issue 11). Four threads, one job each:
//!
//! - `csvc-watch`: list `/podnet/v1/` then watch it from the listing's revision (one range,
//!   so services and endpoints are seen at one consistent revision); a compaction or a broken
//!   stream means a fresh listing (a full resync, never "everything was removed"), etcd
//!   unreachable keeps the last rendering (the data path keeps working) and retries.
//! - `csvc-render`: owns the catalog and the nftables socket; a listing is a full render of
//!   `ip podnet-csvc` (one transaction), an event batch only the element changes of the
//!   services it touches (O(1) in the number of services, `plan::services::cluster`); an
//!   element batch the kernel refuses falls back to a full render.
//! - `csvc-nft`: someone else deleted the table or its rules (`nft flush ruleset`): render
//!   it again.
//! - `csvc-publish`: the store's ready containers with an address in this node's subnet go
//!   to `/podnet/v1/endpoints/NODE/` bound to the node's lease (a diff: nothing is written
//!   when nothing changed). Woken by a [`Poke`] whenever a container may have changed as a
//!   backend (a command's or runtime's `publish` request, a container's process exiting), by
//!   a new lease (a re-join), and every [`RESYNC_EVERY`] anyway (a change nobody announced:
//!   a command of an older build, a process gone unseen).

use super::serve::log;
use crate::cluster::catalog::Catalog;
use crate::cluster::config::ClusterConfig;
use crate::cluster::endpoints::{EndpointRecord, Publisher};
use crate::cluster::etcd::{Etcd, Event, Kv};
use crate::cluster::member;
use crate::cluster::watch::{self, Follower};
use crate::engine::contexts::Contexts;
use crate::engine::{Access, Ctx};
use crate::kernel::nft::watch::{Seen, Watch};
use crate::kernel::nft::{NftError, NftSocket};
use crate::model::{EndpointState, Error, Result};
use crate::plan::services::cluster::{self as plan, ClusterFacts, Programmed};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Everything podnet keeps in etcd (services and endpoints are watched together).
const PREFIX: &str = "/podnet/v1/";
/// How often this node's containers are compared with what it published when nothing
/// announced a change (the safety net; changes are published when announced).
pub const RESYNC_EVERY: Duration = Duration::from_secs(5);
/// How often the publisher looks at the node's lease (a mutex read) for a re-join.
const LEASE_CHECK: Duration = Duration::from_millis(200);
/// A render that failed is tried again this often.
const RETRY: Duration = Duration::from_secs(1);

enum Msg {
    /// A full listing of `/podnet/v1/`.
    Listed(Vec<Kv>),
    Events(Vec<Event>),
    /// The table was deleted or flushed by someone else.
    Lost,
}

/// Wakes the publisher: this node's containers may have changed as backends. Cheap, never
/// blocks; pokes that arrive while it publishes make one more pass, not one each.
#[derive(Clone, Default)]
pub struct Poke(Arc<(Mutex<bool>, Condvar)>);

impl Poke {
    pub fn poke(&self) {
        let (flag, cv) = &*self.0;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_one();
    }

    /// Waits up to `limit` for a poke; whether there was one (taken).
    fn wait(&self, limit: Duration) -> bool {
        let (flag, cv) = &*self.0;
        let g = flag.lock().unwrap_or_else(|e| e.into_inner());
        let (mut g, _) = cv
            .wait_timeout_while(g, limit, |poked| !*poked)
            .unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *g)
    }
}

/// Starts the four threads when the agent joined a cluster (`membership`); nothing in
/// single-host mode. `poke` wakes the publisher.
pub fn start_for(
    root: &Path,
    run_dir: &Path,
    membership: Option<&member::Current>,
    poke: Poke,
) -> Result<()> {
    let Some(current) = membership else {
        return Ok(());
    };
    let Some(l) = crate::cluster::local::load(root).map_err(Error::failed)? else {
        return Ok(());
    };
    let etcd = Arc::new(Etcd::new(&l.etcd).map_err(Error::input)?);
    let cfg =
        crate::cluster::config::load(&etcd).map_err(|e| super::cluster::config_error(e, &etcd))?;
    let node = current
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .node
        .name
        .clone();
    start(root, run_dir, etcd, cfg, node, current.clone(), poke)
}

/// Starts the four threads.
pub fn start(
    root: &Path,
    run_dir: &Path,
    etcd: Arc<Etcd>,
    cfg: ClusterConfig,
    node: String,
    current: member::Current,
    poke: Poke,
) -> Result<()> {
    let facts = ClusterFacts {
        overlay_dev: crate::engine::overlay::device_name(cfg.vni),
        pod_cidr: cfg.pod_cidr,
    };
    let nft = NftSocket::open().map_err(|e| crate::engine::nft_error("open nftables", e))?;
    let own = Arc::new(AtomicU32::new(nft.portid()));
    let (tx, rx) = mpsc::channel();
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map(|_| ())
            .map_err(|e| Error::failed(format!("agent: thread {name}: {e}")))
    };
    let mut r = Renderer {
        nft,
        facts,
        catalog: Catalog::default(),
        programmed: BTreeMap::new(),
        sizes: BTreeSet::new(),
        listed: false,
        broken: false,
    };
    spawn("csvc-render", Box::new(move || r.run(rx)))?;
    match Watch::open(plan::TABLE) {
        Ok(w) => {
            let tx = tx.clone();
            spawn("csvc-nft", Box::new(move || guard(w, &tx, &own)))?;
        }
        Err(e) => log(&format!(
            "cluster services: cannot watch nftables ({e}); a flushed table comes back at the next resync"
        )),
    }
    let e2 = etcd.clone();
    spawn("csvc-watch", Box::new(move || follow(&e2, &tx)))?;
    let (root, run_dir) = (root.to_path_buf(), run_dir.to_path_buf());
    spawn(
        "csvc-publish",
        Box::new(move || publish(&root, &run_dir, &etcd, &node, &current, &poke)),
    )?;
    Ok(())
}

fn guard(mut w: Watch, tx: &Sender<Msg>, own: &AtomicU32) {
    loop {
        let news = match w.read() {
            Ok(Seen::Lost) => true,
            Ok(Seen::Changes(c)) => c.iter().any(|c| c.took_away(own.load(Ordering::Relaxed))),
            Err(e) => {
                log(&format!("cluster services: nftables watch: {e}"));
                std::thread::sleep(RETRY);
                false
            }
        };
        if news && tx.send(Msg::Lost).is_err() {
            return;
        }
    }
}

/// List, then watch from the listing's revision; again after any break. The renderer hears
/// both; it stops when the renderer is gone.
fn follow(etcd: &Etcd, tx: &Sender<Msg>) {
    struct Forward<'a>(&'a Sender<Msg>);
    impl Follower for Forward<'_> {
        fn listed(&mut self, kvs: Vec<Kv>) -> bool {
            self.0.send(Msg::Listed(kvs)).is_ok()
        }
        fn events(&mut self, events: Vec<Event>) -> bool {
            self.0.send(Msg::Events(events)).is_ok()
        }
        fn keeping(&self) -> String {
            "keeping the services as rendered".into()
        }
    }
    watch::list_and_watch(etcd, PREFIX, "cluster services: ", &log, &mut Forward(tx));
}

/// The node's rendering of the cluster's services.
struct Renderer {
    nft: NftSocket,
    facts: ClusterFacts,
    catalog: Catalog,
    /// What the table holds, by service name (as last applied).
    programmed: BTreeMap<String, Programmed>,
    /// Bucket chains the table has.
    sizes: BTreeSet<usize>,
    /// A listing has arrived (before it, nothing is rendered).
    listed: bool,
    /// The last render failed: a full one is due.
    broken: bool,
}

impl Renderer {
    fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            let first = match rx.recv_timeout(RETRY) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            // Everything queued is taken at once: a burst is one transaction.
            let mut full = self.broken;
            let mut touched = BTreeSet::new();
            for m in first.into_iter().chain(rx.try_iter()) {
                match m {
                    Msg::Listed(kvs) => {
                        self.catalog = Catalog::from_kvs(&kvs);
                        self.listed = true;
                        full = true;
                    }
                    Msg::Events(evs) => touched.extend(self.catalog.apply(&evs)),
                    Msg::Lost => {
                        log("cluster services: ip podnet-csvc was deleted or flushed; rendering it again");
                        full = true;
                    }
                }
            }
            if !self.listed {
                continue;
            }
            let r = if full {
                self.full()
            } else if touched.is_empty() {
                Ok(())
            } else {
                self.changes(&touched)
            };
            self.broken = r.is_err();
            if let Err(e) = r {
                log(&format!(
                    "cluster services: {e}; retrying in {}s",
                    RETRY.as_secs()
                ));
            }
        }
    }

    /// The whole table from the catalog (deleted when the cluster has no service).
    fn full(&mut self) -> std::result::Result<(), NftError> {
        let all = self.catalog.all();
        if all.is_empty() {
            self.nft.apply(&plan::delete())?;
        } else {
            let list: Vec<Programmed> = all.values().cloned().collect();
            self.nft.apply(&plan::full(&self.facts, &list))?;
        }
        self.sizes = crate::plan::services::bucket_sizes(all.values().map(|(_, b)| &b[..]));
        log(&format!(
            "cluster services: rendered {} services, {} endpoints in the cluster",
            all.len(),
            self.catalog.endpoint_count()
        ));
        self.programmed = all;
        Ok(())
    }

    /// Only the touched services' elements, in one transaction.
    fn changes(&mut self, touched: &BTreeSet<String>) -> std::result::Result<(), NftError> {
        let now: Vec<(String, Option<Programmed>)> = touched
            .iter()
            .map(|n| (n.clone(), self.catalog.programmed(n)))
            .collect();
        let had_any = !self.programmed.is_empty();
        let will_have_any = self.programmed.len()
            + now
                .iter()
                .filter(|(n, p)| p.is_some() && !self.programmed.contains_key(n))
                .count()
            > now
                .iter()
                .filter(|(n, p)| p.is_none() && self.programmed.contains_key(n))
                .count();
        // The first service makes the table, the last one takes it away.
        if !had_any || !will_have_any {
            return self.full();
        }
        let mut sizes = self.sizes.clone();
        let mut batch = crate::kernel::nft::Batch::new();
        for (name, p) in &now {
            batch.append(plan::change(
                self.programmed.get(name),
                p.as_ref(),
                &mut sizes,
            ));
        }
        if batch.is_empty() {
            return Ok(());
        }
        match self.nft.apply(&batch) {
            Ok(()) => {
                for (name, p) in now {
                    match p {
                        Some(p) => self.programmed.insert(name, p),
                        None => self.programmed.remove(&name),
                    };
                }
                self.sizes = sizes;
                Ok(())
            }
            // The kernel is not what we thought (a flush raced us): the whole table again.
            Err(NftError::Rejected(_)) => self.full(),
            Err(e) => Err(e),
        }
    }
}

/// This node's containers that can be backends anywhere: ready, not draining, process
/// alive, with an address in the node's subnet (the only ones other nodes can route to).
fn local_endpoints(ctx: &Ctx, subnet: ipnet::Ipv4Net) -> Result<BTreeMap<String, EndpointRecord>> {
    let mut out = BTreeMap::new();
    for ep in ctx.store.endpoints()? {
        let Some(ip) = ep.ip else { continue };
        if ep.state != EndpointState::Ready
            || !subnet.contains(&ip)
            || !ep.pid.is_none_or(crate::engine::proc::alive)
            || ctx.store.is_draining(ep.id)?
        {
            continue;
        }
        let labels = ctx.store.labels_of(ep.id)?;
        out.insert(ep.name.clone(), EndpointRecord { ip, labels });
    }
    Ok(out)
}

fn publish(
    root: &Path,
    run_dir: &Path,
    etcd: &Etcd,
    node: &str,
    current: &member::Current,
    poke: &Poke,
) {
    let mut ctxs = Contexts::kept();
    let mut p = Publisher::new(node);
    let mut failing = false;
    let (root, run_dir): (PathBuf, PathBuf) = (root.into(), run_dir.into());
    let lease_now = || current.lock().unwrap_or_else(|e| e.into_inner()).lease;
    loop {
        let (lease, subnet) = {
            let j = current.lock().unwrap_or_else(|e| e.into_inner());
            (j.lease, j.node.subnet)
        };
        let want = match ctxs.open_as(&root, &run_dir, Access::Read) {
            Ok(ctx) => {
                let w = local_endpoints(&ctx, subnet);
                if w.is_ok() {
                    ctxs.done(ctx);
                }
                w
            }
            // No store yet: no container.
            Err(Error::NoState { .. }) => Ok(BTreeMap::new()),
            Err(e) => Err(e),
        };
        let r = want.map_err(|e| e.to_string()).and_then(|w| {
            p.sync(etcd, lease, &w)
                .map(|n| (n, w.len()))
                .map_err(|e| e.to_string())
        });
        match r {
            Ok((n, total)) => {
                if n > 0 {
                    log(&format!(
                        "cluster services: published {n} endpoint changes ({total} containers here)"
                    ));
                }
                failing = false;
            }
            Err(e) if !failing => {
                log(&format!(
                    "cluster services: publishing endpoints: {e}; retrying"
                ));
                failing = true;
            }
            Err(_) => {}
        }
        // Until a poke, a new lease, or the resync (a failure: the retry) is due.
        let due = Instant::now() + if failing { RETRY } else { RESYNC_EVERY };
        loop {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() || poke.wait(left.min(LEASE_CHECK)) || lease_now() != lease {
                break;
            }
        }
    }
}
