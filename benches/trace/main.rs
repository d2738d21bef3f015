//! `podnet trace` end to end (issue 12): the whole command (process start, store, arming a
//! table in every namespace the packet may cross, the probe, the events, the report) for each
//! kind of path, beside floors measured in the same run.
//!
//! ```sh
//! cargo bench --bench trace -- [--runs 20]
//! ```
//!
//! Runs as PID 1 of a sandbox of its own (`podnet::testbed::reexec`). Scene: networks `app`
//! and `db`; on `app` containers a1, a2, web (`-p 8080:80`) and b1 (backend of service `api`,
//! 80/tcp → b1:8080); d1 on `db`; an uplink (a veth end holding the default route) so
//! that traffic to the outside leaves the host. Kinds, run round-robin `--runs` times each,
//! every report checked for its outcome:
//!
//! | kind | command | outcome |
//! |---|---|---|
//! | container | `trace a1 a2:80` | reached |
//! | service | `trace a1 api:80` | reached (backend b1) |
//! | published | `trace host 127.0.0.1:8080` | reached (web) |
//! | outside | `trace a1 198.18.0.9:7100` | left (masqueraded) |
//! | isolated | `trace a1 d1:80` | dropped (isolation app/db) |
//! | container6 | `trace -6 a1 a2:80` | reached |
//! | service6 | `trace -6 a1 api:80` | reached (backend b1) |
//! | published6 | `trace host [::1]:8080` | reached (web) |
//!
//! (Both networks are dual-stack, the service too.)
//! Floors, same run: `syn` the same SYN from a1 to a2:80 with nothing armed (connect() to its
//! RST, in-process), `nft` an `nft -f -` that adds and deletes an empty table (a process that
//! arms and disarms, as a shell script would), `command` `podnet network ls --format json` (a
//! podnet process start and a store read, no kernel work).
//! Target (issue 12): ≤ 200 ms for a single probe. Records: printed, and JSON lines in
//! `target/bench/trace.jsonl`. See docs/benchmarks.md ("Issue 12: podnet trace end to end").

#[path = "../common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::*;
use podnet::testbed::reexec;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Opts {
    runs: usize,
}

const USAGE: &str = "cargo bench --bench trace -- [--runs 20]";

pub(crate) fn die(msg: &str) -> ! {
    eprintln!("trace bench: {msg}");
    std::process::exit(2)
}

fn opts(args: &[String]) -> Opts {
    let mut o = Opts { runs: 20 };
    each_option(args, USAGE, |flag, val| {
        match flag {
            "--runs" => {
                o.runs = val()
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| die("--runs needs a number > 0"))
            }
            _ => return false,
        }
        true
    });
    o
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = opts(&args);
    sandboxed_main("trace", Some("trace.jsonl"), die, || inner(&o));
}

fn podnet(args: &[&str]) -> String {
    podnet_out(args, die)
}

fn sh(script: &str) {
    let ok = Command::new("sh")
        .args(["-ec", script])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        die(&format!("set-up failed: {script}"));
    }
}

/// A path kind: its name, the trace's arguments and the outcome its report must have.
struct Kind {
    name: &'static str,
    args: &'static [&'static str],
    outcome: &'static str,
}

const KINDS: [Kind; 8] = [
    Kind {
        name: "container",
        args: &["a1", "a2:80"],
        outcome: "reached",
    },
    Kind {
        name: "service",
        args: &["a1", "api:80"],
        outcome: "reached",
    },
    Kind {
        name: "published",
        args: &["host", "127.0.0.1:8080"],
        outcome: "reached",
    },
    Kind {
        name: "outside",
        args: &["a1", "198.18.0.9:7100"],
        outcome: "left",
    },
    Kind {
        name: "isolated",
        args: &["a1", "d1:80"],
        outcome: "dropped",
    },
    Kind {
        name: "container6",
        args: &["-6", "a1", "a2:80"],
        outcome: "reached",
    },
    Kind {
        name: "service6",
        args: &["-6", "a1", "api:80"],
        outcome: "reached",
    },
    Kind {
        name: "published6",
        args: &["host", "[::1]:8080"],
        outcome: "reached",
    },
];

