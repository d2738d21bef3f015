//! The agent (issue 10) as users meet it: how long after `podnet run -d` returns the new
//! container's name answers (and after `podnet rm -f` returns, NXDOMAIN), at an empty
//! network and again with `--containers` on it; and the agent's memory as the network fills.
//!
//! ```sh
//! cargo bench --bench agent -- [--runs 200] [--containers 1000] [--runs-full 50]
//! ```
//!
//! Runs as PID 1 of a sandbox of its own (`podnet::testbed::reexec`): one DNS network `app`
//! (10.77.0.0/16), a `client` container asking the gateway over UDP from a socket in its
//! namespace. Each probe: `podnet run -d nI`; the clock starts when it returns; the client
//! asks `nI A` (50 ms timeout per try, no pause between tries) until the answer holds nI's
//! address; then `podnet rm -f nI` and the same until NXDOMAIN. One try is one round trip
//! (~0.1 ms): a median near that means the name answered on the first try. Memory: the
//! agent's VmRSS/VmHWM (its lock file names it) at 0, 100, 500, ... containers. Hot-path
//! cost: `run -d -p`/`rm -f` on `app` against a `--dns=false` network, paired, at 1
//! container and again at `--containers`. `AGENT_BENCH_PODNET=PATH` runs another podnet
//! build (and so its agent). See docs/benchmarks.md ("The agent").

