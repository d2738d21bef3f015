//! Attach/detach benchmark: whole-process wall time (fork → exit) of `podnet attach`/`detach`
//! and `podnet run -d`/`rm -f`, each without and with one published port (`-p`), with 0, 100,
//! 300, 1,000 containers already on the network (each publishing one port of its own), next to
//! the kernel floor (the same netlink and nftables work done in-process, no process spawn) and
//! a bare process spawn measured in the same run, and the peers (netavark, CNI plugins) when
//! installed. `--modes datapath` adds iperf3 throughput through podnet's bridge and published
//! ports in a two-namespace lab ("host" + "outside"), beside the peers' own datapath figures.
//!
//! ```sh
//! cargo bench --bench attach_detach -- [--modes attach,datapath] [--levels 0,100,300,1000]
//!     [--trials 30] [--out FILE]
//! ```
//!
//! Everything podnet does happens inside a sandbox this binary makes by re-executing itself
//! as its PID 1 (`podnet::testbed::reexec`: fresh net+mount+pid namespaces, tmpfs over
//! `/run`, sysfs remounted, own `PODNET_ROOT`), so podnet is spawned directly, with no
//! `nsenter` in front; the sandbox and everything in it vanish when that process exits. The
//! peers' scripts make their own sandbox. See `docs/benchmarks.md` for the method and the
//! results.

use podnet::kernel::nft::socket::NftSocket;
use podnet::kernel::{addr, link, netns, route, Rtnl};
use podnet::model::{PortMapping, Proto};
use podnet::plan::netfilter::{self as plan, PortFacts};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use podnet::testbed::reexec;

mod common;
use common::*;

const USAGE: &str = "\
usage: cargo bench --bench attach_detach -- [options]
  --modes LIST           attach,datapath (default attach): each runs in its own fresh sandbox
  --levels LIST          containers already attached at each measured level
                         (default 0,100,300,1000)
  --no-fill-ports        populate without ports (default: container i publishes 20000+i:80)
  --trials N             measured trials per op and level (default 30)
  --warmup N             discarded trials per op and level (default 3)
  --settle-ms N          pause after each trial so deferred kernel work (namespace cleanup)
                         does not land in the next op's timing (default 10)
  --out FILE             write JSON lines (machine, podnet, floors, peers) to FILE
  --peers LIST           netavark,cni | none (default netavark,cni; skipped if not installed)
  --peer-levels LIST     levels for the peers (default 0,100,300: they grow ~linearly with n)
  --peer-trials N        trials per level for the peers (default 10)
  --seconds N            datapath: iperf3 -t per run (default 10)
  --repeat N             datapath: runs per path (default 3)
  --rounds N             datapath: repeat [podnet, netavark, CNI] N times, interleaved, so that
                         a drift of the machine's load hits every tool alike (default 1);
                         the table pools the rounds (median of the rounds' medians)
  --peers-dir DIR        the peers' scripts (default /work/shared/peers)
  --strace               also run one of each podnet op per level under `strace -f -tt -T`
                         (untimed; files in <target>/bench/strace-*.txt)
  --podnet PATH          benchmark this podnet binary instead of the one cargo built (A/B runs)
  --report FILE          only print the table of an earlier run's --out file
Must run as root.";

#[derive(Debug, Clone)]
struct Opts {
    modes: Vec<String>,
    levels: Vec<usize>,
    fill_ports: bool,
    trials: usize,
    warmup: usize,
    settle_ms: u64,
    out: Option<PathBuf>,
    peers: Vec<String>,
    peer_levels: Vec<usize>,
    peer_trials: usize,
    peers_dir: PathBuf,
    strace: bool,
    podnet: Option<PathBuf>,
    report: Option<PathBuf>,
    seconds: u32,
    repeat: usize,
    rounds: usize,
}

fn die(msg: &str) -> ! {
    eprintln!("attach_detach: {msg}\n{USAGE}");
    std::process::exit(2)
}

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let mut o = Opts {
            modes: vec!["attach".into()],
            levels: vec![0, 100, 300, 1000],
            fill_ports: true,
            trials: 30,
            warmup: 3,
            settle_ms: 10,
            out: None,
            peers: vec!["netavark".into(), "cni".into()],
            peer_levels: vec![0, 100, 300],
            peer_trials: 10,
            peers_dir: PathBuf::from("/work/shared/peers"),
            strace: false,
            podnet: None,
            report: None,
            seconds: 10,
            repeat: 3,
            rounds: 1,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || {
                it.next()
                    .cloned()
                    .unwrap_or_else(|| die(&format!("{a} needs a value")))
            };
            match a.as_str() {
                // cargo passes --bench to harness=false benchmarks.
                "--bench" => {}
                "--modes" => o.modes = list("--modes", &val()),
                "--levels" => o.levels = list("--levels", &val()),
                "--no-fill-ports" => o.fill_ports = false,
                "--seconds" => o.seconds = list("--seconds", &val())[0],
                "--repeat" => o.repeat = list("--repeat", &val())[0],
                "--rounds" => o.rounds = list("--rounds", &val())[0],
                "--trials" => o.trials = list("--trials", &val())[0],
                "--warmup" => o.warmup = list("--warmup", &val())[0],
                "--settle-ms" => o.settle_ms = list("--settle-ms", &val())[0],
                "--out" => o.out = Some(PathBuf::from(val())),
                "--peers" => {
                    let v = val();
                    o.peers = if v == "none" {
                        vec![]
                    } else {
                        list("--peers", &v)
                    };
                }
                "--peer-levels" => o.peer_levels = list("--peer-levels", &val()),
                "--peer-trials" => o.peer_trials = list("--peer-trials", &val())[0],
                "--peers-dir" => o.peers_dir = PathBuf::from(val()),
                "--strace" => o.strace = true,
                "--podnet" => o.podnet = Some(PathBuf::from(val())),
                "--report" => o.report = Some(PathBuf::from(val())),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0)
                }
                other => die(&format!("unknown argument '{other}'")),
            }
        }
        o.levels.sort_unstable();
        o.levels.dedup();
        if o.trials == 0 || o.levels.is_empty() || o.repeat == 0 {
            die("need at least one level, one trial and one repeat");
        }
        if let Some(m) = o
            .modes
            .iter()
            .find(|m| !["attach", "datapath"].contains(&m.as_str()))
        {
            die(&format!("--modes: unknown mode '{m}' (attach, datapath)"));
        }
        o
    }
}

