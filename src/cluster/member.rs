//! A node's membership while its agent runs: join (a permanent refusal goes back to the
//! caller, so `podnet agent` fails with one line), then renew the lease every TTL/3 on a
//! thread. A lease lost (etcd said it is gone: the node was cut off past its TTL) means
//! join again, preferring the subnet held (which another node may have taken meanwhile:
//! then a new one, and the log says so). etcd unreachable: keep trying; the data path does
//! not depend on it.
//!
//! Transient errors (no member answers, no leader, "leader changed", timeouts — right
//! after a member died, or during an outage) are retried with backoff, 100 ms doubling to
//! 5 s or TTL/3 if shorter (so a returning etcd sees the renewal, or the restarted node's
//! join taking its lease back, before the lease's fresh TTL runs out). Only one case gives up on a transient error: a node that never
//! joined, started against URLs where nothing accepts a connection — most likely a wrong
//! `--etcd`, said at once in one line (and systemd's `Restart=` retries anyway).

use super::config::{self, ClusterConfig, ConfigError};
use super::etcd::Etcd;
use super::lease::{self, JoinError, JoinRequest, Joined};
use super::local;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The longest wait between attempts: 5 s, or TTL/3 when shorter — a node restarted
/// during an outage hopes to take its old lease back, and etcd gives that lease a fresh TTL
/// when it returns: the next attempt must come before that runs out.
fn max_backoff(req: &JoinRequest) -> Duration {
    BACKOFF_MAX.min(Duration::from_millis(req.ttl * 1000 / 3))
}

/// Whether a transient failure is worth waiting out: etcd accepted a connection at some
/// point (it is there, busy or electing), or this node joined before (its etcd is having
/// an outage). A new node whose URLs never answered is told at once.
fn worth_waiting(etcd: &Etcd, req: &JoinRequest) -> bool {
    etcd.reached() || req.prefer.is_some() || req.prior_lease.is_some()
}

/// Runs `attempt` until it succeeds or fails for good (`transient` false), sleeping
/// 100 ms doubling to `max` between attempts; `log` hears the first failure, every tenth,
/// and the success after failures.
pub fn retrying<T, E: std::fmt::Display>(
    what: &str,
    max: Duration,
    mut attempt: impl FnMut() -> Result<T, E>,
    transient: impl Fn(&E) -> bool,
    log: &dyn Fn(&str),
) -> Result<T, E> {
    let mut backoff = BACKOFF_MIN.min(max);
    let mut failures = 0u32;
    loop {
        match attempt() {
            Ok(v) => {
                if failures > 0 {
                    log(&format!(
                        "{what}: succeeded after {failures} failed attempts"
                    ));
                }
                return Ok(v);
            }
            Err(e) if transient(&e) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(10) {
                    log(&format!(
                        "{what}: {e}; retrying (attempt {failures}, backoff up to {max:?})"
                    ));
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(max);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The cluster's config, waiting out transient etcd errors as [`start`]'s join does.
/// Permanent: no cluster at these URLs, a config this podnet cannot read, or nothing
/// ever listening there for a node that never joined.
pub fn load_config(
    etcd: &Etcd,
    req: &JoinRequest,
    log: &dyn Fn(&str),
) -> Result<ClusterConfig, ConfigError> {
    retrying(
        "cluster config",
        max_backoff(req),
        || config::load(etcd),
        |e| matches!(e, ConfigError::Etcd(e) if e.is_transient()) && worth_waiting(etcd, req),
        log,
    )
}

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
    let joined = retrying(
        "join",
        max_backoff(&req),
        || lease::join(&etcd, &cfg, &req),
        |e| e.is_transient() && worth_waiting(&etcd, &req),
        &*log,
    )?;
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
    // After a failed renewal, try again soon (another member, a new leader) rather than a
    // whole period later; never slower than the period.
    let mut backoff = BACKOFF_MIN.min(period);
    let mut wait = period;
    let mut unreachable = false;
    loop {
        std::thread::sleep(wait);
        match etcd.keepalive(joined.lease) {
            Ok(ttl) if ttl > 0 => {
                if unreachable {
                    log("lease: etcd is back; lease renewed");
                    unreachable = false;
                }
                backoff = BACKOFF_MIN.min(period);
                wait = period;
                continue;
            }
            Ok(_) => log(&format!(
                "lease {:x} is gone (cut off from etcd past the TTL?): joining again",
                joined.lease
            )),
            Err(e) => {
                if !unreachable {
                    log(&format!(
                        "lease: {e}; retrying (backoff up to {period:?}), the data path is unaffected"
                    ));
                    unreachable = true;
                }
                wait = backoff;
                backoff = (backoff * 2).min(period);
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
                backoff = BACKOFF_MIN.min(period);
                wait = period;
            }
            Err(e) => {
                log(&format!("join again failed: {e}; retrying"));
                wait = backoff;
                backoff = (backoff * 2).min(period);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::etcd::EtcdError;
    use std::cell::RefCell;

    #[test]
    fn retrying_waits_out_transient_errors_and_stops_at_a_permanent_one() {
        let lines = RefCell::new(Vec::new());
        let log = |m: &str| lines.borrow_mut().push(m.to_string());
        let transient = |e: &JoinError| e.is_transient();
        let max = Duration::from_millis(1);
        // Unreachable twice, then joined.
        let mut calls = 0;
        let r = retrying(
            "join",
            max,
            || {
                calls += 1;
                if calls < 3 {
                    Err(JoinError::Etcd(EtcdError::Unreachable("no leader".into())))
                } else {
                    Ok(calls)
                }
            },
            transient,
            &log,
        );
        assert_eq!(r.unwrap(), 3);
        assert_eq!(lines.borrow().len(), 2, "{:?}", lines.borrow());
        assert!(lines.borrow()[1].contains("after 2 failed attempts"));
        // A name in use is not retried.
        let mut calls = 0;
        let r: Result<(), _> = retrying(
            "join",
            max,
            || {
                calls += 1;
                Err(JoinError::NameInUse {
                    name: "n1".into(),
                    subnet: "10.244.0.0/24".into(),
                })
            },
            transient,
            &log,
        );
        assert!(matches!(r, Err(JoinError::NameInUse { .. })));
        assert_eq!(calls, 1);
        // Nor is what etcd refused, except a lease that expired before its use.
        assert!(!JoinError::Etcd(EtcdError::Failed("bad request".into())).is_transient());
        assert!(JoinError::Etcd(EtcdError::Failed(
            "etcdserver: requested lease not found".into()
        ))
        .is_transient());
        assert!(!JoinError::Full("10.244.0.0/16".parse().unwrap()).is_transient());
    }
}