#[path = "../common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::*;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use podnet::testbed::reexec;
use podnet::testbed::thread_netns::in_netns_at;
use std::net::{IpAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const GW: &str = "10.77.0.1";

struct Opts {
    runs: usize,
    containers: usize,
    runs_full: usize,
}

const USAGE: &str =
    "cargo bench --bench agent -- [--runs 200] [--containers 1000] [--runs-full 50]";

pub(crate) fn die(msg: &str) -> ! {
    eprintln!("agent bench: {msg}");
    std::process::exit(2)
}

fn opts(args: &[String]) -> Opts {
    let mut o = Opts {
        runs: 200,
        containers: 1000,
        runs_full: 50,
    };
    each_option(args, USAGE, |flag, val| {
        let mut n = || -> usize {
            val()
                .parse()
                .unwrap_or_else(|_| die(&format!("{flag} needs a number")))
        };
        match flag {
            "--runs" => o.runs = n().clamp(1, 100_000),
            "--containers" => o.containers = n().clamp(1, 60_000),
            "--runs-full" => o.runs_full = n().clamp(1, 100_000),
            _ => return false,
        }
        true
    });
    o
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = opts(&args);
    sandboxed_main("agent", None, die, || inner(&o));
}

fn podnet(args: &[&str]) {
    let out = Command::new(podnet_bin())
        .args(args)
        .output()
        .unwrap_or_else(|e| die(&format!("podnet: {e}")));
    if !out.status.success() {
        die(&format!(
            "podnet {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
}

fn run_d(name: &str) {
    podnet(&argv::run_d_sleeping(name, "app", &[]));
}

/// What telling the agent adds to the hot path: `run -d -p` and `rm -f` on `app` (DNS) and
/// on `quiet` (`--dns=false`) back to back, alternating which goes first, `runs` times; the
/// median of the paired differences (wall time: the command waits for the agent's ack).
fn paired_cost(label: &str, runs: usize, records: &mut Vec<String>) {
    let timed = |args: &[&str]| {
        let t = Instant::now();
        podnet(args);
        t.elapsed().as_secs_f64() * 1e3
    };
    // [op][side]: op 0 run, 1 rm; side 0 quiet, 1 app.
    let mut all: [[Vec<f64>; 2]; 2] = Default::default();
    let mut diff: [Vec<f64>; 2] = Default::default();
    for i in 0..runs {
        let mut sides = [("quiet", 0usize), ("app", 1usize)];
        if i % 2 == 1 {
            sides.reverse();
        }
        let mut took = [[0.0; 2]; 2];
        for (net, side) in sides {
            let name = format!("x{side}-{i}");
            took[0][side] = timed(&argv::run_d_sleeping(&name, net, &["-p", "30001:80"]));
            took[1][side] = timed(&["rm", "-f", &name]);
            reap();
        }
        for op in 0..2 {
            diff[op].push(took[op][1] - took[op][0]);
            for side in 0..2 {
                all[op][side].push(took[op][side]);
            }
        }
    }
    for (op, what) in ["run -d -p", "rm -f -p"].iter().enumerate() {
        records.push(format!(
            "{label}: {what}: DNS network median {:.2} ms, --dns=false {:.2} ms, paired difference median {:+.2} ms (runs {runs})",
            stats(&all[op][1]).median,
            stats(&all[op][0]).median,
            stats(&diff[op]).median
        ));
    }
}

/// What one sync costs the command that waits for it: the round trip of a sync that names
/// one container (`client`: the agent reads its rows only) and of one that names none (the
/// agent reads every name), alternating, `runs` times each, against the running agent. An
/// agent that does not know the container field (an older build) reads everything for both.
fn sync_cost(label: &str, runs: usize, records: &mut Vec<String>) {
    use podnet::agent::client;
    use podnet::store::{State, Store};
    let dir =
        |k: &str| std::path::PathBuf::from(std::env::var_os(k).expect("set by reexec::enter"));
    let (root, run_dir) = (dir("PODNET_ROOT"), dir("PODNET_RUN_DIR"));
    let (root, run_dir) = (root.as_path(), run_dir.as_path());
    let store = Store::open_existing(root).unwrap_or_else(|e| die(&format!("store: {e}")));
    let id = (&store as &dyn State)
        .reads()
        .endpoint("client")
        .ok()
        .flatten()
        .unwrap_or_else(|| die("no container client"))
        .id;
    let mut took: [Vec<f64>; 2] = Default::default();
    for i in 0..runs * 2 {
        let one = i % 2;
        let t = Instant::now();
        client::sync(root, run_dir, false, (one == 1).then_some(id))
            .unwrap_or_else(|e| die(&format!("sync: {e}")));
        took[one].push(t.elapsed().as_secs_f64() * 1e3);
    }
    for (what, v) in [("every name", &took[0]), ("one container", &took[1])] {
        let s = stats(v);
        records.push(format!(
            "{label}: sync round trip, {what}: median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms (runs {})",
            s.median, s.p90, s.p99, s.runs
        ));
    }
}

/// The podnet binary under test: this build's, or `AGENT_BENCH_PODNET` (another build's, to
/// compare two builds under the same load, one run after the other).
fn podnet_bin() -> std::path::PathBuf {
    std::env::var_os("AGENT_BENCH_PODNET")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_podnet").into())
}

fn ip_of(name: &str) -> IpAddr {
    let out = Command::new(podnet_bin())
        .args(["inspect", name, "--format", "json"])
        .output()
        .unwrap_or_else(|e| die(&format!("podnet inspect: {e}")));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| die(&format!("podnet inspect {name}: {e}")));
    let v = if v.is_array() { v[0].clone() } else { v };
    v["ip"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| die(&format!("podnet inspect {name}: no ip in {v}")))
}

/// One client socket in the `client` container's namespace, asking the gateway.
struct Asker {
    sock: UdpSocket,
    id: u16,
}

impl Asker {
    fn new() -> Asker {
        let sock = in_netns_at(Path::new("/run/podnet/netns/client"), || {
            let s = UdpSocket::bind("0.0.0.0:0").expect("bind");
            s.connect((GW, 53)).expect("connect");
            s
        });
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Asker { sock, id: 0 }
    }

    /// One try: Some(addresses) for an answer (empty: NXDOMAIN or no data), None: no reply
    /// in 50 ms.
    fn ask(&mut self, name: &str) -> Option<Vec<IpAddr>> {
        self.id = self.id.wrapping_add(1);
        let mut m = Message::new(self.id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        let _ = self.sock.send(&m.to_vec().unwrap());
        let mut buf = [0u8; 1500];
        loop {
            let n = self.sock.recv(&mut buf).ok()?;
            let Ok(r) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if r.metadata.id != self.id {
                continue; // a late reply to an earlier try
            }
            return Some(
                r.answers
                    .iter()
                    .filter_map(|a| match &a.data {
                        RData::A(v4) => Some(IpAddr::V4(v4.0)),
                        _ => None,
                    })
                    .collect(),
            );
        }
    }

    /// Milliseconds from now until `done` holds for an answer, and how many tries it took.
    fn until(&mut self, name: &str, done: impl Fn(&[IpAddr]) -> bool) -> (f64, u32) {
        let start = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            if self.ask(name).is_some_and(|a| done(&a)) {
                return (start.elapsed().as_secs_f64() * 1e3, tries);
            }
            if start.elapsed() > Duration::from_secs(30) {
                die(&format!("{name}: no expected answer in 30 s"));
            }
        }
    }
}

/// `runs` times: run, time to the name; rm, time to NXDOMAIN. A record per phase.
fn probe(asker: &mut Asker, label: &str, runs: usize, records: &mut Vec<String>) {
    let (mut up, mut gone, mut first_up, mut first_gone) = (Vec::new(), Vec::new(), 0, 0);
    for i in 0..runs {
        let name = format!("p{i}");
        run_d(&name);
        let (ms, tries) = asker.until(&name, |a| !a.is_empty());
        up.push(ms);
        first_up += u32::from(tries == 1);
        podnet(&["rm", "-f", &name]);
        let (ms, tries) = asker.until(&name, |a| a.is_empty());
        gone.push(ms);
        first_gone += u32::from(tries == 1);
        reap();
    }
    for (what, v, first) in [
        ("run -> name answers", &up, first_up),
        ("rm -> NXDOMAIN", &gone, first_gone),
    ] {
        let s = stats(v);
        records.push(format!(
            "{label}: {what}: median {:.3} ms, p99 {:.3} ms, max {:.3} ms, first try {first}/{} (runs {})",
            s.median, s.p99, s.max, s.runs, s.runs
        ));
    }
}

/// The agent's pid (from its lock) and its VmRSS / VmHWM in kB and thread count.
fn agent_memory() -> (u32, u64, u64, u64) {
    let pid: u32 = std::fs::read_to_string("/run/podnet/agent.lock")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| die("no agent lock"));
    let status = format!("/proc/{pid}/status");
    let kb = |key: &str| -> u64 {
        first_line(&status, key)
            .split_whitespace()
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0)
    };
    (pid, kb("VmRSS"), kb("VmHWM"), kb("Threads"))
}

fn inner(o: &Opts) {
    let inside = reexec::enter().unwrap_or_else(|e| die(&e.to_string()));
    let mut records = Vec::new();
    podnet(&["network", "create", "app", "--subnet", "10.77.0.0/16"]);
    run_d("client");
    let mut asker = Asker::new();
    let client = ip_of("client");
    asker.until("client", |a| a == [client]);
    let (pid, rss, hwm, threads) = agent_memory();
    records.push(format!(
        "agent pid {pid} at 1 container: VmRSS {rss} kB, VmHWM {hwm} kB, {threads} threads"
    ));
    probe(&mut asker, "1 container", o.runs, &mut records);
    podnet(&[
        "network",
        "create",
        "quiet",
        "--subnet",
        "10.78.0.0/16",
        "--dns=false",
    ]);
    paired_cost("1 container", o.runs, &mut records);
    sync_cost("1 container", o.runs, &mut records);
    let mut marks: Vec<usize> = [100, 500, 1000, 2000, 5000]
        .into_iter()
        .filter(|m| *m < o.containers)
        .collect();
    marks.push(o.containers);
    let mut n = 1;
    let started = Instant::now();
    for mark in marks {
        while n < mark {
            run_d(&format!("f{n}"));
            n += 1;
        }
        let (_, rss, hwm, threads) = agent_memory();
        records.push(format!(
            "agent at {n} containers: VmRSS {rss} kB, VmHWM {hwm} kB, {threads} threads ({:.0} s of runs so far)",
            started.elapsed().as_secs_f64()
        ));
    }
    probe(
        &mut asker,
        &format!("{n} containers"),
        o.runs_full,
        &mut records,
    );
    let (_, rss, hwm, _) = agent_memory();
    records.push(format!(
        "agent after the probes at {n}: VmRSS {rss} kB, VmHWM {hwm} kB"
    ));
    // What the agent's work per sync costs once it serves many names.
    sync_cost(&format!("{n} containers"), o.runs_full, &mut records);
    paired_cost(&format!("{n} containers"), o.runs_full, &mut records);
    let text = records.join("\n") + "\n";
    std::fs::write(&inside.records, text).unwrap_or_else(|e| die(&format!("records: {e}")));
}