// ------------------------------------------------------------------------------- stats ---

fn r2(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ------------------------------------------------------------------------ entry point ---

fn main() {
    // `cargo bench` sets LD_LIBRARY_PATH to the toolchain's and target's lib dirs; every
    // dynamically linked child would then probe a dozen missing paths per library before
    // finding libc (measured: ~1 ms per podnet start). Nobody runs podnet like that: drop it
    // (here, before any thread exists) so that podnet, the floors and the peers start as they
    // would from a shell.
    std::env::remove_var("LD_LIBRARY_PATH");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = Opts::parse(&args);
    if let Some(file) = &opts.report {
        let mut recs: Vec<Value> = fs::read_to_string(file)
            .unwrap_or_else(|e| die(&format!("--report {}: {e}", file.display())))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let mut levels: Vec<usize> = recs
            .iter()
            .filter(|r| r["tool"] == "podnet")
            .filter_map(level_of)
            .collect();
        levels.sort_unstable();
        levels.dedup();
        let opts = Opts { levels, ..opts };
        println!("{}", report(&opts, &mut recs));
        return;
    }
    if reexec::phase().is_some() {
        inner(&opts);
    } else {
        outer(&opts, &args);
    }
}

// ----------------------------------------------------------------------------- outer ---

fn outer(opts: &Opts, args: &[String]) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        die("must run as root (it creates namespaces, bridges and veths inside its sandbox)");
    }
    let dir = bench_dir();
    let machine = machine_record(opts);
    eprintln!("machine: {machine}");
    let mut recs: Vec<Value> = Vec::new();
    for mode in &opts.modes {
        let rounds = if mode == "datapath" { opts.rounds } else { 1 };
        for round in 0..rounds {
            let tag = |mut r: Value| {
                if rounds > 1 {
                    r["round"] = json!(round + 1);
                }
                r
            };
            // podnet and its floors: inside a fresh sandbox per mode and round (this binary
            // again, as PID 1 of a new PID namespace).
            recs.extend(sandboxed_phase(args, &dir, mode).into_iter().map(tag));
            // Peers: their scripts make their own sandbox; they run after podnet, one at a
            // time.
            for peer in &opts.peers {
                recs.extend(run_peer(opts, peer, &dir, mode).into_iter().map(tag));
            }
        }
    }

    let table = report(opts, &mut recs);
    println!("{table}");
    if let Some(out) = &opts.out {
        let mut f = File::create(out).unwrap_or_else(|e| die(&format!("--out: {e}")));
        writeln!(f, "{machine}").expect("write --out");
        for r in &recs {
            writeln!(f, "{r}").expect("write --out");
        }
        eprintln!("JSON lines written to {}", out.display());
    }
}

/// Run this binary as PID 1 of a fresh sandbox for one phase; its records.
fn sandboxed_phase(args: &[String], dir: &Path, mode: &str) -> Vec<Value> {
    let out = reexec::run(mode, args, dir).unwrap_or_else(|e| die(&e.to_string()));
    if !out.status.success() {
        eprintln!(
            "attach_detach: the sandboxed {mode} run failed: {}",
            out.status
        );
        std::process::exit(1);
    }
    out.records
        .iter()
        .map(|l| serde_json::from_str(l).expect("record is JSON"))
        .collect()
}

fn machine_record(opts: &Opts) -> Value {
    let git = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    json!({
        "tool": "machine",
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "kernel": fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "cpu": first_line("/proc/cpuinfo", "model name"),
        "mem_total": first_line("/proc/meminfo", "MemTotal"),
        "podnet_commit": git,
        "podnet_bin": opts.podnet.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| env!("CARGO_BIN_EXE_podnet").to_string()),
        "opts": format!("{opts:?}"),
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "loadavg": loadavg(),
    })
}

fn run_peer(opts: &Opts, peer: &str, dir: &Path, mode: &str) -> Vec<Value> {
    let installed = match peer {
        "netavark" => Path::new("/usr/lib/podman/netavark").exists(),
        "cni" => Path::new("/usr/lib/cni/bridge").exists(),
        _ => die(&format!("--peers: unknown peer '{peer}' (netavark, cni)")),
    };
    let script = opts.peers_dir.join(format!("{peer}_bench.sh"));
    if !installed || !script.exists() {
        eprintln!(
            "peer {peer}: not installed or no {} — skipped",
            script.display()
        );
        return vec![json!({"tool": peer, "op": "skipped", "reason": "not installed"})];
    }
    let out = dir.join(format!("peer-{peer}-{mode}.jsonl"));
    let _ = fs::remove_file(&out);
    let levels = opts
        .peer_levels
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let peer_args: Vec<String> = if mode == "datapath" {
        vec![
            "--mode".into(),
            "datapath".into(),
            "--seconds".into(),
            opts.seconds.to_string(),
            "--repeat".into(),
            opts.repeat.to_string(),
        ]
    } else {
        vec![
            "--levels".into(),
            levels,
            "--trials".into(),
            opts.peer_trials.to_string(),
        ]
    };
    eprintln!("peer {peer}: {} {}", script.display(), peer_args.join(" "));
    let status = Command::new(&script)
        .args(&peer_args)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("run peer script");
    if !status.success() {
        eprintln!("peer {peer}: script failed ({status}); its partial records are kept");
    }
    fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

// ---------------------------------------------------------------------------- report ---

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

fn level_of(v: &Value) -> Option<usize> {
    v.get("n_existing")
        .and_then(Value::as_u64)
        .map(|n| n as usize)
}

/// Median of a record with `tool`, `op` at level `n`.
fn find(recs: &[Value], tool: &str, op: &str, n: usize) -> Option<f64> {
    recs.iter()
        .find(|r| r["tool"] == tool && r["op"] == op && level_of(r) == Some(n))
        .and_then(|r| num(r, "median_ms"))
}

/// Which kernel floor an op is compared with, and which peer op.
fn floor_of(op: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match op {
        "attach" => ("kernel_veth_add", Some("setup")),
        "detach" => ("kernel_veth_del", Some("teardown")),
        "run" => ("kernel_veth_add", None),
        "rm" => ("kernel_netns_del", None),
        "attach_p" => ("kernel_attach_full_p", Some("setup")),
        "detach_p" => ("kernel_detach_p", Some("teardown")),
        "run_p" => ("kernel_attach_full_p", None),
        "rm_p" => ("kernel_nft_port_del", None),
        _ => return None,
    })
}

