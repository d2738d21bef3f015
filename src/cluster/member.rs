//! A node's membership while its agent runs: join once (errors go back to the caller, so
//! `podnet agent` fails with one line), then renew the lease every TTL/3 on a thread. A
//! lease lost (etcd said it is gone: the node was cut off past its TTL) means join again,
//! preferring the subnet held (which another node may have taken meanwhile: then a new one,
//! and the log says so). etcd unreachable: keep trying at the same pace; the data path does
//! not depend on it.

use super::config::ClusterConfig;
use super::etcd::Etcd;
use super::lease::{self, JoinError, JoinRequest, Joined};
use super::local;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The node's current membership, shared with whoever wants to read it.
pub type Current = Arc<Mutex<Joined>>;

/// Joins and starts the renewal thread. `on_change` hears every (re-)join after the first.
pub fn start(
    root: &Path,
    etcd: Arc<Etcd>,
    cfg: ClusterConfig,
    mut req: JoinRequest,
    log: Arc<dyn Fn(&str) + Send + Sync>,
) -> Result<Current, JoinError> {
    let joined = lease::join(&etcd, &cfg, &req)?;
    report(&joined, &*log);
    remember(root, &joined, &*log);
    let current = Arc::new(Mutex::new(joined.clone()));
    req.prefer = Some(joined.node.subnet);
    let shared = current.clone();
    let root: PathBuf = root.to_path_buf();
    std::thread::Builder::new()
        .name("cluster-lease".into())
        .spawn(move || keep(&root, &etcd, &cfg, req, joined, &shared, &*log))
        .map_err(|e| JoinError::Etcd(super::etcd::EtcdError::Failed(format!("thread: {e}"))))?;
    Ok(current)
}

fn report(j: &Joined, log: &dyn Fn(&str)) {
    if let Some(m) = &j.moved {
        log(m);
    }
    log(&format!(
        "joined as node {}: subnet {}, underlay {}, VTEP MAC {}, lease {:x}",
        j.node.name, j.node.subnet, j.node.underlay, j.node.vtep_mac, j.lease
    ));
}

/// The subnet and lease go into the state root, to be taken back after a restart.
fn remember(root: &Path, j: &Joined, log: &dyn Fn(&str)) {
    let r = local::load(root).and_then(|l| {
        let mut l = l.unwrap_or_default();
        l.subnet = Some(j.node.subnet);
        l.lease = Some(j.lease);
        local::save(root, &l)
    });
    if let Err(e) = r {
        log(&format!("cannot remember the subnet: {e}"));
    }
}

fn keep(
    root: &Path,
    etcd: &Etcd,
    cfg: &ClusterConfig,
    mut req: JoinRequest,
    mut joined: Joined,
    shared: &Mutex<Joined>,
    log: &dyn Fn(&str),
) {
    let period = Duration::from_millis(req.ttl * 1000 / 3);
    let mut unreachable = false;
    loop {
        std::thread::sleep(period);
        match etcd.keepalive(joined.lease) {
            Ok(ttl) if ttl > 0 => {
                if unreachable {
                    log("lease: etcd is back; lease renewed");
                    unreachable = false;
                }
                continue;
            }
            Ok(_) => log(&format!(
                "lease {:x} is gone (cut off from etcd past the TTL?): joining again",
                joined.lease
            )),
            Err(e) => {
                if !unreachable {
                    log(&format!("lease: {e}; retrying every {period:?}"));
                    unreachable = true;
                }
                continue;
            }
        }
        req.prefer = Some(joined.node.subnet);
        req.prior_lease = None;
        match lease::join(etcd, cfg, &req) {
            Ok(j) => {
                unreachable = false;
                report(&j, log);
                remember(root, &j, log);
                *shared.lock().unwrap_or_else(|e| e.into_inner()) = j.clone();
                joined = j;
            }
            Err(e) => log(&format!("join again failed: {e}; retrying")),
        }
    }
}
