//! `podnet graph` and `podnet ui` (issue 12): how long the graph takes at N containers
//! (the engine in-process, and the whole `podnet graph --format json` command), how far the
//! ui's page is behind a `podnet run`, and the ui's CPU while nothing changes.
//!
//! ```sh
//! cargo bench --bench graph -- [--sizes 100,1000] [--runs 20] [--idle-secs 10]
//! ```
//!
//! Runs as PID 1 of a sandbox of its own (`podnet::testbed::reexec`): one network `app`
//! (10.60.0.0/20), containers `podnet run -d` sleeping, a published port and a service every
//! 10 containers. At each size: `engine::graph::graph` `--runs` times (store + every
//! namespace's dumps + diff + build), then the command `--runs` times; then `podnet ui` is
//! started, left alone `--idle-secs` (its utime+stime from /proc), and a `/events` long-poll
//! is timed from the start of a `podnet run -d` to the answer naming the new container.
//! Targets (issue 12): ≤ 50 ms at 100 containers, ≤ 500 ms at 1,000, idle CPU < 1 %.
//! See docs/benchmarks.md ("Graph and ui").

#[path = "../common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::*;
use podnet::testbed::reexec;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Opts {
    sizes: Vec<usize>,
    runs: usize,
    idle_secs: u64,
}

const USAGE: &str = "cargo bench --bench graph -- [--sizes 100,1000] [--runs 20] [--idle-secs 10]";

pub(crate) fn die(msg: &str) -> ! {
    eprintln!("graph bench: {msg}");
    std::process::exit(2)
}

fn opts(args: &[String]) -> Opts {
    let mut o = Opts {
        sizes: vec![100, 1000],
        runs: 20,
        idle_secs: 10,
    };
    each_option(args, USAGE, |flag, val| {
        match flag {
            "--sizes" => o.sizes = list(flag, &val()),
            "--runs" => {
                o.runs = val()
                    .parse()
                    .unwrap_or_else(|_| die("--runs needs a number"))
            }
            "--idle-secs" => {
                o.idle_secs = val()
                    .parse()
                    .unwrap_or_else(|_| die("--idle-secs needs a number"))
            }
            _ => return false,
        }
        true
    });
    o.sizes.sort();
    o
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = opts(&args);
    sandboxed_main("graph", None, die, || inner(&o));
}

fn podnet(args: &[&str]) -> String {
    podnet_out(args, die)
}

fn dir(k: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var_os(k).expect("set by reexec::enter"))
}

fn inner(o: &Opts) {
    let inside = reexec::enter().unwrap_or_else(|e| die(&e.to_string()));
    let mut records = Vec::new();
    podnet(&["network", "create", "app", "--subnet", "10.60.0.0/20"]);
    let mut made = 0;
    for &size in &o.sizes {
        while made < size {
            let name = format!("c{made}");
            let port = format!("{}:80", 20000 + made);
            let mut extra = vec![];
            if made % 10 == 0 {
                extra.extend(["-p", port.as_str(), "--label", "app=web"]);
            }
            podnet(&argv::run_d_sleeping(&name, "app", &extra));
            made += 1;
        }
        if size == o.sizes[0] {
            podnet(&[
                "service",
                "create",
                "web",
                "--port",
                "80/tcp",
                "--selector",
                "app=web",
            ]);
        }
        // The engine in-process.
        let (root, run_dir) = (dir("PODNET_ROOT"), dir("PODNET_RUN_DIR"));
        let mut ctx = podnet::engine::Ctx::open_as(&root, &run_dir, podnet::engine::Access::Read)
            .unwrap_or_else(|e| die(&format!("open: {e}")));
        let mut took = Vec::new();
        let mut nodes = 0;
        for _ in 0..o.runs {
            let t = Instant::now();
            let g = podnet::engine::graph::graph(&mut ctx, None)
                .unwrap_or_else(|e| die(&e.to_string()));
            took.push(t.elapsed().as_secs_f64() * 1e3);
            nodes = g.nodes.len();
            assert!(g.flags.is_empty(), "flags: {:?}", g.flags);
        }
        let s = stats(&took);
        records.push(format!(
            "{size} containers ({nodes} nodes): engine::graph median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms (runs {})",
            s.median, s.p90, s.p99, s.runs
        ));
        drop(ctx);
        for format in ["json", "svg"] {
            let mut took = Vec::new();
            for _ in 0..o.runs {
                let t = Instant::now();
                podnet(&["graph", "--format", format]);
                took.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let s = stats(&took);
            records.push(format!(
                "{size} containers: `podnet graph --format {format}` median {:.1} ms, p90 {:.1} ms (runs {})",
                s.median, s.p90, s.runs
            ));
        }
        ui(o, size, &mut made, &mut records);
    }
    let text = records.join("\n") + "\n";
    std::fs::write(&inside.records, text).unwrap_or_else(|e| die(&format!("records: {e}")));
}

/// The ui at this size: idle CPU, then how far a `/events` long-poll is behind a run.
fn ui(o: &Opts, size: usize, made: &mut usize, records: &mut Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podnet"))
        .args(["ui", "--listen", "127.0.0.1:7070"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&format!("podnet ui: {e}")));
    let pid = child.id();
    let start = Instant::now();
    while get("/graph.json").is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            die("podnet ui did not come up");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Settle past the first redraws, then count its CPU over the idle window.
    std::thread::sleep(Duration::from_secs(1));
    let cpu = |pid: u32| -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let rest = stat.rsplit_once(')').map(|r| r.1).unwrap_or("");
        let f: Vec<f64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (f[11] + f[12]) / hz
    };
    let (c0, t0) = (cpu(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(o.idle_secs));
    let idle = (cpu(pid) - c0) / t0.elapsed().as_secs_f64() * 100.0;
    records.push(format!(
        "{size} containers: podnet ui idle CPU {idle:.2} % of one core over {} s",
        o.idle_secs
    ));
    let mut lag = Vec::new();
    for _ in 0..o.runs.min(10) {
        let version = version();
        let name = format!("c{made}");
        *made += 1;
        let waiter = std::thread::spawn(move || get(&format!("/events?since={version}")));
        let t = Instant::now();
        podnet(&argv::run_d_sleeping(&name, "app", &[]));
        let body = waiter.join().ok().flatten().unwrap_or_default();
        let mut answered = body.contains(&format!("container:{name}\""));
        while !answered {
            // A picture drawn between the store's commit and the kernel's veth: ask again.
            let body = get(&format!("/events?since={}", version_in(&body).max(version)))
                .unwrap_or_default();
            answered = body.contains(&format!("container:{name}\""));
        }
        lag.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let s = stats(&lag);
    records.push(format!(
        "{size} containers: page update after `podnet run -d` started: median {:.0} ms, max {:.0} ms (runs {}; the run itself is part of it)",
        s.median, s.max, s.runs
    ));
    // SAFETY: plain kill(2) of the child this function started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let _ = child.wait();
}

fn version() -> u64 {
    version_in(&get("/events?since=0").unwrap_or_default())
}

fn version_in(body: &str) -> u64 {
    body.strip_prefix("{\"version\":")
        .and_then(|r| r.split(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A GET on the ui; its body.
fn get(path: &str) -> Option<String> {
    let mut s = TcpStream::connect("127.0.0.1:7070").ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:7070\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}
