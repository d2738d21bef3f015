//! Services benchmark: whole-process wall time of podnet's service operations with 100, 1,000
//! and 10,000 services × 10 endpoints present, the full re-load of all of them (`podnet gc`
//! after the table was deleted), and the first-packet latency (TCP connect() through a VIP from
//! a container) beside the same services in kube-proxy's iptables-mode layout.
//!
//! ```sh
//! cargo bench --bench services -- [--levels 100,1000,10000] [--trials 30] [--conns 1000] [--out FILE]
//! ```
//!
//! Everything happens in sandboxes this binary makes by re-executing itself as their PID 1
//! (`podnet::testbed::reexec`: fresh net+mount+pid namespaces, tmpfs over `/run`, sysfs
//! remounted, own `PODNET_ROOT`), one for podnet and one for the kube-proxy layout; each
//! vanishes with everything in it when that process exits. The backends are
//! this binary again (`--serve PORT`: accept and close), started with `podnet run -d` in both
//! sandboxes. See `docs/benchmarks.md` ("Services") for the method and the results.

mod bench;
#[path = "../common/mod.rs"]
mod common;
mod kube;
mod measure;
mod opts;
mod podnet_phase;
mod report;
mod traffic;

use common::*;
use kube::inner_kube;
use opts::{die, Opts};
use podnet::testbed::reexec;
use podnet_phase::inner_podnet;
use report::report;
use serde_json::{json, Value};
use std::fs::{self, File};
use std::io::Write;
use std::net::TcpListener;
use std::process::Command;

fn main() {
    // As in attach_detach: cargo's LD_LIBRARY_PATH slows every dynamically linked child.
    std::env::remove_var("LD_LIBRARY_PATH");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        serve(args.get(1).and_then(|p| p.parse().ok()).unwrap_or(8080));
    }
    let opts = Opts::parse(&args);
    if let Some(file) = &opts.report {
        let recs: Vec<Value> = fs::read_to_string(file)
            .unwrap_or_else(|e| die(&format!("--report {}: {e}", file.display())))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        println!("{}", report(&recs));
        return;
    }
    match reexec::phase().as_deref() {
        Some("podnet") => inner_podnet(&opts),
        Some("kube") => inner_kube(&opts),
        _ => outer(&opts, &args),
    }
}

/// The backend: accept every connection and close it. Runs until its sandbox dies.
fn serve(port: u16) -> ! {
    let l = TcpListener::bind(("0.0.0.0", port)).expect("bind backend port");
    loop {
        if let Ok((s, _)) = l.accept() {
            drop(s);
        }
    }
}

// ----------------------------------------------------------------------------- outer ---

fn outer(opts: &Opts, args: &[String]) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        die("must run as root (it creates namespaces, bridges and rules inside its sandboxes)");
    }
    let dir = bench_dir();
    let machine = machine_record(opts);
    eprintln!("machine: {machine}");
    let mut recs = vec![machine.clone()];
    for part in ["podnet", "kube"] {
        if !opts.has(part) {
            continue;
        }
        let out = reexec::run(part, args, &dir).unwrap_or_else(|e| die(&e.to_string()));
        // Records are written as they are made: a failed run keeps what it measured.
        recs.extend(
            out.records
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
        if !out.status.success() {
            eprintln!("services: the {part} sandbox failed: {}", out.status);
        }
    }
    println!("{}", report(&recs));
    if let Some(out) = &opts.out {
        let mut f = File::create(out).unwrap_or_else(|e| die(&format!("--out: {e}")));
        for r in &recs {
            writeln!(f, "{r}").expect("write --out");
        }
        eprintln!("JSON lines written to {}", out.display());
    }
}

fn machine_record(opts: &Opts) -> Value {
    let out = |argv: &[&str]| {
        Command::new(argv[0])
            .args(&argv[1..])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    json!({
        "tool": "machine",
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "kernel": fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "cpu": first_line("/proc/cpuinfo", "model name"),
        "mem_total": first_line("/proc/meminfo", "MemTotal"),
        "podnet_commit": out(&["git", "rev-parse", "--short", "HEAD"]),
        "iptables": out(&["iptables-restore", "--version"]),
        "podnet_bin": podnet_bin(opts),
        "opts": format!("{opts:?}"),
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "loadavg": loadavg(),
    })
}

fn podnet_bin(opts: &Opts) -> String {
    opts.podnet
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_podnet").to_string())
}