fn scene() {
    // The uplink: one end of a veth pair holding the default route, so "outside" has a way
    // out (nobody answers for the gateway; the trace sees the packet leave through up0).
    sh(
        "ip link add up0 type veth peer name up1 && ip link set up1 up && ip link set up0 up \
        && ip addr add 198.18.0.1/24 dev up0 && ip route add default via 198.18.0.254 dev up0",
    );
    podnet(&[
        "network",
        "create",
        "app",
        "--subnet",
        "10.61.0.0/24",
        "--ipv6",
    ]);
    podnet(&[
        "network",
        "create",
        "db",
        "--subnet",
        "10.62.0.0/24",
        "--ipv6",
    ]);
    for (name, net, extra) in [
        ("a1", "app", &[][..]),
        ("a2", "app", &[]),
        ("web", "app", &["-p", "8080:80"]),
        ("b1", "app", &[]),
        ("d1", "db", &[]),
    ] {
        podnet(&argv::run_d_sleeping(name, net, extra));
    }
    podnet(&[
        "service",
        "create",
        "api",
        "--port",
        "80/tcp",
        "--backend",
        "b1:8080",
        "--ip-family",
        "dual",
    ]);
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// One `podnet trace`, timed; its report must have the kind's outcome.
fn trace(k: &Kind) -> f64 {
    let mut args = vec!["trace", "--format", "json"];
    args.extend_from_slice(k.args);
    let t = Instant::now();
    let out = podnet(&args);
    let took = ms(t);
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| die(&format!("{}: {e}: {out}", k.name)));
    if report["outcome"] != k.outcome {
        die(&format!(
            "{}: expected outcome {}, got {report:#}",
            k.name, k.outcome
        ));
    }
    took
}

/// The floor of the probe itself: a1's SYN to a2:80 (nothing listens: a2 answers with a RST),
/// connect() to its refusal, from a1's namespace, no trace armed.
fn syn_floor(a1_netns: &Path, a2: &str) -> f64 {
    let ns = podnet::kernel::netns::open(a1_netns).unwrap_or_else(|e| die(&e.to_string()));
    let _inside = podnet::kernel::netns::enter(&ns).unwrap_or_else(|e| die(&e.to_string()));
    let to: SocketAddr = format!("{a2}:80").parse().expect("an address");
    let t = Instant::now();
    match TcpStream::connect_timeout(&to, Duration::from_secs(2)) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => ms(t),
        other => die(&format!("SYN floor: expected a refusal, got {other:?}")),
    }
}

/// `nft -f -` adding and deleting an empty table: arming by script, the cheapest way.
fn nft_floor() -> f64 {
    use std::io::Write;
    let t = Instant::now();
    let mut c = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| die(&format!("nft: {e}")));
    c.stdin
        .take()
        .expect("piped")
        .write_all(b"add table inet floor\ndelete table inet floor\n")
        .unwrap_or_else(|e| die(&format!("nft stdin: {e}")));
    if !c.wait().is_ok_and(|s| s.success()) {
        die("nft -f failed");
    }
    ms(t)
}

fn command_floor() -> f64 {
    let t = Instant::now();
    podnet(&["network", "ls", "--format", "json"]);
    ms(t)
}

fn record(kind: &str, what: &str, took: &[f64]) -> String {
    let s = stats(took);
    serde_json::json!({
        "bench": "trace",
        "kind": kind,
        "what": what,
        "runs": s.runs,
        "median_ms": (s.median * 100.0).round() / 100.0,
        "p90_ms": (s.p90 * 100.0).round() / 100.0,
        "max_ms": (s.max * 100.0).round() / 100.0,
        "min_ms": (s.min * 100.0).round() / 100.0,
    })
    .to_string()
}

fn inner(o: &Opts) {
    let inside = reexec::enter().unwrap_or_else(|e| die(&e.to_string()));
    scene();
    let inspect = |name: &str| -> serde_json::Value {
        serde_json::from_str(&podnet(&["inspect", name, "--format", "json"]))
            .unwrap_or_else(|e| die(&format!("inspect {name}: {e}")))
    };
    let a1 = inspect("a1");
    let a2 = inspect("a2");
    let a1_netns = a1["netns"].as_str().unwrap_or_else(|| die("a1: no netns"));
    let a2_ip = a2["ip"].as_str().unwrap_or_else(|| die("a2: no ip"));

    // One untimed pass: the first of each kind warms caches and checks the scene.
    for k in &KINDS {
        trace(k);
    }
    let mut took: Vec<Vec<f64>> = vec![vec![]; KINDS.len()];
    let (mut syn, mut nft, mut cmd) = (vec![], vec![], vec![]);
    // Round-robin, so that load from other processes falls on every kind alike.
    for _ in 0..o.runs {
        for (i, k) in KINDS.iter().enumerate() {
            took[i].push(trace(k));
        }
        syn.push(syn_floor(Path::new(a1_netns), a2_ip));
        nft.push(nft_floor());
        cmd.push(command_floor());
    }
    let mut records = vec![];
    for (i, k) in KINDS.iter().enumerate() {
        records.push(record(
            k.name,
            &format!("podnet trace {}", k.args.join(" ")),
            &took[i],
        ));
    }
    records.push(record(
        "floor_syn",
        "a1 -> a2:80 SYN to RST, in-process, nothing armed",
        &syn,
    ));
    records.push(record(
        "floor_nft",
        "nft -f: add + delete an empty table",
        &nft,
    ));
    records.push(record(
        "floor_command",
        "podnet network ls --format json",
        &cmd,
    ));
    let text = records.join("\n") + "\n";
    std::fs::write(&inside.records, text).unwrap_or_else(|e| die(&format!("records: {e}")));
}
