//! Cluster convergence through real agents (issue 11, "Benchmark and scale"): how long from
//! a change made on one node until every node's kernel holds it, on `testbed::Cluster`
//! (node network namespaces on an underlay switch, a 3-member etcd, `podnet agent` per
//! node as a real process).
//!
//! ```sh
//! cargo bench --bench cluster_convergence -- [--phase services,join] [--trials 15] \
//!     [--join-trials 10] [--sim 0,100,1000] [--ttl 2]
//! ```
//!
//! - `services`: from `podnet service create` / a backend container added (`podnet run`) /
//!   the backend removed / `podnet service rm`, run on node 1, until all 3 nodes'
//!   `ip podnet-csvc` holds the change (`service_ips` has or lacks the VIP, `eps` has or
//!   lacks the backend), beside the floor: an etcd put on member 1 until a watch on
//!   member 2 delivers it, measured in the same trials. Per `--sim` level, as below.
//! - `join`: from a 4th node's `podnet agent` start until the 3 others' kernels hold its
//!   FDB entry and route, and it holds theirs; per `--sim` level, that many simulated
//!   nodes (`testbed::SimNodes`) hold leases in the same etcd first, so every real agent
//!   carries their entries too.
//!
//! Nothing polls: a thread per node, in its namespace, keeps a mirror of the state from
//! netlink notifications (nf_tables for the services, rtnetlink for the overlay) and
//! stamps the notification that completed the change (`watched.rs`). The mirrors are
//! cross-checked against `nft -j list` after each backend change.

#[path = "../common/mod.rs"]
#[allow(dead_code)]
mod common;
mod etcd_log;
mod join;
mod nft_events;
mod rt_events;
mod services;
mod watched;

use common::*;
use podnet::testbed::{Cluster, Sandbox};
use std::fs::File;
use std::time::Duration;

const USAGE: &str = "cargo bench --bench cluster_convergence -- [--phase services,join] \
                     [--trials 15] [--join-trials 10] [--sim 0,100,1000] [--ttl 2]";
/// How long any one change may take before the run is declared failed.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Opts {
    pub phases: Vec<String>,
    pub trials: usize,
    pub join_trials: usize,
    pub sim: Vec<usize>,
    pub ttl: u64,
}

pub fn die(msg: &str) -> ! {
    eprintln!("cluster_convergence bench: {msg}");
    std::process::exit(2)
}

fn opts(args: &[String]) -> Opts {
    let mut o = Opts {
        phases: vec!["services".into(), "join".into()],
        trials: 15,
        join_trials: 10,
        sim: vec![0],
        ttl: 2,
    };
    each_option(args, USAGE, |flag, val| {
        match flag {
            "--phase" => o.phases = list(flag, &val()),
            "--trials" => o.trials = list(flag, &val())[0],
            "--join-trials" => o.join_trials = list(flag, &val())[0],
            "--sim" => o.sim = list(flag, &val()),
            "--ttl" => o.ttl = list(flag, &val())[0],
            _ => return false,
        }
        true
    });
    if o.phases.iter().any(|p| p != "services" && p != "join") {
        die("--phase is services and/or join");
    }
    if o.trials > 50 {
        die("--trials is at most 50 (backend addresses .200-.250 of node 1's subnet)");
    }
    o.sim.sort();
    o
}

/// Sleeps a pseudo-random 0..`max` (untimed). The agents publish their containers on a
/// fixed period: without this, every trial would start at the same phase of it (each
/// trial's steps are locked to the previous step's tick) and the figure would be one
/// point of the distribution, not the distribution.
pub fn jitter(max: Duration) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut x = STATE.load(Ordering::Relaxed) ^ std::process::id() as u64;
    // xorshift64
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    std::thread::sleep(max.mul_f64((x % 10_000) as f64 / 10_000.0));
}

/// (median, p90, max) in ms, as the table cell.
pub fn cell(v: &[Duration]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    let s = stats(&ms);
    format!("{:.0} / {:.0} / {:.0}", s.median, s.p90, s.max)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = opts(&args);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        die("must run as root (it makes a sandbox with node namespaces, etcd and agents)");
    }
    for phase in &o.phases {
        println!("load average before ({phase}): {:?}", loadavg());
        let sb = Sandbox::new().unwrap_or_else(|e| die(&e.to_string()));
        // This thread (and every thread it starts: etcd clients, the simulated nodes)
        // lives in the sandbox's namespace, where etcd listens; the kernel watchers
        // enter their node's namespace themselves.
        let f = File::open(sb.netns_path()).expect("open the sandbox's netns");
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("setns into the sandbox");
        let c = Cluster::new(&sb, if phase == "join" { 4 } else { 3 })
            .unwrap_or_else(|e| die(&e.to_string()));
        match phase.as_str() {
            "services" => services::run(c, &o),
            _ => join::run(c, &o),
        }
        println!("load average after: {:?}", loadavg());
        // The sandbox goes with everything in it (agents, etcd, node namespaces).
        drop(sb);
    }
    // Watcher threads block in recv on sockets of namespaces now gone: just exit.
    std::process::exit(0);
}

/// The kernel watchers of every node of a cluster.
pub struct Watchers {
    pub nft: Vec<std::sync::Arc<watched::Watched<nft_events::Maps>>>,
    pub rt: Vec<std::sync::Arc<watched::Watched<rt_events::Overlay>>>,
}

/// Starts every node's watchers (before anything runs there, so the mirrors start from
/// the empty truth), `cluster init --pod-cidr 10.0.0.0/8` (room for the simulated nodes'
/// 10.64.0.0/24 and up), and the agents of the first `agents` nodes, each waited for
/// until it made its cluster network.
pub fn start(c: &mut Cluster, o: &Opts, agents: usize) -> Watchers {
    let mut w = Watchers {
        nft: Vec::new(),
        rt: Vec::new(),
    };
    for n in c.nodes() {
        let ns = c.sb.host_path(n.netns());
        w.nft.push(
            nft_events::watch(ns.clone(), format!("nft-{}", n.name)).unwrap_or_else(|e| die(&e)),
        );
        w.rt.push(rt_events::watch(ns, format!("rt-{}", n.name)).unwrap_or_else(|e| die(&e)));
    }
    c.init(&["--pod-cidr", "10.0.0.0/8"])
        .unwrap_or_else(|e| die(&e.to_string()));
    for i in 0..agents {
        c.start_agent(i, &format!("--lease-ttl {}", o.ttl))
            .unwrap_or_else(|e| die(&e.to_string()));
    }
    for i in 0..agents {
        c.wait_until("the cluster network", PATIENCE, || {
            c.log(i).contains("cluster network podnet0 on")
        })
        .unwrap_or_else(|e| die(&format!("{e}\n{}", c.log(i))));
    }
    w
}

/// Node `name`'s subnet, from its key in etcd.
pub fn subnet_of(etcd: &podnet::cluster::etcd::Etcd, name: &str) -> Option<ipnet::Ipv4Net> {
    let (kv, _) = etcd.get(&format!("/podnet/v1/nodes/{name}")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&kv?.value).ok()?;
    v["subnet"].as_str()?.parse().ok()
}
