//! Services benchmark: whole-process wall time of podnet's service operations with 100, 1,000
//! and 10,000 services × 10 endpoints present, the full re-load of all of them (`podnet gc`
//! after the table was deleted), and the first-packet latency (TCP connect() through a VIP from
//! a container) beside the same services in kube-proxy's iptables-mode layout.
//!
//! ```sh
//! cargo bench --bench services -- [--levels 100,1000,10000] [--trials 30] [--conns 1000] [--out FILE]
//! ```
//!
//! Everything happens in sandboxes this binary makes by re-executing itself under
//! `unshare --net --mount --pid --fork --mount-proc --propagation private` (tmpfs over `/run`,
//! sysfs remounted, own `PODNET_ROOT`), one for podnet and one for the kube-proxy layout; each
//! vanishes with everything in it when its inner process (PID 1 there) exits. The backends are
//! this binary again (`--serve PORT`: accept and close), started with `podnet run -d` in both
//! sandboxes. See `docs/benchmarks.md` ("Services") for the method and the results.

use podnet::kernel::nft::NftSocket;
use podnet::kernel::{link, netns, Rtnl};
use podnet::model::{Backend, Proto, Service, ServicePort};
use podnet::plan::services as plan;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::*;

const USAGE: &str = "\
usage: cargo bench --bench services -- [options]
  --levels LIST       services present at each measured level (default 100,1000,10000)
  --trials N          measured trials of each change op per level (default 30; 3 warm-up)
  --load-trials N     trials of the full load (gc) per level (default 5)
  --conns N           TCP connects through VIPs per level and layout (default 1000)
  --backends N        backend containers (servers), endpoints of every service (default 10)
  --only LIST         podnet,kube (default both)
  --out FILE          write JSON lines to FILE
  --strace            strace -c and -T of gc and each change op at each level (untimed;
                      files in <target>/bench/svc-strace-*.txt)
  --perf              perf record of `podnet gc` (table deleted) at the top level
                      (<target>/bench/svc-perf-gc-N.txt)
  --populate-store N  reach levels >= N by inserting the services with podnet's own store
                      functions (podnet::store::services::insert, one transaction) and then
                      `podnet gc`, instead of one `podnet service create` each (default: never;
                      creates slow down with n, see docs/benchmarks.md)
  --podnet PATH       benchmark this podnet binary (A/B runs)
  --report FILE       only print the table of an earlier run's --out file
Must run as root.";

#[derive(Debug, Clone)]
struct Opts {
    levels: Vec<usize>,
    trials: usize,
    warmup: usize,
    load_trials: usize,
    conns: usize,
    backends: usize,
    only: Vec<String>,
    out: Option<PathBuf>,
    strace: bool,
    perf: bool,
    populate_store: usize,
    podnet: Option<PathBuf>,
    report: Option<PathBuf>,
}

fn die(msg: &str) -> ! {
    eprintln!("services: {msg}\n{USAGE}");
    std::process::exit(2)
}

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let mut o = Opts {
            levels: vec![100, 1000, 10000],
            trials: 30,
            warmup: 3,
            load_trials: 5,
            conns: 1000,
            backends: 10,
            only: vec!["podnet".into(), "kube".into()],
            out: None,
            strace: false,
            perf: false,
            populate_store: usize::MAX,
            podnet: None,
            report: None,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || {
                it.next()
                    .cloned()
                    .unwrap_or_else(|| die(&format!("{a} needs a value")))
            };
            match a.as_str() {
                "--bench" => {}
                "--levels" => o.levels = list("--levels", &val()),
                "--trials" => o.trials = list("--trials", &val())[0],
                "--warmup" => o.warmup = list("--warmup", &val())[0],
                "--load-trials" => o.load_trials = list("--load-trials", &val())[0],
                "--conns" => o.conns = list("--conns", &val())[0],
                "--backends" => o.backends = list("--backends", &val())[0],
                "--only" => o.only = list("--only", &val()),
                "--out" => o.out = Some(PathBuf::from(val())),
                "--strace" => o.strace = true,
                "--perf" => o.perf = true,
                "--populate-store" => o.populate_store = list("--populate-store", &val())[0],
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
        if o.levels.is_empty() || o.levels[0] < 2 || o.backends == 0 || o.backends > 200 {
            die("levels must be >= 2 (one is the probe service); 1..=200 backends");
        }
        o
    }
    fn has(&self, part: &str) -> bool {
        self.only.iter().any(|p| p == part)
    }
}

// ------------------------------------------------------------------------------- stats ---

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A small deterministic PRNG (xorshift64*): which VIP each connection goes to.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

// ------------------------------------------------------------------------ entry point ---