fn report(opts: &Opts, recs: &mut [Value]) -> String {
    // Ratios, added to the podnet records themselves.
    let snapshot: Vec<Value> = recs.to_vec();
    for r in recs.iter_mut() {
        if r["tool"] != "podnet" {
            continue;
        }
        let (Some(op), Some(n), Some(m)) = (
            r["op"].as_str().map(str::to_string),
            level_of(r),
            num(r, "median_ms"),
        ) else {
            continue;
        };
        if let Some((floor, peer_op)) = floor_of(&op) {
            if let Some(f) = find(&snapshot, "floor", floor, n) {
                r["floor_op"] = json!(floor);
                r["x_floor"] = json!(r2(m / f));
            }
            if let Some(p) = find(&snapshot, "floor", "proc_spawn_true", n) {
                r["x_proc_spawn"] = json!(r2(m / p));
            }
            if let Some(pop) = peer_op {
                // The peers' records name the CNI plugins "cni-plugins".
                for (peer, key) in [("netavark", "netavark"), ("cni-plugins", "cni")] {
                    if let Some(pm) = find(&snapshot, peer, pop, n) {
                        r[format!("x_{key}")] = json!(r2(m / pm));
                    }
                }
            }
        }
    }

    let mut t = String::new();
    let line = |t: &mut String, s: String| {
        t.push_str(&s);
        t.push('\n');
    };
    line(
        &mut t,
        format!(
            "{:<30} {:>5} {:>9} {:>9} {:>20} {:>10} {:>10} {:>9}",
            "op (wall ms)",
            "n",
            "median",
            "p90",
            "x kernel floor",
            "x /bin/true",
            "x netavark",
            "x CNI"
        ),
    );
    let fmt_x = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
    let row = |t: &mut String, label: &str, r: &Value| {
        let fx = match (r.get("floor_op"), num(r, "x_floor")) {
            (Some(f), Some(x)) => format!(
                "{x:.2} ({})",
                f.as_str().unwrap_or("").trim_start_matches("kernel_")
            ),
            _ => "-".into(),
        };
        line(
            t,
            format!(
                "{:<30} {:>5} {:>9.2} {:>9.2} {:>20} {:>10} {:>10} {:>9}",
                label,
                level_of(r).map(|n| n.to_string()).unwrap_or_default(),
                num(r, "median_ms").unwrap_or(f64::NAN),
                num(r, "p90_ms").unwrap_or(f64::NAN),
                fx,
                fmt_x(num(r, "x_proc_spawn")),
                fmt_x(num(r, "x_netavark")),
                fmt_x(num(r, "x_cni")),
            ),
        );
    };
    let groups: &[(&str, &str, &str)] = &[
        ("podnet", "attach", "podnet attach"),
        ("podnet", "attach_p", "podnet attach -p (1 port)"),
        ("podnet", "detach", "podnet detach"),
        ("podnet", "detach_p", "podnet detach (1 port)"),
        ("podnet", "run", "podnet run -d"),
        ("podnet", "run_p", "podnet run -d -p (1 port)"),
        ("podnet", "rm", "podnet rm -f"),
        ("podnet", "rm_p", "podnet rm -f (1 port)"),
        ("podnet", "rm_veth_gone", "  rm: veth gone after (async)"),
        ("podnet", "rm_p_veth_gone", "  rm -p: veth gone after"),
        ("podnet", "version", "podnet --version"),
        ("floor", "proc_spawn_true", "floor: spawn /bin/true"),
        ("floor", "kernel_veth_add", "floor: veth add+enslave+ns"),
        ("floor", "kernel_attach_full", "floor: full attach netlink"),
        (
            "floor",
            "kernel_attach_full_p",
            "floor: full attach_p (+nft)",
        ),
        ("floor", "kernel_nft_port_add", "floor: nft open+add+close"),
        ("floor", "kernel_nft_close_after_add", "  of which close"),
        ("floor", "kernel_nft_port_del", "floor: nft open+del+close"),
        ("floor", "kernel_nft_close_after_del", "  of which close"),
        ("floor", "kernel_detach_p", "floor: nft del + veth del"),
        ("floor", "kernel_veth_del", "floor: veth del"),
        ("floor", "kernel_netns_add", "floor: netns add"),
        ("floor", "kernel_netns_del", "floor: netns del"),
        ("netavark", "setup", "netavark setup (1 port)"),
        ("netavark", "teardown", "netavark teardown"),
        ("cni-plugins", "setup", "CNI ADD br+pm+fw (1 port)"),
        ("cni-plugins", "teardown", "CNI DEL"),
    ];
    for (tool, op, label) in groups {
        let mut rows: Vec<&Value> = recs
            .iter()
            .filter(|r| r["tool"] == *tool && r["op"] == *op && level_of(r).is_some())
            .collect();
        rows.sort_by_key(|r| level_of(r));
        for r in rows {
            row(&mut t, label, r);
        }
    }
    if let Some(r) = recs.iter().find(|r| r["op"] == "attach_first_use") {
        line(
            &mut t,
            format!(
                "first attach (creates network podnet0): {:.2} ms",
                num(r, "median_ms").unwrap_or(f64::NAN)
            ),
        );
    }

    // Targets.
    line(&mut t, String::new());
    line(&mut t, "targets:".into());
    let medians = |op: &str| -> Vec<(usize, f64)> {
        opts.levels
            .iter()
            .filter_map(|&n| find(recs, "podnet", op, n).map(|m| (n, m)))
            .collect()
    };
    let check = |t: &mut String, op: &str, limit: f64, flat: bool| {
        let ms = medians(op);
        if ms.is_empty() {
            return;
        }
        let worst = ms.iter().map(|x| x.1).fold(0.0, f64::max);
        let mut s = if limit.is_finite() {
            format!(
                "  {op:<7} median <= {limit} ms at every level: {} (worst {worst:.2} ms)",
                if worst <= limit { "MET" } else { "NOT MET" }
            )
        } else {
            format!("  {op:<7} (no absolute target; worst median {worst:.2} ms)")
        };
        if flat && ms.len() > 1 {
            let base = ms[0].1;
            let dev = ms
                .iter()
                .map(|x| (x.1 / base - 1.0) * 100.0)
                .fold(0.0f64, |a, d| if d.abs() > a.abs() { d } else { a });
            s.push_str(&format!(
                "; flat within ±25% of n={}: {} (largest change {dev:+.0}%)",
                ms[0].0,
                if dev.abs() <= 25.0 { "MET" } else { "NOT MET" }
            ));
        }
        line(t, s);
    };
    check(&mut t, "attach", 5.0, true);
    check(&mut t, "attach_p", 5.0, true);
    check(&mut t, "detach", 25.0, true);
    check(&mut t, "detach_p", 25.0, true);
    check(&mut t, "rm", 5.0, true);
    check(&mut t, "rm_p", 5.0, true);
    check(&mut t, "run", f64::INFINITY, true);
    check(&mut t, "run_p", f64::INFINITY, true);
    datapath_table(&mut t, recs);
    let loads: Vec<f64> = recs
        .iter()
        .filter_map(|r| {
            r.get("loadavg")
                .and_then(|l| l.get(0))
                .and_then(Value::as_f64)
        })
        .collect();
    if !loads.is_empty() {
        let lo = loads.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = loads.iter().cloned().fold(0.0, f64::max);
        line(
            &mut t,
            format!("\n1-min load average during podnet's measurements: {lo:.2}–{hi:.2}"),
        );
    }
    t
}

