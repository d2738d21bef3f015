//! The join phase: a 4th node's agent starts; until the 3 others' kernels hold its FDB
//! entry and route, and its kernel holds theirs (and every simulated node's).
//!
//! Between trials the node goes as a crashed node does (agent SIGKILLed, its lease left to
//! expire: the others remove its entries), and its VXLAN device is deleted, as a reboot
//! would: each start installs everything from nothing. It keeps its state root, so it
//! gets its subnet back (checked).

use super::etcd_log::EtcdLog;
use super::{cell, die, start, subnet_of, Opts, PATIENCE};
use ipnet::Ipv4Net;
use podnet::cluster::config;
use podnet::cluster::etcd::Etcd;
use podnet::testbed::cluster::UNDERLAY;
use podnet::testbed::{Cluster, SimNodes};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NEW: usize = 3;
/// The pod CIDR `start` initialises the cluster with.
const POD_CIDR: Ipv4Net = Ipv4Net::new_assert(std::net::Ipv4Addr::new(10, 0, 0, 0), 8);

#[derive(Default)]
struct Samples {
    /// Until all 3 others hold the new node.
    others: Vec<Duration>,
    /// Until the new node's first FDB entry (its watch listed, its plan made).
    new_first: Vec<Duration>,
    /// Until the new node holds the 3 real others.
    new_has_real: Vec<Duration>,
    /// Until the new node holds every remote node (real and simulated).
    new_has_all: Vec<Duration>,
    /// Until its node key reached the watcher on member 2.
    key: Vec<Duration>,
    /// One client's list of `/podnet/v1/nodes/` (untimed part of each trial).
    list: Vec<Duration>,
    /// Trials where the new node never held every node (a simulated lease expired).
    misses: usize,
}