const INNER: &str = "PODNET_SVCBENCH_INNER";
const HOST_NETNS: &str = "PODNET_SVCBENCH_HOST_NETNS";
const RECORDS: &str = "PODNET_SVCBENCH_RECORDS";
const STATE: &str = "PODNET_SVCBENCH_STATE";

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
    match std::env::var(INNER).as_deref() {
        Ok("podnet") => inner_podnet(&opts),
        Ok("kube") => inner_kube(&opts),
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
    let exe = std::env::current_exe().expect("current_exe");
    let mut recs = vec![machine.clone()];
    for part in ["podnet", "kube"] {
        if !opts.has(part) {
            continue;
        }
        let records = dir.join(format!("svc-{part}-{}.jsonl", std::process::id()));
        let state = dir.join(format!("svc-state-{part}-{}", std::process::id()));
        let _ = fs::remove_file(&records);
        let status = Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--propagation",
                "private",
            ])
            .arg(&exe)
            .args(args)
            .env(INNER, part)
            .env(HOST_NETNS, netns_inode().to_string())
            .env(RECORDS, &records)
            .env(STATE, &state)
            .status()
            .expect("run unshare (util-linux)");
        let _ = fs::remove_dir_all(&state);
        // Records are written as they are made: a failed run keeps what it measured.
        recs.extend(
            fs::read_to_string(&records)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
        let _ = fs::remove_file(&records);
        if !status.success() {
            eprintln!("services: the {part} sandbox failed: {status}");
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

// ---------------------------------------------------------------------------- report ---

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

fn level_of(v: &Value) -> Option<usize> {
    v.get("n").and_then(Value::as_u64).map(|n| n as usize)
}

fn find<'a>(recs: &'a [Value], tool: &str, op: &str, n: usize) -> Option<&'a Value> {
    recs.iter()
        .find(|r| r["tool"] == tool && r["op"] == op && level_of(r) == Some(n))
}

fn med(recs: &[Value], tool: &str, op: &str, n: usize) -> Option<f64> {
    find(recs, tool, op, n).and_then(|r| num(r, "median"))
}

