//! Convergence benchmark (issue 11, "Benchmark and scale"): how long from a node's join
//! until every real node's kernel holds its FDB entry and route, with 3 real nodes and with
//! 100 / 1,000 simulated nodes in the same etcd; and the per-node cost of installing N
//! remote nodes' entries as they arrive through the watch.
//!
//! ```sh
//! cargo bench --bench convergence -- [--sim 0,100,1000] [--probes 20] [--real 3] \
//!     [--mode incremental,full] [--ttl 10] [--watchers 0]
//! ```
//!
//! Each mode runs as PID 1 of a sandbox of its own (`podnet::testbed::reexec`): a
//! [`NodesLab`] of `--real` nodes (thread-held netns on one underlay bridge), one etcd
//! process on the bridge (`192.168.60.254`), `cluster init` 10.0.0.0/8 /24. Every real node
//! makes its VXLAN device, joins with `cluster::member::start` (its lease kept alive) and
//! follows the nodes with `cluster::watch::follow`, whose sink is the overlay reconcile:
//! `engine::overlay::Reconciler` (`incremental`: deltas, read-back once a minute) or the same
//! with a zero resync period (`full`: every event dumps the device's tables, as
//! `engine::overlay::reconcile` does). The sink stamps the time its reconcile returned
//! (every netlink request acknowledged: the entries are in the kernel) for each node it
//! added or removed.
//!
//! Per level of `--sim`: simulated nodes (`testbed::SimNodes`, one etcd lease each, renewed
//! every TTL/3) join until that many hold leases; the real nodes' time to install them all
//! is the bulk figure. Then `--probes` times: one more simulated node joins (clock from just
//! before its join transaction) until all real nodes installed it, then it leaves (lease
//! revoked) until all removed it. Prints per level: join→visible on every real node
//! (median, p90, max over probes of the slowest node), removal likewise, the reconcile time
//! per event, and etcd's CPU and renewals per second over one TTL of holding the leases
//! with nothing else happening. `--watchers W` adds W more watches of the nodes (threads
//! running `cluster::watch::follow` with a counting sink, as W more agents would), started
//! before any simulated node: the fan-out every event then costs etcd.

#[path = "../common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::*;
use ipnet::Ipv4Net;
use podnet::cluster::config::{self, ClusterConfig};
use podnet::cluster::etcd::Etcd;
use podnet::cluster::lease::JoinRequest;
use podnet::cluster::member;
use podnet::cluster::watch::{self, NodeChange};
use podnet::engine::overlay::{self, OverlayConfig, Reconciler};
use podnet::kernel::Rtnl;
use podnet::testbed::reexec;
use podnet::testbed::thread_netns::NodesLab;
use podnet::testbed::SimNodes;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USAGE: &str = "cargo bench --bench convergence -- [--sim 0,100,1000] [--probes 20] \
                     [--real 3] [--mode incremental,full] [--ttl 10] [--watchers 0]";
const ETCD_IP: &str = "192.168.60.254";
/// How long any one wait may take before the run is declared failed.
const PATIENCE: Duration = Duration::from_secs(120);

struct Opts {
    sim: Vec<usize>,
    probes: usize,
    real: usize,
    modes: Vec<String>,
    ttl: u64,
    watchers: usize,
}

fn die(msg: &str) -> ! {
    eprintln!("convergence bench: {msg}");
    std::process::exit(2)
}

fn opts(args: &[String]) -> Opts {
    let mut o = Opts {
        sim: vec![0, 100, 1000],
        probes: 20,
        real: 3,
        modes: vec!["incremental".into(), "full".into()],
        ttl: 10,
        watchers: 0,
    };
    let list = |v: String| -> Vec<String> { v.split(',').map(str::to_string).collect() };
    each_option(args, USAGE, |flag, val| {
        let num = |s: String| -> usize {
            s.parse()
                .unwrap_or_else(|_| die(&format!("{flag} needs numbers")))
        };
        match flag {
            "--sim" => o.sim = list(val()).into_iter().map(num).collect(),
            "--probes" => o.probes = num(val()),
            "--real" => o.real = num(val()),
            "--ttl" => o.ttl = num(val()) as u64,
            "--mode" => o.modes = list(val()),
            "--watchers" => o.watchers = num(val()),
            _ => return false,
        }
        true
    });
    if o.modes.iter().any(|m| m != "incremental" && m != "full") {
        die("--mode is incremental and/or full");
    }
    o.sim.sort();
    o
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = opts(&args);
    if reexec::phase().as_deref() == Some("convergence") {
        inner(&o);
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        die("must run as root (it creates namespaces, an etcd and VXLAN devices in its sandbox)");
    }
    for mode in &o.modes {
        println!("load average before ({mode}): {:?}", loadavg());
        let mut a = args.clone();
        a.extend(["--mode".into(), mode.clone()]);
        let out =
            reexec::run("convergence", &a, &bench_dir()).unwrap_or_else(|e| die(&e.to_string()));
        println!("load average after: {:?}", loadavg());
        if !out.status.success() {
            die(&format!("the sandboxed run failed: {:?}", out.status));
        }
    }
}