/// The data paths, named as the peers' `bench.py --mode datapath` names them.
const PATHS: [&str; 5] = [
    "container_to_container",
    "host_to_container_direct",
    "host_to_published_port_via_gateway_ip",
    "host_to_published_port_via_127.0.0.1",
    "external_ns_to_published_port",
];

/// Throughput per path: podnet beside the peers (their `iperf3_tcp` records), and the
/// 5 % target (podnet's median ≥ 0.95 × each peer's).
fn datapath_table(t: &mut String, recs: &[Value]) {
    // Pool the rounds: one record per tool and path, median of the rounds' medians.
    let pooled = |tool: &str, path: &str| -> Option<Value> {
        let rs: Vec<&Value> = recs
            .iter()
            .filter(|r| r["tool"] == tool && r["op"] == "iperf3_tcp" && r["path"] == path)
            .collect();
        let first = *rs.first()?;
        let meds: Vec<f64> = rs.iter().filter_map(|r| num(r, "median_gbps")).collect();
        if meds.is_empty() {
            return Some(first.clone());
        }
        let mins = rs.iter().filter_map(|r| num(r, "min_gbps"));
        let maxs = rs.iter().filter_map(|r| num(r, "max_gbps"));
        Some(json!({
            "median_gbps": r2(stats(&meds).median),
            "min_gbps": mins.fold(f64::INFINITY, f64::min),
            "max_gbps": maxs.fold(0.0, f64::max),
            "rounds": meds.len(),
        }))
    };
    let pooled_all: Vec<(String, String, Option<Value>)> = ["podnet", "netavark", "cni-plugins"]
        .iter()
        .flat_map(|t| {
            PATHS
                .iter()
                .map(move |p| (t.to_string(), p.to_string(), pooled(t, p)))
        })
        .collect();
    let gbps = |tool: &str, path: &str| -> Option<&Value> {
        pooled_all
            .iter()
            .find(|(t, p, _)| t == tool && p == path)
            .and_then(|x| x.2.as_ref())
    };
    let paths = PATHS;
    if !paths.iter().any(|p| gbps("podnet", p).is_some()) {
        return;
    }
    let cell = |r: Option<&Value>| -> String {
        match r {
            Some(r) if num(r, "median_gbps").is_some() => format!(
                "{:.2} ({:.2}–{:.2})",
                num(r, "median_gbps").unwrap_or(f64::NAN),
                num(r, "min_gbps").unwrap_or(f64::NAN),
                num(r, "max_gbps").unwrap_or(f64::NAN)
            ),
            Some(r) => format!("error: {}", r["error"]),
            None => "-".into(),
        }
    };
    t.push_str(&format!(
        "\ndata path: iperf3 -P 1, Gbit/s median (min–max) over all runs and rounds\n{:<40} {:>20} {:>20} {:>20} {:>8} {:>8}\n",
        "path", "podnet", "netavark", "CNI", "x nv", "x CNI"
    ));
    let mut worst: Option<f64> = None;
    for p in paths {
        let pod = gbps("podnet", p);
        let nv = gbps("netavark", p);
        let cni = gbps("cni-plugins", p);
        let ratio = |peer: Option<&Value>| -> Option<f64> {
            let a = pod.and_then(|r| num(r, "median_gbps"))?;
            let b = peer.and_then(|r| num(r, "median_gbps"))?;
            Some(a / b)
        };
        let (rn, rc) = (ratio(nv), ratio(cni));
        for x in [rn, rc].into_iter().flatten() {
            worst = Some(worst.map_or(x, |w: f64| w.min(x)));
        }
        let fx = |x: Option<f64>| x.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
        t.push_str(&format!(
            "{:<40} {:>20} {:>20} {:>20} {:>8} {:>8}\n",
            p,
            cell(pod),
            cell(nv),
            cell(cni),
            fx(rn),
            fx(rc)
        ));
    }
    if let Some(w) = worst {
        t.push_str(&format!(
            "  datapath within 5% of the peers (podnet median >= 0.95 x peer's, every path): {} (lowest ratio {w:.3})\n",
            if w >= 0.95 { "MET" } else { "NOT MET" }
        ));
    }
}

// ----------------------------------------------------------------------------- inner ---

