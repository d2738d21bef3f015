//! [`SimNodes`]: simulated cluster nodes for the scale benchmarks (issue 11) — lease holders
//! in a real etcd that publish a VTEP like a real node's agent and have no kernel of their
//! own. Each joins through [`cluster::lease::join`](crate::cluster::lease::join) (its own
//! etcd lease, the node and subnet keys bound to it, the subnet taken by compare-and-swap),
//! and a few keeper threads renew every lease once per TTL/3, spread evenly over the period,
//! as N agents would. One process holds them all: etcd sees N leases, N renewals per TTL/3
//! and N node keys, which is what N nodes cost it (their watches aside: the real nodes
//! watch).
//!
//! Simulated node `k` is `sim-k`, prefers the `k`-th subnet counted from
//! [`SimNodes::FIRST_SUBNET`] (so simultaneous joins do not race for the same one), and
//! publishes underlay `172.16.0.0/12` + k + 1 and VTEP MAC `0e:51:..:k`: addresses no real
//! node uses, and the FDB entries real nodes install for them point nowhere.

use crate::cluster::config::ClusterConfig;
use crate::cluster::etcd::Etcd;
use crate::cluster::lease::{self, JoinError, JoinRequest, Joined};
use crate::model::{Mac, NodeLease};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Keeper threads: at 1,000 nodes and a 10 s TTL, 300 renewals a second, one HTTP call
/// each. With 4 keepers (a 13 ms budget per call) renewals fell behind while 1,000 nodes
/// joined on a loaded 2-core machine and ~300 leases expired; 16 leave each call 53 ms
/// (a real node's agent renews alone, with the whole period).
const KEEPERS: usize = 16;

#[derive(Default)]
struct Shared {
    /// index → lease ID of every joined node.
    leases: Mutex<BTreeMap<usize, i64>>,
    stop: AtomicBool,
    renewals: AtomicU64,
    /// Renewals of a lease etcd no longer had (expired: renewed too late).
    expired: AtomicU64,
    /// Renewals that failed (etcd unreachable, slow or erring); the first error.
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

/// Simulated nodes in one etcd; their keeper threads stop when it is dropped.
pub struct SimNodes {
    etcd: Arc<Etcd>,
    cfg: ClusterConfig,
    ttl: u64,
    shared: Arc<Shared>,
    keepers: Vec<JoinHandle<()>>,
}

impl SimNodes {
    /// The first subnet simulated nodes prefer: `10.64.0.0/24` counting on (real test nodes
    /// use `10.244.x.0/24`), in a cluster whose pod CIDR holds both (e.g. `10.0.0.0/8`).
    pub const FIRST_SUBNET: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 0);

    /// No nodes yet; keepers started (renewing leases of `ttl` seconds every `ttl`/3).
    pub fn new(etcd: Arc<Etcd>, cfg: ClusterConfig, ttl: u64) -> SimNodes {
        let shared = Arc::new(Shared::default());
        let period = Duration::from_millis(ttl * 1000 / 3);
        let keepers = (0..KEEPERS)
            .map(|j| {
                let (etcd, shared) = (etcd.clone(), shared.clone());
                std::thread::Builder::new()
                    .name(format!("sim-keeper-{j}"))
                    .spawn(move || keep(&etcd, &shared, j, period))
                    .expect("spawn a keeper thread")
            })
            .collect();
        SimNodes {
            etcd,
            cfg,
            ttl,
            shared,
            keepers,
        }
    }

    /// What simulated node `k` publishes (its subnet is the one it prefers; etcd decides).
    pub fn request(&self, k: usize) -> JoinRequest {
        let prefix = self.cfg.node_prefix;
        let step = 1u32 << (32 - prefix);
        let first = u32::from(Self::FIRST_SUBNET);
        let subnet =
            Ipv4Net::new(Ipv4Addr::from(first + k as u32 * step), prefix).expect("a valid prefix");
        let k32 = k as u32;
        JoinRequest {
            name: format!("sim-{k}"),
            underlay: IpAddr::V4(Ipv4Addr::from(0xac10_0000 + k32 + 1)),
            vtep_mac: Mac([
                0x0e,
                0x51,
                0,
                (k32 >> 16) as u8,
                (k32 >> 8) as u8,
                k32 as u8,
            ]),
            ttl: self.ttl,
            prefer: Some(subnet),
            prior_lease: None,
        }
    }

