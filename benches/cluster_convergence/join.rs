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

#[derive(Default)]
struct Samples {
    /// Until all 3 others hold the new node.
    others: Vec<Duration>,
    /// Until the new node holds the 3 real others.
    new_has_real: Vec<Duration>,
    /// Until the new node holds every remote node (real and simulated).
    new_has_all: Vec<Duration>,
    /// Until its node key reached the watcher on member 2.
    key: Vec<Duration>,
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
    let sims = SimNodes::new(etcd.clone(), ccfg, 10);
    let ttl = format!("--lease-ttl {}", o.ttl);
    println!(
        "join: 3 nodes + a 4th (podnet agent each, lease TTL {} s), 3-member etcd 3.4, {} \
         trials per level; ms, median / p90 / max",
        o.ttl, o.join_trials
    );
    println!(
        "{:>6} | {:>18} | {:>18} | {:>18} | {:>18} | {:>14}",
        "sim N",
        "→ all 3 others",
        "→ new has 3 real",
        "→ new has all",
        "→ node key on m2",
        "bulk join (s)"
    );
    for &n in &o.sim {
        let bulk = if n > sims.len() {
            let t = Instant::now();
            let have = sims.len();
            sims.join_all(have..n, 8)
                .unwrap_or_else(|e| die(&format!("simulated joins: {e}")));
            for (i, r) in w.rt.iter().take(3).enumerate() {
                r.until(move |m| m.fdb.len() >= n + 2, Duration::from_secs(600))
                    .unwrap_or_else(|e| die(&format!("node {} installing {n} sims: {e}", i + 1)));
            }
            format!("{:.1}", t.elapsed().as_secs_f64())
        } else {
            "-".into()
        };
        let mut s = Samples::default();
        let mut mine: Option<Ipv4Net> = None;
        // Trial 0 warms up (and tells the new node's subnet); it is not counted.
        for t in 0..=o.join_trials {
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
            let want_all = n + 3;
            let reals = real.clone();
            let g_real = w.rt[NEW]
                .set_goal(move |m| reals.iter().all(|(v, s)| m.has(*v, *s)))
                .unwrap_or_else(|e| die(&e));
            let g_all = w.rt[NEW]
                .set_goal(move |m| m.fdb.len() >= want_all)
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
            let has_real = wait(&w.rt[NEW], g_real, "node4 installing the 3 others");
            let has_all = wait(&w.rt[NEW], g_all, "node4 installing every node");
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
            s.new_has_real.push(has_real);
            s.new_has_all.push(has_all);
            let key = log.first(t0, true, |k| k == "/podnet/v1/nodes/node4", Duration::ZERO);
            if let Some(k) = key {
                s.key.push(k - t0);
            }
        }
        println!(
            "{n:>6} | {:>18} | {:>18} | {:>18} | {:>18} | {bulk:>14}",
            cell(&s.others),
            cell(&s.new_has_real),
            cell(&s.new_has_all),
            cell(&s.key)
        );
        let (r, expired, failed) = sims.renewals();
        if n > 0 {
            println!("       simulated renewals so far {r}, {expired} too late, {failed} failed");
        }
    }
    c.kill_agent(NEW).unwrap_or_else(|e| die(&e.to_string()));
}