/// Run an external command; wall time from spawn to reaped exit, in ms. Panics on failure
/// (a benchmark of a failing command is meaningless).
fn timed(argv: &[&str]) -> f64 {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t0 = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        panic!(
            "{argv:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ms
}

fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

struct Bench {
    podnet: &'static str,
    host: Rtnl,
    seq: usize,
    recs: Vec<Value>,
    settle: Duration,
    strace_dir: Option<PathBuf>,
}

/// In-process floor of attach -p / detach with one port, ms (see `floor_attach_full_p`).
struct FloorP {
    /// Everything attach -p does in the kernel.
    full: f64,
    /// nftables socket open + element add + close.
    nft_add: f64,
    /// The close alone, after the add.
    add_close: f64,
    /// nftables socket open + element delete + close.
    nft_del: f64,
    /// The close alone, after the delete (the kernel flushes nf_tables' destroy work).
    del_close: f64,
    /// nft delete (open, delete, close) + veth delete.
    detach: f64,
}

/// What the floor needs to know about the network podnet made.
struct Net {
    bridge_index: u32,
    prefix: u8,
    gateway: Ipv4Addr,
    broadcast: u32,
}

impl Bench {
    fn next(&mut self) -> usize {
        self.seq += 1;
        self.seq
    }

    fn new_netns(&mut self, prefix: &str) -> PathBuf {
        let p = PathBuf::from(format!("/run/netns/{prefix}{}", self.next()));
        netns::create(&p).expect("create netns");
        p
    }

    fn settle(&self) {
        std::thread::sleep(self.settle);
    }

    fn record(&mut self, tool: &str, op: &str, n: usize, v: &[f64], extra: Value) {
        let s = stats(v);
        let mut r = json!({
            "tool": tool, "op": op, "n_existing": n, "runs": s.runs,
            "median_ms": r2(s.median), "p90_ms": r2(s.p90), "p99_ms": r2(s.p99),
            "min_ms": r2(s.min), "max_ms": r2(s.max), "mean_ms": r2(s.mean),
            "loadavg": loadavg(),
        });
        if let (Value::Object(r), Value::Object(e)) = (&mut r, extra) {
            r.extend(e);
        }
        eprintln!(
            "  {tool:<8} {op:<20} n={n:<5} median {:>8.2} ms  p90 {:>8.2} ms  (min {:.2}, max {:.2})",
            s.median, s.p90, s.min, s.max
        );
        self.recs.push(r);
    }

    /// `podnet attach` of a fresh namespace (with `-p SPEC` when `publish` is given) then
    /// `podnet detach`; returns (attach, detach) ms.
    fn podnet_attach_detach(&mut self, publish: Option<&str>) -> (f64, f64) {
        let ns = self.new_netns("a");
        let name = format!("a{}", self.next());
        let ns_s = ns.to_string_lossy().into_owned();
        let mut argv = vec![self.podnet, "attach", "--netns", &ns_s, "--name", &name];
        if let Some(p) = publish {
            argv.extend(["-p", p]);
        }
        let a = timed(&argv);
        self.settle();
        let d = timed(&[self.podnet, "detach", &name]);
        netns::remove(&ns).expect("remove netns");
        self.settle();
        (a, d)
    }

    /// `podnet run -d [-p SPEC] … sleep infinity` then `podnet rm -f`; returns (run, rm, veth
    /// gone) ms: the last is from the start of `rm` until the kernel removed the host veth
    /// (async).
    fn podnet_run_rm(&mut self, publish: Option<&str>) -> (f64, f64, f64) {
        let name = format!("r{}", self.next());
        let mut argv = vec![self.podnet, "run", "-d", "--name", &name];
        if let Some(p) = publish {
            argv.extend(["-p", p]);
        }
        argv.extend(["--", "sleep", "infinity"]);
        let run = timed(&argv);
        // The host veth of the newest endpoint: read it back from podnet's record.
        let veth = host_veth_of(self.podnet, &name);
        self.settle();
        let t0 = Instant::now();
        let rm = timed(&[self.podnet, "rm", "-f", &name]);
        // Wait for the kernel to finish destroying the namespace's veth (deterministic settle).
        let deadline = Instant::now() + Duration::from_secs(10);
        while link::get(&mut self.host, &veth)
            .expect("get link")
            .is_some()
        {
            assert!(
                Instant::now() < deadline,
                "veth {veth} still there 10 s after rm"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        let gone = ms_since(t0);
        reap();
        self.settle();
        (run, rm, gone)
    }

    /// The kernel floor of attach/detach, in-process: one NEWLINK creating the veth with its
    /// peer directly in the namespace, enslaved and up; then its delete. Returns (add, del).
    fn floor_veth(&mut self, net: &Net) -> (f64, f64) {
        let ns = self.new_netns("k");
        let f = File::open(&ns).expect("open netns");
        let name = format!("bfk{}", self.next());
        let t0 = Instant::now();
        link::create_veth(
            &mut self.host,
            &name,
            Some(net.bridge_index),
            1500,
            "eth0",
            f.as_fd(),
            None,
        )
        .expect("create veth");
        let add = ms_since(t0);
        self.settle();
        let t0 = Instant::now();
        assert!(link::delete(&mut self.host, &name).expect("delete veth"));
        let del = ms_since(t0);
        drop(f);
        netns::remove(&ns).expect("remove netns");
        self.settle();
        (add, del)
    }

    /// Everything podnet's attach does in the kernel, in-process: the veth as above, then
    /// inside the namespace (own socket via setns) lo up, look up eth0, address, eth0 up,
    /// default route. Cleaned up untimed.
    fn floor_attach_full(&mut self, net: &Net) -> f64 {
        let ns = self.new_netns("k");
        let f = File::open(&ns).expect("open netns");
        let i = self.next();
        let name = format!("bfk{i}");
        let ip = Ipv4Addr::from(net.broadcast - 1 - (i as u32 % 250));
        let t0 = Instant::now();
        link::create_veth(
            &mut self.host,
            &name,
            Some(net.bridge_index),
            1500,
            "eth0",
            f.as_fd(),
            None,
        )
        .expect("create veth");
        let mut inside = netns::rtnl_in(&f).expect("socket in netns");
        link::set_up_by_name(&mut inside, "lo").expect("lo up");
        let eth0 = link::get(&mut inside, "eth0")
            .expect("get eth0")
            .expect("eth0 exists");
        addr::add(&mut inside, eth0.index, ip, net.prefix).expect("add address");
        link::set_up(&mut inside, eth0.index).expect("eth0 up");
        route::add_default(&mut inside, net.gateway).expect("default route");
        let full = ms_since(t0);
        drop(inside);
        link::delete(&mut self.host, &name).expect("delete veth");
        drop(f);
        netns::remove(&ns).expect("remove netns");
        self.settle();
        full
    }

    /// The kernel floor of `attach -p` / `detach` of a container with one published port,
    /// in-process: everything [`Self::floor_attach_full`] does, then hairpin on the bridge
    /// port and the same element-only nftables transaction podnet sends (one `ports_any` map
    /// element) on a fresh NETLINK_NETFILTER socket, closed again, as each podnet process
    /// does; then the element delete the same way and the veth delete.
    fn floor_attach_full_p(&mut self, net: &Net) -> FloorP {
        let ns = self.new_netns("k");
        let f = File::open(&ns).expect("open netns");
        let i = self.next();
        let name = format!("bfk{i}");
        let ip = Ipv4Addr::from(net.broadcast - 1 - (i as u32 % 250));
        let ports = [PortFacts {
            container_ip: ip,
            mapping: PortMapping {
                host_ip: None,
                host_port: FLOOR_PORT,
                container_port: 80,
                proto: Proto::Tcp,
            },
        }];
        let t0 = Instant::now();
        link::create_veth(
            &mut self.host,
            &name,
            Some(net.bridge_index),
            1500,
            "eth0",
            f.as_fd(),
            None,
        )
        .expect("create veth");
        let mut inside = netns::rtnl_in(&f).expect("socket in netns");
        link::set_up_by_name(&mut inside, "lo").expect("lo up");
        let eth0 = link::get(&mut inside, "eth0")
            .expect("get eth0")
            .expect("eth0 exists");
        addr::add(&mut inside, eth0.index, ip, net.prefix).expect("add address");
        link::set_up(&mut inside, eth0.index).expect("eth0 up");
        route::add_default(&mut inside, net.gateway).expect("default route");
        link::set_hairpin(&mut self.host, &name).expect("hairpin");
        let t1 = Instant::now();
        let mut nft = NftSocket::open().expect("nftables socket");
        nft.apply(&plan::add_ports(&ports))
            .expect("nft add element");
        let t2 = Instant::now();
        drop(nft);
        let add_close = ms_since(t2);
        let nft_add = ms_since(t1);
        let full = ms_since(t0);
        drop(inside);
        self.settle();
        let t0 = Instant::now();
        let mut nft = NftSocket::open().expect("nftables socket");
        nft.apply(&plan::remove_ports(&ports))
            .expect("nft delete element");
        let t2 = Instant::now();
        drop(nft);
        let del_close = ms_since(t2);
        let nft_del = ms_since(t0);
        assert!(link::delete(&mut self.host, &name).expect("delete veth"));
        let detach = ms_since(t0);
        drop(f);
        netns::remove(&ns).expect("remove netns");
        self.settle();
        FloorP {
            full,
            nft_add,
            add_close,
            nft_del,
            del_close,
            detach,
        }
    }

    /// Namespace create (thread unshare + bind mount) and remove (umount + unlink) with a veth
    /// peer inside, as `podnet run`/`rm` do. Returns (add, del) ms.
    fn floor_netns(&mut self, net: &Net) -> (f64, f64) {
        let p = PathBuf::from(format!("/run/netns/n{}", self.next()));
        let t0 = Instant::now();
        netns::create(&p).expect("create netns");
        let add = ms_since(t0);
        let f = File::open(&p).expect("open netns");
        let name = format!("bfk{}", self.next());
        link::create_veth(
            &mut self.host,
            &name,
            Some(net.bridge_index),
            1500,
            "eth0",
            f.as_fd(),
            None,
        )
        .expect("create veth");
        drop(f);
        self.settle();
        let t0 = Instant::now();
        netns::remove(&p).expect("remove netns");
        let del = ms_since(t0);
        let deadline = Instant::now() + Duration::from_secs(10);
        while link::get(&mut self.host, &name).expect("get").is_some() {
            assert!(
                Instant::now() < deadline,
                "veth {name} still there 10 s after"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        self.settle();
        (add, del)
    }

    fn strace(&mut self, n: usize) {
        let Some(dir) = self.strace_dir.clone() else {
            return;
        };
        let st = |file: &str, argv: &[&str]| {
            let out = dir.join(format!("strace-{file}-n{n}.txt"));
            let o = out.to_string_lossy().into_owned();
            // -b execve: follow podnet's threads but not the container process it starts.
            let mut full = vec!["strace", "-f", "-b", "execve", "-tt", "-T", "-o", &o];
            full.extend_from_slice(argv);
            timed(&full);
        };
        for (suffix, publish) in [("", None), ("-p", Some(TRIAL_PORT_ATTACH))] {
            let ns = self.new_netns("s");
            let ns_s = ns.to_string_lossy().into_owned();
            let name = format!("s{}", self.next());
            let mut argv = vec![self.podnet, "attach", "--netns", &ns_s, "--name", &name];
            if let Some(p) = publish {
                argv.extend(["-p", p]);
            }
            st(&format!("attach{suffix}"), &argv);
            st(&format!("detach{suffix}"), &[self.podnet, "detach", &name]);
            netns::remove(&ns).expect("remove netns");
            let name = format!("s{}", self.next());
            let mut argv = vec![self.podnet, "run", "-d", "--name", &name];
            if let Some(p) = publish {
                argv.extend(["-p", p]);
            }
            argv.extend(["--", "sleep", "infinity"]);
            st(&format!("run{suffix}"), &argv);
            st(&format!("rm{suffix}"), &[self.podnet, "rm", "-f", &name]);
        }
        reap();
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `podnet ARGS --format json`, parsed (untimed). Through the CLI rather than the library so
/// that this process never opens podnet's store itself.
fn podnet_json(podnet: &str, args: &[&str]) -> Value {
    let out = Command::new(podnet)
        .args(args)
        .args(["--format", "json"])
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("spawn podnet {args:?}: {e}"));
    assert!(out.status.success(), "podnet {args:?} failed");
    serde_json::from_slice(&out.stdout).expect("podnet prints JSON")
}

fn host_veth_of(podnet: &str, name: &str) -> String {
    podnet_json(podnet, &["inspect", name])["host_veth"]
        .as_str()
        .expect("container has a host veth")
        .to_string()
}

fn network_facts(podnet: &str, host: &mut Rtnl) -> Net {
    let d = podnet_json(podnet, &["network", "inspect", "podnet0"]);
    let subnet: ipnet::Ipv4Net = d["subnet"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("network subnet");
    let gateway: Ipv4Addr = d["gateway"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("network gateway");
    let bridge = d["bridge"].as_str().expect("network bridge");
    let bridge = link::get(host, bridge)
        .expect("get bridge")
        .expect("bridge exists");
    Net {
        bridge_index: bridge.index,
        prefix: subnet.prefix_len(),
        gateway,
        broadcast: u32::from(subnet.broadcast()),
    }
}

/// Published ports of the measured operations (the populated containers use 20000 + i).
const TRIAL_PORT_ATTACH: &str = "10001:80";
const TRIAL_PORT_RUN: &str = "10002:80";
/// Host port of the in-process nftables floor.
const FLOOR_PORT: u16 = 10003;
const FILL_PORT_BASE: usize = 20000;

fn inner(opts: &Opts) {
    // First, before any thread exists (netns::create spawns threads later).
    let inside = reexec::enter().unwrap_or_else(|e| panic!("{e}"));
    let strace_dir = opts.strace.then(|| inside.dir().to_path_buf());
    let mut bench = Bench {
        podnet: match &opts.podnet {
            // Leaked once: the path lives as long as the run.
            Some(p) => Box::leak(p.to_string_lossy().into_owned().into_boxed_str()),
            None => env!("CARGO_BIN_EXE_podnet"),
        },
        host: Rtnl::open().expect("rtnetlink"),
        seq: 0,
        recs: Vec::new(),
        settle: Duration::from_millis(opts.settle_ms),
        strace_dir,
    };
    eprintln!(
        "sandbox ready for {} (netns inode {}), podnet = {}, state = {}",
        inside.phase,
        netns_inode(),
        bench.podnet,
        inside.state.display()
    );
    match inside.phase.as_str() {
        "datapath" => datapath_phase(&mut bench, opts),
        _ => attach_phase(&mut bench, opts),
    }

    let mut f = File::create(&inside.records).expect("create records file");
    for r in &bench.recs {
        writeln!(f, "{r}").expect("write records");
    }
    // Leaving: the PID namespace dies with us (killing the sleeps), the network namespace
    // with it (bridge, veths, podnet's nftables tables), the mount namespace (tmpfs /run,
    // netns mounts).
}

fn attach_phase(bench: &mut Bench, opts: &Opts) {
    // First use creates the default network: timed once, reported apart.
    let ns = bench.new_netns("first");
    let ns_s = ns.to_string_lossy().into_owned();
    let first = timed(&[bench.podnet, "attach", "--netns", &ns_s, "--name", "first"]);
    timed(&[bench.podnet, "detach", "first"]);
    netns::remove(&ns).expect("remove netns");
    bench.record("podnet", "attach_first_use", 0, &[first], json!({}));
    let net = network_facts(bench.podnet, &mut bench.host);

    let mut attached = 0usize;
    for &n in &opts.levels {
        // Populate (untimed): podnet attach of pre-created namespaces, each with its own port.
        let t0 = Instant::now();
        while attached < n {
            let ns = PathBuf::from(format!("/run/netns/fill{attached}"));
            netns::create(&ns).expect("create netns");
            let ns_s = ns.to_string_lossy().into_owned();
            let name = format!("fill{attached}");
            let port = format!("{}:80", FILL_PORT_BASE + attached);
            let mut argv = vec![bench.podnet, "attach", "--netns", &ns_s, "--name", &name];
            if opts.fill_ports {
                argv.extend(["-p", &port]);
            }
            timed(&argv);
            attached += 1;
        }
        eprintln!(
            "level n={n}: {attached} containers attached{} (populating took {:.1} s)",
            if opts.fill_ports {
                ", one published port each"
            } else {
                ""
            },
            t0.elapsed().as_secs_f64()
        );
        std::thread::sleep(Duration::from_millis(200));

        let mut v: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for trial in 0..opts.warmup + opts.trials {
            let keep = trial >= opts.warmup;
            // One of each, interleaved, so slow drifts of the machine hit every op alike.
            let (a, d) = bench.podnet_attach_detach(None);
            let (ap, dp) = bench.podnet_attach_detach(Some(TRIAL_PORT_ATTACH));
            let (run, rm, gone) = bench.podnet_run_rm(None);
            let (runp, rmp, gonep) = bench.podnet_run_rm(Some(TRIAL_PORT_RUN));
            let (ka, kd) = bench.floor_veth(&net);
            let kf = bench.floor_attach_full(&net);
            let fp = bench.floor_attach_full_p(&net);
            let (na, nd) = bench.floor_netns(&net);
            let t = timed(&["/bin/true"]);
            let ver = timed(&[bench.podnet, "--version"]);
            if keep {
                for (k, x) in [
                    ("attach", a),
                    ("detach", d),
                    ("attach_p", ap),
                    ("detach_p", dp),
                    ("run", run),
                    ("rm", rm),
                    ("rm_veth_gone", gone),
                    ("run_p", runp),
                    ("rm_p", rmp),
                    ("rm_p_veth_gone", gonep),
                    ("kernel_veth_add", ka),
                    ("kernel_veth_del", kd),
                    ("kernel_attach_full", kf),
                    ("kernel_attach_full_p", fp.full),
                    ("kernel_nft_port_add", fp.nft_add),
                    ("kernel_nft_close_after_add", fp.add_close),
                    ("kernel_nft_port_del", fp.nft_del),
                    ("kernel_nft_close_after_del", fp.del_close),
                    ("kernel_detach_p", fp.detach),
                    ("kernel_netns_add", na),
                    ("kernel_netns_del", nd),
                    ("proc_spawn_true", t),
                    ("version", ver),
                ] {
                    v.entry(k).or_default().push(x);
                }
            }
        }
        for (k, xs) in &v {
            let tool = if k.starts_with("kernel_") || k.starts_with("proc_") {
                "floor"
            } else {
                "podnet"
            };
            bench.record(
                tool,
                k,
                n,
                xs,
                json!({"settle_ms": opts.settle_ms, "fill_ports": opts.fill_ports}),
            );
        }
        bench.strace(n);
    }
}

// -------------------------------------------------------------------------- datapath ---

/// Run a setup command (untimed); panics on failure.
fn sh(argv: &[&str]) {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One iperf3 client run (`prefix` + `iperf3 -c TARGET -p PORT`): received Gbit/s.
fn iperf_once(prefix: &[&str], target: &str, port: u16, opts: &Opts) -> Result<f64, String> {
    let secs = opts.seconds.to_string();
    let port = port.to_string();
    let mut argv: Vec<&str> = prefix.to_vec();
    argv.extend([
        "iperf3",
        "-c",
        target,
        "-p",
        &port,
        "-t",
        &secs,
        "-P",
        "1",
        "-J",
        "--connect-timeout",
        "3000",
    ]);
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("spawn {argv:?}: {e}"))?;
    let j: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    match j["end"]["sum_received"]["bits_per_second"].as_f64() {
        Some(bps) if out.status.success() => Ok(bps / 1e9),
        _ => Err(j["error"].as_str().map(str::to_string).unwrap_or_else(|| {
            format!(
                "{argv:?}: {} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })),
    }
}

/// iperf3 (one TCP stream) through podnet's network, in a lab: this sandbox is the "host"; a
/// namespace `outside`, joined to it by a veth pair (198.18.0.1/24 here, .2 there), plays a
/// LAN machine. The server is `podnet run -d -p 15201:5201 -- iperf3 -s`; the client container
/// is `podnet run -d -- sleep infinity` entered with `podnet exec`. The paths and their names
/// are the peers' (`peers/bench.py --mode datapath`); each run of a path is interleaved with
/// the other paths' runs so that a drift of the machine hits every path alike.
fn datapath_phase(bench: &mut Bench, opts: &Opts) {
    let outside = Path::new("/run/netns/outside");
    netns::create(outside).expect("create outside netns");
    sh(&[
        "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0", "netns", "outside",
    ]);
    sh(&["ip", "addr", "add", "198.18.0.1/24", "dev", "lan0"]);
    sh(&["ip", "link", "set", "lan0", "up"]);
    sh(&[
        "ip",
        "-n",
        "outside",
        "addr",
        "add",
        "198.18.0.2/24",
        "dev",
        "lan0",
    ]);
    sh(&["ip", "-n", "outside", "link", "set", "lan0", "up"]);
    sh(&["ip", "-n", "outside", "link", "set", "lo", "up"]);

    let p = bench.podnet;
    timed(&[
        p,
        "run",
        "-d",
        "--name",
        "srv",
        "-p",
        "15201:5201",
        "--",
        "iperf3",
        "-s",
        "-p",
        "5201",
    ]);
    timed(&[p, "run", "-d", "--name", "cli", "--", "sleep", "infinity"]);
    let srv_ip = podnet_json(p, &["inspect", "srv"])["ip"]
        .as_str()
        .expect("srv has an address")
        .to_string();
    let gw = podnet_json(p, &["network", "inspect", "podnet0"])["gateway"]
        .as_str()
        .expect("gateway")
        .to_string();
    // Wait until the server listens (checked inside its namespace, without connecting to it).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(p)
            .args(["exec", "srv", "--", "ss", "-Hltn", "sport = :5201"])
            .output()
            .expect("podnet exec ss");
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "iperf3 -s did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("datapath lab: server {srv_ip}:5201 published on 15201, gateway {gw}");

    let exec_cli = [p, "exec", "cli", "--"];
    let in_outside = ["nsenter", "--net=/run/netns/outside"];
    let paths: [(&str, &[&str], &str, u16); 5] = [
        ("container_to_container", &exec_cli, &srv_ip, 5201),
        ("host_to_container_direct", &[], &srv_ip, 5201),
        ("host_to_published_port_via_gateway_ip", &[], &gw, 15201),
        (
            "host_to_published_port_via_127.0.0.1",
            &[],
            "127.0.0.1",
            15201,
        ),
        (
            "external_ns_to_published_port",
            &in_outside,
            "198.18.0.1",
            15201,
        ),
    ];
    let mut vals: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut errs: Vec<Option<String>> = vec![None; paths.len()];
    for round in 0..opts.repeat {
        for (i, (name, prefix, target, port)) in paths.iter().enumerate() {
            match iperf_once(prefix, target, *port, opts) {
                Ok(g) => {
                    eprintln!("  [podnet] {name} run {}: {g:.2} Gbit/s", round + 1);
                    vals[i].push(g);
                }
                Err(e) => {
                    eprintln!("  [podnet] {name} run {}: FAILED {e}", round + 1);
                    errs[i] = Some(e);
                }
            }
        }
    }
    for (i, (name, ..)) in paths.iter().enumerate() {
        let mut r = json!({
            "tool": "podnet", "op": "iperf3_tcp", "path": name, "seconds": opts.seconds,
            "streams": 1, "runs": vals[i].len(), "loadavg": loadavg(),
        });
        if vals[i].is_empty() {
            r["error"] = json!(errs[i]);
        } else {
            let s = stats(&vals[i]);
            r["median_gbps"] = json!(r2(s.median));
            r["min_gbps"] = json!(r2(s.min));
            r["max_gbps"] = json!(r2(s.max));
        }
        bench.recs.push(r);
    }
    timed(&[p, "rm", "-f", "srv"]);
    timed(&[p, "rm", "-f", "cli"]);
    reap();
}