/// Simulated nodes join until `n` hold leases, then until every real node (the first 3)
/// holds every node etcd has (a simulated lease renewed too late on a loaded machine is
/// gone: counted from etcd, not from `n`); the time it took, in s, or "-".
pub fn join_sims(sims: &SimNodes, etcd: &Etcd, w: &super::Watchers, n: usize) -> String {
    if n <= sims.len() {
        return "-".into();
    }
    let t = Instant::now();
    let have = sims.len();
    sims.join_all(have..n, 8)
        .unwrap_or_else(|e| die(&format!("simulated joins: {e}")));
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let nodes = node_count(etcd);
        let behind =
            w.rt.iter()
                .take(3)
                .any(|r| r.with(|m| m.fdb.len() + 1 < nodes));
        if !behind {
            break;
        }
        if Instant::now() > deadline {
            die(&format!(
                "the real nodes did not install {nodes} nodes in 600 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("{:.1}", t.elapsed().as_secs_f64())
}

/// Nodes in etcd now.
pub fn node_count(etcd: &Etcd) -> usize {
    etcd.list("/podnet/v1/nodes/")
        .unwrap_or_else(|e| die(&format!("list the nodes: {e:?}")))
        .0
        .len()
}

pub fn run(mut c: Cluster, o: &Opts) {
    let w = start(&mut c, o, 3);
    let urls: Vec<String> = (1..=3)
        .map(|m| format!("http://{UNDERLAY}.{m}:2379"))
        .collect();
    let etcd = Arc::new(Etcd::new(&urls).unwrap());
    let log = EtcdLog::start(&urls[1]).unwrap_or_else(|e| die(&e));
    let ips: Vec<Ipv4Addr> = c.nodes().iter().map(|n| n.ip.parse().unwrap()).collect();
    let ip = |i: usize| ips[i];
    let real: Vec<(Ipv4Addr, Ipv4Net)> = (0..3)
        .map(|i| {
            let s = subnet_of(&etcd, &c.node(i).name)
                .unwrap_or_else(|| die(&format!("{} has no subnet", c.node(i).name)));
            (ip(i), s)
        })
        .collect();
    let ccfg = config::load(&etcd).unwrap_or_else(|e| die(&format!("cluster config: {e:?}")));
    // The simulated nodes' lease TTL: 30 s (renewals every 10 s, 100/s at 1,000) rather
    // than the agents' 10 s default, so their keepers keep up on this shared machine (at
    // 10 s, ~1 % of 1,000 leases expired while joining); it does not enter any figure.
    let sims = SimNodes::new(etcd.clone(), ccfg, 30);
    let ttl = format!("--lease-ttl {}", o.ttl);
    println!(
        "join: 3 nodes + a 4th (podnet agent each, lease TTL {} s), 3-member etcd 3.4, {} \
         trials per level; ms, median / p90 / max",
        o.ttl, o.join_trials
    );
    println!(
        "{:>6} | {:>18} | {:>18} | {:>18} | {:>18} | {:>18} | {:>16} | {:>14}",
        "sim N",
        "→ all 3 others",
        "→ new: 1st entry",
        "→ new has 3 real",
        "→ new has all",
        "→ node key on m2",
        "list the nodes",
        "bulk join (s)"
    );
    for &n in &o.sim {
        let bulk = join_sims(&sims, &etcd, &w, n);
        let mut s = Samples::default();
        let mut mine: Option<Ipv4Net> = None;
        // Trial 0 warms up (and tells the new node's subnet); it is not counted.
        for t in 0..=o.join_trials {
            // What listing the nodes costs a client now (as node4's watch does first).
            let tl = Instant::now();
            if node_count(&etcd) > 0 {
                s.list.push(tl.elapsed());
            }
            // The node is gone everywhere (or never was), its device too.
            c.kill_agent(NEW).unwrap_or_else(|e| die(&e.to_string()));
            if let Some(sub) = mine {
                let vtep = ip(NEW);
                for (i, r) in w.rt.iter().take(3).enumerate() {
                    r.until(move |m| m.lacks(vtep, sub), PATIENCE)
                        .unwrap_or_else(|e| die(&format!("node {} dropping node4: {e}", i + 1)));
                }
            }
            let dev = podnet::engine::overlay::device_name(1);
            c.sh(NEW, &format!("ip link del {dev} 2>/dev/null"));
            w.rt[NEW].reset(|m| {
                m.fdb.clear();
                m.routes.clear();
            });
            // Every remote node etcd holds now (node4's lease is gone).
            let want_all = node_count(&etcd);
            let reals = real.clone();
            let g_real = w.rt[NEW]
                .set_goal(move |m| reals.iter().all(|(v, s)| m.has(*v, *s)))
                .unwrap_or_else(|e| die(&e));
            // Every remote node: as many FDB entries and pod-CIDR routes as remote nodes
            // (the mirror was emptied with the device; the node's own podnet0 route
            // stays in the kernel unannounced), the real ones among them.
            let reals = real.clone();
            let g_all = w.rt[NEW]
                .set_goal(move |m| {
                    m.fdb.len() >= want_all
                        && m.routes.iter().filter(|r| POD_CIDR.contains(*r)).count() >= want_all
                        && reals.iter().all(|(v, s)| m.has(*v, *s))
                })
                .unwrap_or_else(|e| die(&e));
            let g_first = w.rt[NEW]
                .set_goal(|m| !m.fdb.is_empty())
                .unwrap_or_else(|e| die(&e));
            let mut g_others = Vec::new();
            if let Some(sub) = mine {
                let vtep = ip(NEW);
                for r in w.rt.iter().take(3) {
                    r.clear_goals();
                    g_others.push(
                        r.set_goal(move |m| m.has(vtep, sub))
                            .unwrap_or_else(|e| die(&e)),
                    );
                }
            }
            let t0 = Instant::now();
            c.start_agent(NEW, &ttl)
                .unwrap_or_else(|e| die(&e.to_string()));
            let wait = |r: &super::watched::Watched<_>, g, what: &str| {
                r.wait(g, PATIENCE)
                    .unwrap_or_else(|e| die(&format!("{what}: {e}\n{}", c.log(NEW))))
                    - t0
            };
            let first = wait(&w.rt[NEW], g_first, "node4 installing its first FDB entry");
            let has_real = wait(&w.rt[NEW], g_real, "node4 installing the 3 others");
            // A simulated lease that expires meanwhile makes this unreachable: a miss,
            // counted, not the end of the run.
            let has_all = w.rt[NEW]
                .wait(g_all, Duration::from_secs(10))
                .map(|at| at - t0);
            w.rt[NEW].clear_goals();
            let sub = subnet_of(&etcd, "node4").unwrap_or_else(|| die("node4 has no subnet"));
            if mine.is_some_and(|m| m != sub) {
                die(&format!("node4 came back with {sub}, not {mine:?}"));
            }
            let mut others = Duration::ZERO;
            for (i, r) in w.rt.iter().take(3).enumerate() {
                if let Some(g) = g_others.get(i) {
                    others = others.max(wait(r, *g, "the others installing node4"));
                }
                r.clear_goals();
            }
            if mine.is_none() {
                mine = Some(sub);
                let vtep = ip(NEW);
                for r in w.rt.iter().take(3) {
                    r.until(move |m| m.has(vtep, sub), PATIENCE)
                        .unwrap_or_else(|e| die(&e));
                }
            }
            if t == 0 {
                continue;
            }
            s.others.push(others);
            s.new_first.push(first);
            s.new_has_real.push(has_real);
            match has_all {
                Ok(d) => s.new_has_all.push(d),
                Err(_) => s.misses += 1,
            }
            let key = log.first(t0, true, |k| k == "/podnet/v1/nodes/node4", Duration::ZERO);
            if let Some(k) = key {
                s.key.push(k - t0);
            }
        }
        println!(
            "{n:>6} | {:>18} | {:>18} | {:>18} | {:>18} | {:>18} | {:>16} | {bulk:>14}",
            cell(&s.others),
            cell(&s.new_first),
            cell(&s.new_has_real),
            cell(&s.new_has_all),
            cell(&s.key),
            cell(&s.list)
        );
        let (r, expired, failed) = sims.renewals();
        if n > 0 {
            println!(
                "       simulated renewals so far {r}, {expired} too late, {failed} failed; \
                 {} trials where node4 never held every node",
                s.misses
            );
        }
    }
    c.kill_agent(NEW).unwrap_or_else(|e| die(&e.to_string()));
}
