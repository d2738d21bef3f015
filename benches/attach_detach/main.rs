//! Attach/detach benchmark: whole-process wall time (fork → exit) of `podnet attach`/`detach`
//! and `podnet run -d`/`rm -f`, each without and with one published port (`-p`), with 0, 100,
//! 300, 1,000 containers already on the network (each publishing one port of its own), next to
//! the kernel floor (the same netlink and nftables work done in-process, no process spawn) and
//! a bare process spawn measured in the same run, and the peers (netavark, CNI plugins) when
//! installed. `--modes datapath` adds iperf3 throughput through podnet's bridge and published
//! ports in a two-namespace lab ("host" + "outside"), beside the peers' own datapath figures.
//! `--modes dualstack` measures `attach -p`/`detach` on a dual-stack network beside an
//! IPv4-only one, interleaved in the same sandbox (issue 9's target: at most +1 ms, flat).
//! `--modes macvlan` measures `attach`/`detach` on a macvlan network beside a bridge network,
//! interleaved, and iperf3 from a LAN machine to a macvlan container vs to a bridge
//! container's published port (issue 13).
//!
//! ```sh
//! cargo bench --bench attach_detach -- [--modes attach,datapath,dualstack,macvlan] [--levels 0,100,300,1000]
//!     [--trials 30] [--out FILE]
//! ```
//!
//! Everything podnet does happens inside a sandbox this binary makes by re-executing itself
//! as its PID 1 (`podnet::testbed::reexec`: fresh net+mount+pid namespaces, tmpfs over
//! `/run`, sysfs remounted, own `PODNET_ROOT`), so podnet is spawned directly, with no
//! `nsenter` in front; the sandbox and everything in it vanish when that process exits. The
//! peers' scripts make their own sandbox. See `docs/benchmarks.md` for the method and the
//! results.

mod attach;
mod bench;
#[path = "../common/mod.rs"]
mod common;
mod datapath;
mod dualstack;
mod floors;
mod macvlan;
mod opts;
mod peers;
mod report;

use attach::attach_phase;
use bench::Bench;
use common::*;
use datapath::datapath_phase;
use dualstack::dualstack_phase;
use macvlan::macvlan_phase;
use opts::{die, Opts};
use peers::run_peer;
use podnet::kernel::Rtnl;
use podnet::testbed::reexec;
use report::{level_of, report};
use serde_json::{json, Value};
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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
        "dualstack" => dualstack_phase(&mut bench, opts),
        "macvlan" => macvlan_phase(&mut bench, opts),
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