    /// Simulated node `k` joins; its lease is renewed from now on.
    pub fn join(&self, k: usize) -> Result<Joined, JoinError> {
        let j = lease::join(&self.etcd, &self.cfg, &self.request(k))?;
        self.lock().insert(k, j.lease);
        Ok(j)
    }

    /// Nodes `range` join, on `threads` threads at once (as many agents starting would);
    /// the first error, if any.
    pub fn join_all(
        &self,
        range: std::ops::Range<usize>,
        threads: usize,
    ) -> Result<Vec<NodeLease>, JoinError> {
        let ks: Vec<usize> = range.collect();
        let chunk = ks.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|s| {
            let hs: Vec<_> = ks
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|k| self.join(*k).map(|j| j.node))
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            let mut all = Vec::new();
            for h in hs {
                all.extend(h.join().expect("a join thread panicked")?);
            }
            Ok(all)
        })
    }

    /// Simulated node `k` leaves at once (its lease revoked, its keys gone with it), as
    /// a node whose TTL ran out would, minus the wait.
    pub fn leave(&self, k: usize) -> crate::cluster::etcd::Result<()> {
        let lease = self.lock().remove(&k);
        match lease {
            Some(l) => self.etcd.revoke(l),
            None => Ok(()),
        }
    }

    /// How many simulated nodes hold a lease.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Renewals sent so far, how many found their lease expired, how many failed.
    pub fn renewals(&self) -> (u64, u64, u64) {
        (
            self.shared.renewals.load(Ordering::Relaxed),
            self.shared.expired.load(Ordering::Relaxed),
            self.shared.failed.load(Ordering::Relaxed),
        )
    }

    /// The first renewal error, if any failed.
    pub fn first_error(&self) -> Option<String> {
        self.shared
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, i64>> {
        self.shared.leases.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SimNodes {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for h in self.keepers.drain(..) {
            let _ = h.join();
        }
    }
}

/// Keeper `j`: every `period`, renews the leases whose index is `j` mod [`KEEPERS`], one
/// at a time, spaced evenly over the period (N agents' renewals are spread in time too).
fn keep(etcd: &Etcd, shared: &Shared, j: usize, period: Duration) {
    let stopped = || shared.stop.load(Ordering::Relaxed);
    while !stopped() {
        let round = Instant::now();
        let mine: Vec<i64> = {
            let l = shared.leases.lock().unwrap_or_else(|e| e.into_inner());
            l.iter()
                .filter(|(k, _)| *k % KEEPERS == j)
                .map(|(_, l)| *l)
                .collect()
        };
        let gap = period / (mine.len() as u32 + 1);
        for (i, lease) in mine.iter().enumerate() {
            if stopped() {
                return;
            }
            match etcd.keepalive(*lease) {
                Ok(ttl) if ttl > 0 => {}
                Ok(_) => {
                    shared.expired.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    let mut first = shared.first_error.lock().unwrap_or_else(|e| e.into_inner());
                    first.get_or_insert_with(|| e.to_string());
                }
            }
            shared.renewals.fetch_add(1, Ordering::Relaxed);
            sleep_until(round + gap * (i as u32 + 1), &stopped);
        }
        sleep_until(round + period, &stopped);
    }
}

/// Sleeps until `t` in short steps, returning early once `stopped`.
fn sleep_until(t: Instant, stopped: &dyn Fn() -> bool) {
    loop {
        let now = Instant::now();
        if now >= t || stopped() {
            return;
        }
        std::thread::sleep((t - now).min(Duration::from_millis(100)));
    }
}