/// What a real node's sink reports: it installed (or removed) `name` at `at`,
/// in a reconcile of `took` that read the kernel back or not.
struct Seen {
    name: String,
    added: bool,
    at: Instant,
    took: Duration,
    full: bool,
}

fn setns_into(tid: i32) {
    let f = File::open(format!("/proc/{tid}/ns/net")).expect("open the wire netns");
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
}

/// One etcd member on the underlay bridge, data on /run's tmpfs; killed by its PID at the
/// end (and by the sandbox's end in any case).
fn start_etcd() -> Child {
    let url = format!("http://{ETCD_IP}:2379");
    let child = Command::new("etcd")
        .args(["--name", "m1", "--data-dir", "/run/etcd"])
        .args([
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
        ])
        .args(["--listen-peer-urls", "http://127.0.0.1:2380"])
        .args(["--log-outputs", "/run/etcd.log", "--logger", "zap"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&format!("start etcd: {e}")));
    let client = Etcd::new(&[url]).unwrap();
    let t = Instant::now();
    while client.get("/podnet/v1/config").is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            die("etcd did not answer within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// CPU seconds a process has used (utime + stime).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / hz
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Starts real node `i`: device, join, watch feeding the reconcile. Runs on a thread in
/// the node's netns (spawned from the lab's holder thread, so it inherits it).
fn start_real(lab: &NodesLab, i: usize, etcd_url: String, incremental: bool, tx: Sender<Seen>) {
    lab.lab.run(&NodesLab::node(i), move || {
        let (ready_tx, ready_rx) = channel();
        std::thread::Builder::new()
            .name(format!("real-{i}"))
            .spawn(move || real_node(i, etcd_url, incremental, tx, ready_tx))
            .expect("spawn a real node");
        ready_rx.recv().expect("real node started");
    });
}

fn real_node(i: usize, etcd_url: String, incremental: bool, tx: Sender<Seen>, ready: Sender<()>) {
    let subnet = NodesLab::subnet(i);
    let mut cfg = OverlayConfig::new(1, NodesLab::underlay(i));
    cfg.underlay_dev = Some(podnet::testbed::thread_netns::nodes::UNDERLAY_DEV.into());
    let mut rtnl = Rtnl::open().expect("rtnetlink");
    let dev = overlay::ensure_device(&mut rtnl, &cfg, subnet).expect("VXLAN device");
    let etcd = Arc::new(Etcd::new(&[etcd_url]).unwrap());
    let ccfg = config::load(&etcd).expect("cluster config");
    let name = format!("real-{i}");
    let root = std::path::PathBuf::from(format!("/run/real-{i}"));
    std::fs::create_dir_all(&root).unwrap();
    let req = JoinRequest {
        name: name.clone(),
        underlay: NodesLab::underlay(i).into(),
        vtep_mac: dev.mac,
        ttl: 10,
        prefer: Some(subnet),
        prior_lease: None,
    };
    let log: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(move |m: &str| {
        if !m.starts_with("joined as") {
            eprintln!("real-{i}: {m}")
        }
    });
    let joined = member::start(&root, etcd.clone(), ccfg, req, log.clone())
        .unwrap_or_else(|e| die(&format!("real-{i} join: {e}")));
    let got: Ipv4Net = joined.lock().unwrap().node.subnet;
    assert_eq!(got, subnet, "real-{i} got the subnet its lab node has");
    let mut rec = if incremental {
        Reconciler::default()
    } else {
        Reconciler::new(Duration::ZERO)
    };
    let mut sink = move |c: &NodeChange| {
        let t = Instant::now();
        let o = rec.reconcile(&mut rtnl, &cfg, subnet, &c.all);
        let at = Instant::now();
        for e in &o.errors {
            eprintln!("real-{i}: reconcile: {e}");
        }
        let full = rec.last.is_some();
        // The reconcile's time goes to the first node it reports, so sums stay true when
        // one watch message carried several nodes.
        let mut took = Some(at - t);
        let mut seen = |n: &podnet::model::NodeLease, added| Seen {
            name: n.name.clone(),
            added,
            at,
            took: took.take().unwrap_or_default(),
            full,
        };
        for n in &c.added {
            let _ = tx.send(seen(n, true));
        }
        for n in &c.removed {
            let _ = tx.send(seen(n, false));
        }
    };
    let _ = ready.send(());
    watch::follow(&etcd, Some(name), &mut sink, &*log);
}

/// The real nodes' reports, and those that arrived while waiting for something else.
struct Waiter {
    rx: Receiver<Seen>,
    early: Vec<Seen>,
}

impl Waiter {
    /// Waits until `per` real nodes each reported every name of `want` added (or removed);
    /// returns, per name, when the last of them got there, and the reconcile times seen.
    fn wait(
        &mut self,
        want: &HashSet<String>,
        added: bool,
        per: usize,
    ) -> (BTreeMap<String, Instant>, Vec<(Duration, bool)>) {
        let mut count: BTreeMap<String, (usize, Instant)> = BTreeMap::new();
        let mut took = Vec::new();
        let mut done = 0;
        let mut pending = std::mem::take(&mut self.early);
        let deadline = Instant::now() + PATIENCE;
        while done < want.len() {
            let s = match pending.pop() {
                Some(s) => s,
                None => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match self.rx.recv_timeout(left) {
                        Ok(s) => s,
                        Err(_) => die(&format!(
                            "{} of {} nodes not {} on every real node within {PATIENCE:?}",
                            want.len() - done,
                            want.len(),
                            if added { "installed" } else { "removed" }
                        )),
                    }
                }
            };
            if s.added != added || !want.contains(&s.name) {
                self.early.push(s);
                continue;
            }
            took.push((s.took, s.full));
            let e = count.entry(s.name).or_insert((0, s.at));
            e.0 += 1;
            e.1 = e.1.max(s.at);
            if e.0 == per {
                done += 1;
            }
        }
        self.early.extend(pending);
        (count.into_iter().map(|(k, (_, t))| (k, t)).collect(), took)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// (median, p90, max) in ms.
fn spread(mut v: Vec<Duration>) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort();
    let p = |q: f64| ms(v[((v.len() - 1) as f64 * q).round() as usize]);
    (p(0.5), p(0.9), p(1.0))
}

fn inner(o: &Opts) {
    let _inside = reexec::enter().unwrap_or_else(|e| die(&e.to_string()));
    let mode = o.modes.last().cloned().unwrap_or_default();
    let incremental = mode == "incremental";
    let lab = NodesLab::new(o.real, 0);
    lab.lab
        .sh("wire", &format!("ip addr add {ETCD_IP}/24 dev ul0"));
    // This (main) thread joins the wire's namespace: etcd and every thread started from
    // here (simulated nodes, their keepers) live there, beside the real nodes' underlay.
    setns_into(lab.lab.tid("wire"));
    let mut etcd_proc = start_etcd();
    let etcd_pid = etcd_proc.id();
    let url = format!("http://{ETCD_IP}:2379");
    let etcd = Arc::new(Etcd::new(std::slice::from_ref(&url)).unwrap());
    let ccfg = ClusterConfig::new("10.0.0.0/8", 24, 1).unwrap();
    config::init(&etcd, &ccfg).unwrap_or_else(|e| die(&format!("cluster init: {e:?}")));
    let (tx, rx) = channel();
    for i in 1..=o.real {
        start_real(&lab, i, url.clone(), incremental, tx.clone());
    }
    let mut w = Waiter {
        rx,
        early: Vec::new(),
    };
    // The real nodes see each other first (each sees the others).
    let reals: HashSet<String> = (1..=o.real).map(|i| format!("real-{i}")).collect();
    if o.real > 1 {
        w.wait(&reals, true, o.real - 1);
    }
    let heard = Arc::new(AtomicU64::new(0));
    for _ in 0..o.watchers {
        let (etcd, heard) = (etcd.clone(), heard.clone());
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut sink = |c: &NodeChange| {
                    heard.fetch_add((c.added.len() + c.removed.len()) as u64, Ordering::Relaxed);
                };
                watch::follow(&etcd, None, &mut sink, &|m: &str| eprintln!("watcher: {m}"));
            })
            .expect("spawn a watcher");
    }
    let sims = SimNodes::new(etcd.clone(), ccfg, o.ttl);
    println!(
        "mode {mode}: {} real nodes, {} more watchers, etcd 3.4 (1 member), lease TTL {} s, \
         {} probes per level",
        o.real, o.watchers, o.ttl, o.probes
    );
    println!(
        "{:>6} | {:>22} | {:>16} | {:>24} | {:>24} | {:>18} | {:>16}",
        "sim N",
        "bulk join → installed",
        "install / node",
        "join → all real (ms)",
        "leave → all real (ms)",
        "reconcile/event ms",
        "etcd idle CPU, RSS"
    );
    println!(
        "{:>6} | {:>22} | {:>16} | {:>24} | {:>24} | {:>18} | {:>16}",
        "",
        "s",
        "µs (reconcile)",
        "median / p90 / max",
        "median / p90 / max",
        "median (full %)",
        "% core, MiB"
    );
    let mut probe_base = 40_000;
    for &n in &o.sim {
        let have = sims.len();
        let (bulk, per_node) = if n > have {
            let t = Instant::now();
            let joined = sims
                .join_all(have..n, 8)
                .unwrap_or_else(|e| die(&format!("simulated joins: {e}")));
            let names: HashSet<String> = joined.iter().map(|j| j.name.clone()).collect();
            let (_, took) = w.wait(&names, true, o.real);
            let busy: Duration = took.iter().map(|(d, _)| *d).sum();
            (
                format!("{:.2}", t.elapsed().as_secs_f64()),
                format!(
                    "{:.0}",
                    busy.as_secs_f64() * 1e6 / (names.len() * o.real) as f64
                ),
            )
        } else {
            ("-".into(), "-".into())
        };
        // etcd's load while it holds n + real leases and nothing changes: one TTL.
        let (cpu0, t0) = (cpu_secs(etcd_pid), Instant::now());
        let (r0, _, _) = sims.renewals();
        std::thread::sleep(Duration::from_secs(o.ttl));
        let span = t0.elapsed().as_secs_f64();
        let cpu = (cpu_secs(etcd_pid) - cpu0) / span * 100.0;
        let (r1, expired, failed) = sims.renewals();
        let rss = rss_kb(etcd_pid) as f64 / 1024.0;
        let heard0 = heard.load(Ordering::Relaxed);
        let (cpu0, t0) = (cpu_secs(etcd_pid), Instant::now());
        let mut joins = Vec::new();
        let mut leaves = Vec::new();
        let mut took_all = Vec::new();
        for p in 0..o.probes {
            let k = probe_base + p;
            let want: HashSet<String> = [format!("sim-{k}")].into();
            let t = Instant::now();
            sims.join(k)
                .unwrap_or_else(|e| die(&format!("probe join: {e}")));
            let (at, took) = w.wait(&want, true, o.real);
            joins.push(at.values().max().unwrap().duration_since(t));
            took_all.extend(took);
            let t = Instant::now();
            sims.leave(k)
                .unwrap_or_else(|e| die(&format!("probe leave: {e}")));
            let (at, took) = w.wait(&want, false, o.real);
            leaves.push(at.values().max().unwrap().duration_since(t));
            took_all.extend(took);
        }
        probe_base += o.probes;
        let probe_cpu = cpu_secs(etcd_pid) - cpu0;
        let probe_span = t0.elapsed().as_secs_f64();
        let heard = heard.load(Ordering::Relaxed) - heard0;
        let fulls = took_all.iter().filter(|(_, f)| *f).count();
        let (rm, _, _) = spread(took_all.iter().map(|(d, _)| *d).collect());
        let (jm, jp, jx) = spread(joins);
        let (lm, lp, lx) = spread(leaves);
        println!(
            "{n:>6} | {bulk:>22} | {per_node:>16} | {:>24} | {:>24} | {:>18} | {:>16}",
            format!("{jm:.1} / {jp:.1} / {jx:.1}"),
            format!("{lm:.1} / {lp:.1} / {lx:.1}"),
            format!(
                "{rm:.2} ({:.0} %)",
                fulls as f64 * 100.0 / took_all.len().max(1) as f64
            ),
            format!("{cpu:.1} %, {rss:.0}"),
        );
        println!(
            "       renewals {:.0}/s while idle (so far {expired} too late, {failed} failed{}); \
             probes: etcd CPU {:.0} ms \
             over {:.1} s, {heard} events heard by the extra watchers",
            (r1 - r0) as f64 / span,
            sims.first_error()
                .map(|e| format!(": {e}"))
                .unwrap_or_default(),
            probe_cpu * 1e3,
            probe_span,
        );
    }
    // Exiting ends the sandbox's PID namespace: etcd, keepers and watches go with it.
    let _ = &mut etcd_proc;
    std::process::exit(0);
}