fn report(recs: &[Value]) -> String {
    let mut t = String::new();
    let mut line = |s: String| {
        t.push_str(&s);
        t.push('\n');
    };
    let mut levels: Vec<usize> = recs.iter().filter_map(level_of).collect();
    levels.sort_unstable();
    levels.dedup();
    let fmt = |x: Option<f64>| x.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
    line(format!(
        "{:<44} {:>6} {:>10} {:>10} {:>10} {:>5}  {}",
        "op", "n", "median", "p90", "p99", "runs", "unit / ratio"
    ));
    let groups: &[(&str, &str, &str)] = &[
        (
            "podnet",
            "create_populate",
            "podnet service create (populating)",
        ),
        (
            "podnet",
            "gc_from_nothing",
            "podnet gc, table ip podnet-svc deleted",
        ),
        ("podnet", "gc_present", "podnet gc, table present"),
        (
            "floor",
            "full_inprocess",
            "floor: plan::full + apply in-process",
        ),
        (
            "kube",
            "iptables_restore",
            "kube-proxy layout: iptables-restore",
        ),
        ("podnet", "svc_add", "podnet service create (1 more)"),
        ("podnet", "svc_rm", "podnet service rm"),
        (
            "podnet",
            "ep_add_attach",
            "podnet attach -l app=probe (1 svc +1 ep)",
        ),
        ("podnet", "ctl_attach", "  control: attach -l app=none"),
        (
            "podnet",
            "ep_del_detach",
            "podnet detach of it (1 svc -1 ep)",
        ),
        ("podnet", "ctl_detach", "  control: detach (no service)"),
        (
            "podnet",
            "ep_add_run",
            "podnet run -d -l app=probe (1 svc +1 ep)",
        ),
        ("podnet", "ctl_run", "  control: run -d -l app=none"),
        ("podnet", "ep_del_rm", "podnet rm -f of it (1 svc -1 ep)"),
        ("podnet", "ctl_rm", "  control: rm -f (no service)"),
        (
            "floor",
            "add_inprocess",
            "floor: add_service apply in-process",
        ),
        (
            "floor",
            "rm_inprocess",
            "floor: remove_service apply in-process",
        ),
        ("floor", "version", "floor: podnet --version"),
        ("floor", "true", "floor: /bin/true"),
        (
            "podnet",
            "connect_vip",
            "connect() via VIP, podnet (bucket maps)",
        ),
        (
            "podnet",
            "connect_direct",
            "  same sandbox, direct to backend",
        ),
        (
            "kube",
            "connect_vip",
            "connect() via VIP, kube-proxy iptables",
        ),
        (
            "kube",
            "connect_direct",
            "  same sandbox, direct to backend",
        ),
    ];
    for (tool, op, label) in groups {
        for &n in &levels {
            let Some(r) = find(recs, tool, op, n) else {
                continue;
            };
            let unit = r["unit"].as_str().unwrap_or("ms");
            let mut extra = unit.to_string();
            if let Some(f) = num(r, "failures").filter(|f| *f > 0.0) {
                extra.push_str(&format!(", {f} failed"));
            }
            // Ratios: change ops to the bare process floor; VIP connects to direct ones.
            let base = match *op {
                "connect_vip" => med(recs, tool, "connect_direct", n),
                "svc_add" | "svc_rm" => med(recs, "floor", "version", n),
                "ep_add_attach" => med(recs, tool, "ctl_attach", n),
                "ep_del_detach" => med(recs, tool, "ctl_detach", n),
                "ep_add_run" => med(recs, tool, "ctl_run", n),
                "ep_del_rm" => med(recs, tool, "ctl_rm", n),
                _ => None,
            };
            if let (Some(b), Some(m)) = (base, num(r, "median")) {
                let what = match *op {
                    "connect_vip" => "direct",
                    "svc_add" | "svc_rm" => "--version",
                    _ => "control",
                };
                extra.push_str(&format!(", {:+.3} vs {what}", m - b));
            }
            line(format!(
                "{:<44} {:>6} {:>10} {:>10} {:>10} {:>5}  {}",
                label,
                n,
                fmt(num(r, "median")),
                fmt(num(r, "p90")),
                fmt(num(r, "p99")),
                r["runs"].as_u64().unwrap_or(0),
                extra
            ));
        }
    }

    // Targets.
    line(String::new());
    line("targets:".into());
    let top = levels.iter().copied().max();
    if let Some(top) = top {
        if let Some(m) = med(recs, "podnet", "gc_from_nothing", top) {
            line(format!(
                "  full load of {top} services (podnet gc from nothing) <= 1000 ms: {} ({m:.1} ms median)",
                if m <= 1000.0 { "MET" } else { "NOT MET" }
            ));
        }
        for (op, what) in [
            ("svc_add", "add one service"),
            ("svc_rm", "remove one service"),
            ("ep_add_run", "one endpoint added (run -d, incl. container)"),
            ("ep_del_rm", "one endpoint removed (rm -f, incl. container)"),
            ("ep_add_attach", "one endpoint added (attach, incl. veth)"),
            (
                "ep_del_detach",
                "one endpoint removed (detach, incl. veth delete)",
            ),
        ] {
            if let Some(m) = med(recs, "podnet", op, top) {
                line(format!(
                    "  {what} at n={top} <= 5 ms: {} ({m:.2} ms median)",
                    if m <= 5.0 { "MET" } else { "NOT MET" }
                ));
            }
        }
    }
    for tool in ["podnet", "kube"] {
        let ms: Vec<(usize, f64)> = levels
            .iter()
            .filter_map(|&n| med(recs, tool, "connect_vip", n).map(|m| (n, m)))
            .collect();
        if ms.len() > 1 {
            let base = ms[0].1;
            let dev = ms
                .iter()
                .map(|x| (x.1 / base - 1.0) * 100.0)
                .fold(0.0f64, |a, d| if d.abs() > a.abs() { d } else { a });
            line(format!(
                "  {tool} connect() via VIP flat within ±20% of n={}: {} (largest change {dev:+.0}%; medians {})",
                ms[0].0,
                if dev.abs() <= 20.0 { "MET" } else { "NOT MET" },
                ms.iter()
                    .map(|(n, m)| format!("{n}: {m:.1} µs"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    t
}

// ----------------------------------------------------------------------------- inner ---

/// Run a command; wall time from spawn to reaped exit in ms, and its stdout. Panics on
/// failure (a benchmark of a failing command is meaningless).
fn run_out(argv: &[&str]) -> (f64, Vec<u8>) {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
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
    (ms, out.stdout)
}

fn timed(argv: &[&str]) -> f64 {
    run_out(argv).0
}

fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

fn sandbox_setup() {
    let host: u64 = std::env::var(HOST_NETNS)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("outer process passes its netns inode");
    assert_ne!(
        netns_inode(),
        host,
        "still in the machine's network namespace: refusing"
    );
    assert_eq!(
        std::process::id(),
        1,
        "expected to be PID 1 of a new PID namespace"
    );
    use nix::mount::{mount, MsFlags};
    mount(
        Some("podnet-svcbench-run"),
        "/run",
        Some("tmpfs"),
        MsFlags::empty(),
        Some("mode=755"),
    )
    .expect("tmpfs over /run");
    mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .expect("remount sysfs for the new netns");
    fs::create_dir_all("/run/netns").expect("mkdir /run/netns");
    let mut host = Rtnl::open().expect("rtnetlink");
    let links = link::list(&mut host).expect("list links");
    let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        ["lo"],
        "unexpected interfaces in a fresh sandbox: refusing"
    );
    link::set_up_by_name(&mut host, "lo").expect("lo up");
    let state = PathBuf::from(std::env::var(STATE).expect("state dir"));
    fs::create_dir_all(&state).expect("create state dir");
    // Set before any thread exists.
    std::env::set_var("PODNET_ROOT", &state);
    std::env::set_var("PODNET_RUN_DIR", "/run/podnet");
}

/// `podnet ARGS --format json`, parsed (untimed).
fn podnet_json(podnet: &str, args: &[&str]) -> Value {
    let mut argv = vec![podnet];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--format", "json"]);
    serde_json::from_slice(&run_out(&argv).1).expect("podnet prints JSON")
}

fn ip_of(podnet: &str, name: &str) -> Ipv4Addr {
    let v = podnet_json(podnet, &["inspect", name]);
    let s = v["ip"].as_str().expect("container has an address");
    s.split('/').next().unwrap().parse().expect("IPv4 address")
}

/// Records, appended to the records file as they are made (a crash keeps what was measured).
struct Recorder {
    file: File,
}

impl Recorder {
    fn new() -> Recorder {
        let path = std::env::var(RECORDS).expect("records path");
        Recorder {
            file: File::options()
                .create(true)
                .append(true)
                .open(path)
                .expect("open records file"),
        }
    }

    fn record(&mut self, tool: &str, op: &str, n: usize, unit: &str, v: &[f64], extra: Value) {
        if v.is_empty() {
            return;
        }
        let s = stats(v);
        let mut r = json!({
            "tool": tool, "op": op, "n": n, "unit": unit, "runs": s.runs,
            "median": r3(s.median), "p90": r3(s.p90), "p99": r3(s.p99),
            "min": r3(s.min), "max": r3(s.max), "mean": r3(s.mean),
            "loadavg": loadavg(),
        });
        if let (Value::Object(r), Value::Object(e)) = (&mut r, extra) {
            r.extend(e);
        }
        eprintln!(
            "  {tool:<7} {op:<18} n={n:<6} median {:>9.3} {unit}  p90 {:>9.3}  p99 {:>9.3}  (min {:.3}, max {:.3})",
            s.median, s.p90, s.p99, s.min, s.max
        );
        writeln!(self.file, "{r}").expect("write records");
    }
}

/// Run `f` on a new thread that has entered the network namespace at `ns`.
fn in_netns<T: Send + 'static>(ns: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = File::open(ns).expect("open netns");
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("netns thread")
}

/// Wait until every backend accepts a connection from the client's namespace.
fn wait_backends(client_ns: &Path, backends: &[Ipv4Addr]) {
    let bs = backends.to_vec();
    in_netns(client_ns, move || {
        for ip in bs {
            let deadline = Instant::now() + Duration::from_secs(10);
            let a = SocketAddr::from((ip, 8080));
            while TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_err() {
                assert!(Instant::now() < deadline, "backend {ip}:8080 not up");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
}

/// `conns` TCP connects from the client namespace: each to a random VIP (port 80) and, right
/// after, one direct to a random backend (8080). Returns (vip µs, direct µs, failures each).
fn connects(
    client_ns: &Path,
    vips: &[Ipv4Addr],
    backends: &[Ipv4Addr],
    conns: usize,
    seed: u64,
) -> (Vec<f64>, Vec<f64>, usize, usize) {
    let (vips, bs) = (vips.to_vec(), backends.to_vec());
    in_netns(client_ns, move || {
        let mut rng = Rng(seed | 1);
        let (mut v, mut d, mut fv, mut fd) = (Vec::new(), Vec::new(), 0, 0);
        let one = |a: SocketAddr, out: &mut Vec<f64>, fails: &mut usize| {
            let t0 = Instant::now();
            match TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
                Ok(s) => {
                    out.push(t0.elapsed().as_secs_f64() * 1e6);
                    drop(s);
                }
                Err(_) => *fails += 1,
            }
        };
        // Warm-up (ARP, caches), not recorded.
        for i in 0..20 {
            let _ = TcpStream::connect_timeout(
                &SocketAddr::from((vips[i % vips.len()], 80)),
                Duration::from_secs(3),
            );
            let _ = TcpStream::connect_timeout(
                &SocketAddr::from((bs[i % bs.len()], 8080)),
                Duration::from_secs(3),
            );
        }
        for _ in 0..conns {
            let vip = vips[rng.below(vips.len())];
            one(SocketAddr::from((vip, 80)), &mut v, &mut fv);
            let b = bs[rng.below(bs.len())];
            one(SocketAddr::from((b, 8080)), &mut d, &mut fd);
        }
        (v, d, fv, fd)
    })
}

/// Start the backends (`podnet run -d` of this binary in `--serve 8080` mode) and a client
/// container (attach of a pre-made namespace); returns (backend IPs, client netns path).
fn backends_and_client(podnet: &str, n: usize) -> (Vec<Ipv4Addr>, PathBuf) {
    let exe = std::env::current_exe().expect("current_exe");
    let exe = exe.to_string_lossy().into_owned();
    let mut ips = Vec::new();
    for k in 0..n {
        let name = format!("b{k}");
        timed(&[
            podnet,
            "run",
            "-d",
            "--name",
            &name,
            "-l",
            "role=backend",
            "--",
            &exe,
            "--serve",
            "8080",
        ]);
        ips.push(ip_of(podnet, &name));
    }
    let client = PathBuf::from("/run/netns/client");
    netns::create(&client).expect("create client netns");
    timed(&[
        podnet,
        "attach",
        "--netns",
        "/run/netns/client",
        "--name",
        "client",
    ]);
    wait_backends(&client, &ips);
    (ips, client)
}

fn svc(name: &str, vip: Ipv4Addr) -> Service {
    Service {
        name: name.into(),
        vip,
        ports: vec![ServicePort {
            port: 80,
            target_port: 8080,
            proto: Proto::Tcp,
            node_port: None,
        }],
        affinity_timeout: None,
    }
}

struct Podnet {
    podnet: &'static str,
    seq: usize,
    rec: Recorder,
    backend_ips: Vec<Ipv4Addr>,
    backend_args: Vec<String>,
    probe_ips: Vec<Ipv4Addr>,
    probe_vip: Ipv4Addr,
    /// VIPs of the bulk services s0, s1, ... in creation order.
    vips: Vec<Ipv4Addr>,
    client: PathBuf,
    dir: PathBuf,
}

const SETTLE: Duration = Duration::from_millis(10);

impl Podnet {
    fn next(&mut self) -> usize {
        self.seq += 1;
        self.seq
    }

    /// Services present: the probe service + the bulk ones.
    fn count(&self) -> usize {
        1 + self.vips.len()
    }

    fn create_bulk(&mut self) -> f64 {
        let name = format!("s{}", self.vips.len());
        let mut argv: Vec<&str> = vec![
            self.podnet,
            "service",
            "create",
            &name,
            "--port",
            "80:8080/tcp",
            "--format",
            "json",
        ];
        argv.extend(self.backend_args.iter().map(String::as_str));
        let (ms, out) = run_out(&argv);
        let v: Value = serde_json::from_slice(&out).expect("service create prints JSON");
        let vip = v["vip"].as_str().and_then(|s| s.parse().ok()).expect("vip");
        self.vips.push(vip);
        ms
    }

    /// Reach `n` services with podnet's own store functions in one transaction (the same rows
    /// `service create` writes, VIPs allocated the same way), then `podnet gc` programs them.
    fn populate_store(&mut self, n: usize) {
        use podnet::store::services as rows;
        let t0 = Instant::now();
        let from = self.count();
        let root = PathBuf::from(std::env::var("PODNET_ROOT").expect("PODNET_ROOT"));
        let mut store = podnet::store::Store::open(&root).expect("open podnet store");
        let explicit: Vec<(String, Option<u16>)> = (0..self.backend_ips.len())
            .map(|k| (format!("b{k}"), None))
            .collect();
        let range = podnet::model::service::default_service_range();
        let (lo, hi) = (
            std::net::Ipv4Addr::from(u32::from(range.network()) + 1).into(),
            std::net::Ipv4Addr::from(u32::from(range.broadcast()) - 1).into(),
        );
        let vips = store
            .write(|tx| {
                let mut vips = Vec::new();
                for i in self.vips.len()..n - 1 {
                    let vip = match rows::vip_after_highest(tx, lo, hi)? {
                        Some(std::net::IpAddr::V4(v)) => v,
                        _ => panic!("service range full"),
                    };
                    rows::insert(tx, &svc(&format!("s{i}"), vip), None, &explicit)?;
                    vips.push(vip);
                }
                Ok(vips)
            })
            .expect("insert services");
        drop(store);
        self.vips.extend(vips);
        let ins = t0.elapsed().as_secs_f64();
        let gc = timed(&[self.podnet, "gc"]);
        eprintln!(
            "level n={n}: {} services ({} inserted through podnet::store in {ins:.1} s, then podnet gc {gc:.0} ms)",
            self.count(),
            self.count() - from
        );
    }

    fn populate(&mut self, n: usize) {
        let t0 = Instant::now();
        let mut times = Vec::new();
        while self.count() < n {
            times.push(self.create_bulk());
            if times.len() % 1000 == 0 {
                let last = &times[times.len() - 1000..];
                eprintln!(
                    "  populating: {} services, last 1000 creates median {:.2} ms",
                    self.count(),
                    stats(last).median
                );
            }
        }
        eprintln!(
            "level n={n}: {} services (populating took {:.1} s)",
            self.count(),
            t0.elapsed().as_secs_f64()
        );
        let from = n - times.len();
        self.rec.record(
            "podnet",
            "create_populate",
            n,
            "ms",
            &times,
            json!({"from_n": from}),
        );
    }

    /// Every service as podnet programs it, for the in-process floor.
    fn all_services(&self) -> Vec<(Service, Vec<Backend>)> {
        let be = |ips: &[Ipv4Addr]| {
            plan::canonical(&ips.iter().map(|ip| Backend::new(*ip)).collect::<Vec<_>>())
        };
        let mut out = vec![(svc("probe", self.probe_vip), be(&self.probe_ips))];
        for (i, vip) in self.vips.iter().enumerate() {
            out.push((svc(&format!("s{i}"), *vip), be(&self.backend_ips)));
        }
        out
    }

    fn delete_table(&self) {
        let mut s = NftSocket::open().expect("nft socket");
        s.apply(&plan::delete_all()).expect("delete ip podnet-svc");
    }

    /// One VIP connection must work (sanity after a re-load).
    fn check_traffic(&self) {
        let (v, _, fv, _) = connects(
            &self.client,
            &self.vips[..1],
            &self.backend_ips,
            3,
            self.seq as u64,
        );
        assert!(fv == 0 && v.len() == 3, "VIP traffic fails after a re-load");
    }

    fn full_load(&mut self, n: usize, trials: usize) {
        let all = self.all_services();
        let (mut gc0, mut gc1, mut floor) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..trials {
            self.delete_table();
            std::thread::sleep(Duration::from_millis(50));
            gc0.push(timed(&[self.podnet, "gc"]));
            self.check_traffic();
            std::thread::sleep(Duration::from_millis(50));
            gc1.push(timed(&[self.podnet, "gc"]));
            std::thread::sleep(Duration::from_millis(50));
            self.delete_table();
            std::thread::sleep(Duration::from_millis(50));
            let b = plan::full(&all);
            let mut s = NftSocket::open().expect("nft socket");
            let t0 = Instant::now();
            s.apply(&b).expect("apply full");
            floor.push(ms_since(t0));
            drop(s);
            // Leave the kernel as podnet itself programmed it.
            timed(&[self.podnet, "gc"]);
            std::thread::sleep(Duration::from_millis(50));
        }
        self.rec
            .record("podnet", "gc_from_nothing", n, "ms", &gc0, json!({}));
        self.rec
            .record("podnet", "gc_present", n, "ms", &gc1, json!({}));
        self.rec.record(
            "floor",
            "full_inprocess",
            n,
            "ms",
            &floor,
            json!({"elements": all.len() * 11}),
        );
    }

    fn probe_backends(&self) -> usize {
        podnet_json(self.podnet, &["service", "inspect", "probe"])["backends"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    }

    fn changes(&mut self, n: usize, trials: usize, warmup: usize) {
        let mut ops: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
        let p = self.podnet;
        let sizes: BTreeSet<usize> = [self.backend_ips.len(), self.probe_ips.len()].into();
        let tmp_backends: Vec<Backend> =
            self.backend_ips.iter().map(|i| Backend::new(*i)).collect();
        for trial in 0..warmup + trials {
            let keep = trial >= warmup;
            let mut m: Vec<(&str, f64)> = Vec::new();
            // Add and remove one service (same backends as the bulk ones).
            let name = format!("tmp{}", self.next());
            let mut argv: Vec<&str> = vec![p, "service", "create", &name, "--port", "80:8080/tcp"];
            argv.extend(self.backend_args.iter().map(String::as_str));
            m.push(("svc_add", timed(&argv)));
            std::thread::sleep(SETTLE);
            m.push(("svc_rm", timed(&[p, "service", "rm", &name])));
            std::thread::sleep(SETTLE);
            // One endpoint of exactly one service (probe: selector app=probe) comes and goes;
            // the control does the same container work with a label no service selects.
            for (label, add, del) in [
                ("app=probe", "ep_add_attach", "ep_del_detach"),
                ("app=none", "ctl_attach", "ctl_detach"),
            ] {
                let c = format!("q{}", self.next());
                let ns = PathBuf::from(format!("/run/netns/{c}"));
                netns::create(&ns).expect("netns");
                let ns_s = ns.to_string_lossy().into_owned();
                m.push((
                    add,
                    timed(&[p, "attach", "--netns", &ns_s, "--name", &c, "-l", label]),
                ));
                if trial == 0 && label == "app=probe" {
                    assert_eq!(self.probe_backends(), self.probe_ips.len() + 1);
                }
                std::thread::sleep(SETTLE);
                m.push((del, timed(&[p, "detach", &c])));
                netns::remove(&ns).expect("remove netns");
                std::thread::sleep(SETTLE);
            }
            for (label, add, del) in [
                ("app=probe", "ep_add_run", "ep_del_rm"),
                ("app=none", "ctl_run", "ctl_rm"),
            ] {
                let c = format!("r{}", self.next());
                m.push((
                    add,
                    timed(&[
                        p, "run", "-d", "--name", &c, "-l", label, "--", "sleep", "infinity",
                    ]),
                ));
                if trial == 0 && label == "app=probe" {
                    assert_eq!(self.probe_backends(), self.probe_ips.len() + 1);
                }
                std::thread::sleep(SETTLE);
                m.push((del, timed(&[p, "rm", "-f", &c])));
                reap();
                std::thread::sleep(SETTLE);
            }
            if trial == 0 {
                assert_eq!(self.probe_backends(), self.probe_ips.len());
            }
            // In-process floor of the add/remove transactions (a VIP no service uses).
            {
                let s = svc("floor", Ipv4Addr::new(10, 43, 255, 250));
                let mut sock = NftSocket::open().expect("nft socket");
                let b = plan::add_service(&s, &tmp_backends, &sizes);
                let t0 = Instant::now();
                sock.apply(&b).expect("floor add");
                m.push(("add_inprocess", ms_since(t0)));
                let b = plan::remove_service(&s, &tmp_backends);
                let t0 = Instant::now();
                sock.apply(&b).expect("floor rm");
                m.push(("rm_inprocess", ms_since(t0)));
            }
            m.push(("version", timed(&[p, "--version"])));
            m.push(("true", timed(&["/bin/true"])));
            std::thread::sleep(SETTLE);
            if keep {
                for (k, x) in m {
                    ops.entry(k).or_default().push(x);
                }
            }
        }
        for (k, xs) in &ops {
            let tool = if k.ends_with("inprocess") || *k == "version" || *k == "true" {
                "floor"
            } else {
                "podnet"
            };
            self.rec.record(tool, k, n, "ms", xs, json!({}));
        }
    }

    fn traffic(&mut self, n: usize, conns: usize) {
        let (v, d, fv, fd) = connects(&self.client, &self.vips, &self.backend_ips, conns, 42);
        self.rec.record(
            "podnet",
            "connect_vip",
            n,
            "µs",
            &v,
            json!({"failures": fv, "vips": self.vips.len()}),
        );
        self.rec.record(
            "podnet",
            "connect_direct",
            n,
            "µs",
            &d,
            json!({"failures": fd}),
        );
    }

    fn strace(&mut self, n: usize) {
        let p = self.podnet;
        let dir = self.dir.clone();
        let st = |file: &str, mode: &str, argv: &[&str]| {
            let out = dir.join(format!("svc-strace-{file}-{mode}-n{n}.txt"));
            let o = out.to_string_lossy().into_owned();
            // -b execve: follow podnet's threads and forks, not the container command it starts
            // (`sleep infinity` would keep strace waiting forever).
            let mut full = vec!["strace", "-f", "-b", "execve", "-o", &o];
            if mode == "c" {
                full.extend_from_slice(&["-c", "-w"]);
            } else {
                full.extend_from_slice(&["-tt", "-T"]);
            }
            full.extend_from_slice(argv);
            timed(&full);
        };
        for mode in ["c", "T"] {
            self.delete_table();
            st("gc-from-nothing", mode, &[p, "gc"]);
            let name = format!("tmp{}", self.next());
            let mut argv: Vec<&str> = vec![p, "service", "create", &name, "--port", "80:8080/tcp"];
            argv.extend(self.backend_args.iter().map(String::as_str));
            st("svc-add", mode, &argv);
            st("svc-rm", mode, &[p, "service", "rm", &name]);
            let c = format!("r{}", self.next());
            st(
                "ep-add-run",
                mode,
                &[
                    p,
                    "run",
                    "-d",
                    "--name",
                    &c,
                    "-l",
                    "app=probe",
                    "--",
                    "sleep",
                    "infinity",
                ],
            );
            st("ep-del-rm", mode, &[p, "rm", "-f", &c]);
            reap();
        }
    }

    fn perf(&mut self, n: usize) {
        let data = self.dir.join(format!("svc-perf-gc-n{n}.data"));
        let d = data.to_string_lossy().into_owned();
        self.delete_table();
        let r = Command::new("perf")
            .args([
                "record",
                "-F",
                "4999",
                "-g",
                "-o",
                &d,
                "--",
                self.podnet,
                "gc",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(r, Ok(s) if s.success()) {
            eprintln!("perf record failed: {r:?}");
            timed(&[self.podnet, "gc"]);
            return;
        }
        let txt = self.dir.join(format!("svc-perf-gc-n{n}.txt"));
        for (suffix, extra) in [
            ("", vec!["--no-children", "--sort", "dso,symbol"]),
            ("-children", vec!["--children", "--sort", "symbol"]),
        ] {
            let out = Command::new("perf")
                .args([
                    "report",
                    "--stdio",
                    "-i",
                    &d,
                    "-g",
                    "none",
                    "--percent-limit",
                    "0.5",
                ])
                .args(&extra)
                .output();
            if let Ok(o) = out {
                let f = txt.with_extension(format!("txt{suffix}"));
                let _ = fs::write(&f, &o.stdout);
                eprintln!("perf report: {}", f.display());
            }
        }
    }
}

fn inner_podnet(opts: &Opts) {
    sandbox_setup();
    let podnet: &'static str = Box::leak(podnet_bin(opts).into_boxed_str());
    eprintln!(
        "podnet sandbox ready (netns inode {}), podnet = {podnet}",
        netns_inode()
    );
    let (backend_ips, client) = backends_and_client(podnet, opts.backends);
    // The probe service: selector app=probe over its own containers (no servers needed), the
    // one service that the endpoint-change ops touch.
    let mut probe_ips = Vec::new();
    for k in 0..opts.backends {
        let name = format!("p{k}");
        let ns = format!("/run/netns/{name}");
        netns::create(Path::new(&ns)).expect("netns");
        timed(&[
            podnet,
            "attach",
            "--netns",
            &ns,
            "--name",
            &name,
            "-l",
            "app=probe",
        ]);
        probe_ips.push(ip_of(podnet, &name));
    }
    let v = podnet_json(
        podnet,
        &[
            "service",
            "create",
            "probe",
            "--port",
            "80:8080/tcp",
            "--selector",
            "app=probe",
        ],
    );
    let probe_vip = v["vip"].as_str().unwrap().parse().unwrap();
    let backend_args = (0..opts.backends)
        .flat_map(|k| ["--backend".to_string(), format!("b{k}")])
        .collect();
    let mut pn = Podnet {
        podnet,
        seq: 0,
        rec: Recorder::new(),
        backend_ips,
        backend_args,
        probe_ips,
        probe_vip,
        vips: Vec::new(),
        client,
        dir: PathBuf::from(std::env::var(RECORDS).unwrap())
            .parent()
            .unwrap()
            .to_path_buf(),
    };
    let top = *opts.levels.last().unwrap();
    for &n in &opts.levels {
        if n >= opts.populate_store {
            pn.populate_store(n);
        } else {
            pn.populate(n);
        }
        std::thread::sleep(Duration::from_millis(300));
        pn.traffic(n, opts.conns);
        pn.changes(n, opts.trials, opts.warmup);
        pn.full_load(n, opts.load_trials);
        if opts.strace {
            pn.strace(n);
        }
        if opts.perf && n == top {
            pn.perf(n);
        }
    }
}

// ------------------------------------------------------------------ kube-proxy layout ---

/// A stable 16-hex-digit name part, as kube-proxy's base32 hashes.
fn hash16(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// `iptables-restore` input for `vips` services, each with every backend as an endpoint, as
/// kube-proxy's iptables mode writes the nat table (proxier.go: KUBE-SERVICES → KUBE-SVC-* →
/// KUBE-SEP-* with `statistic --probability 1/(n-i)`, KUBE-MARK-MASQ, KUBE-POSTROUTING).
fn kube_rules(vips: &[Ipv4Addr], eps: &[Ipv4Addr], cluster_cidr: &str) -> String {
    use std::fmt::Write as _;
    let mut chains = String::new();
    let mut rules = String::new();
    let c = &mut chains;
    let r = &mut rules;
    for ch in [
        "KUBE-SERVICES",
        "KUBE-NODEPORTS",
        "KUBE-POSTROUTING",
        "KUBE-MARK-MASQ",
    ] {
        writeln!(c, ":{ch} - [0:0]").unwrap();
    }
    writeln!(
        r,
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
    )
    .unwrap();
    writeln!(
        r,
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
    )
    .unwrap();
    writeln!(
        r,
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
    )
    .unwrap();
    writeln!(r, "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000").unwrap();
    writeln!(
        r,
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
    )
    .unwrap();
    writeln!(r, "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000").unwrap();
    writeln!(r, "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully").unwrap();
    let n = eps.len();
    for (i, vip) in vips.iter().enumerate() {
        let sname = format!("default/s{i}:http");
        let svc = format!("KUBE-SVC-{}", hash16(&sname));
        writeln!(c, ":{svc} - [0:0]").unwrap();
        writeln!(r, "-A KUBE-SERVICES -d {vip}/32 -p tcp -m comment --comment \"{sname} cluster IP\" -m tcp --dport 80 -j {svc}").unwrap();
        writeln!(r, "-A {svc} ! -s {cluster_cidr} -d {vip}/32 -p tcp -m comment --comment \"{sname} cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ").unwrap();
        for (k, ep) in eps.iter().enumerate() {
            let sep = format!("KUBE-SEP-{}", hash16(&format!("{sname}{ep}")));
            writeln!(c, ":{sep} - [0:0]").unwrap();
            if k + 1 < n {
                writeln!(r, "-A {svc} -m comment --comment \"{sname} -> {ep}:8080\" -m statistic --mode random --probability {:.10} -j {sep}", 1.0 / (n - k) as f64).unwrap();
            } else {
                writeln!(
                    r,
                    "-A {svc} -m comment --comment \"{sname} -> {ep}:8080\" -j {sep}"
                )
                .unwrap();
            }
            writeln!(
                r,
                "-A {sep} -s {ep}/32 -m comment --comment \"{sname}\" -j KUBE-MARK-MASQ"
            )
            .unwrap();
            writeln!(r, "-A {sep} -p tcp -m comment --comment \"{sname}\" -m tcp -j DNAT --to-destination {ep}:8080").unwrap();
        }
    }
    writeln!(r, "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS").unwrap();
    format!(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n{chains}{rules}COMMIT\n"
    )
}

fn inner_kube(opts: &Opts) {
    sandbox_setup();
    let podnet: &'static str = Box::leak(podnet_bin(opts).into_boxed_str());
    eprintln!(
        "kube-proxy-layout sandbox ready (netns inode {}); containers by podnet, no podnet service",
        netns_inode()
    );
    let (backend_ips, client) = backends_and_client(podnet, opts.backends);
    let net = podnet_json(podnet, &["network", "inspect", "podnet0"]);
    let cidr = net["subnet"].as_str().expect("subnet").to_string();
    let mut rec = Recorder::new();
    // The same VIPs podnet allocates (10.43.0.1 is the probe service there; bulk from .2).
    let base = u32::from(Ipv4Addr::new(10, 43, 0, 2));
    let rules_file = PathBuf::from("/run/kube-rules.txt");
    for &n in &opts.levels {
        let vips: Vec<Ipv4Addr> = (0..n as u32 - 1)
            .map(|i| Ipv4Addr::from(base + i))
            .collect();
        fs::write(&rules_file, kube_rules(&vips, &backend_ips, &cidr)).expect("write rules");
        let t0 = Instant::now();
        let st = Command::new("iptables-restore")
            .arg("-w")
            .stdin(File::open(&rules_file).expect("open rules"))
            .status()
            .expect("run iptables-restore");
        assert!(st.success(), "iptables-restore failed: {st}");
        let load = ms_since(t0);
        eprintln!(
            "level n={n}: iptables-restore of {} services took {load:.0} ms",
            vips.len()
        );
        rec.record(
            "kube",
            "iptables_restore",
            n,
            "ms",
            &[load],
            json!({"rules_bytes": fs::metadata(&rules_file).map(|m| m.len()).unwrap_or(0)}),
        );
        std::thread::sleep(Duration::from_millis(300));
        let (v, d, fv, fd) = connects(&client, &vips, &backend_ips, opts.conns, 42);
        rec.record(
            "kube",
            "connect_vip",
            n,
            "µs",
            &v,
            json!({"failures": fv, "vips": vips.len()}),
        );
        rec.record(
            "kube",
            "connect_direct",
            n,
            "µs",
            &d,
            json!({"failures": fd}),
        );
    }
}
