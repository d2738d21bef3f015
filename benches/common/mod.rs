//! What the benchmarks share: order statistics, the load average, reaping a sandbox's
//! orphans, reading `/proc` lines, the command-line walk and list flags.

use std::fs;
use std::path::PathBuf;

/// The containers' command lines, shared with the tests.
#[path = "../../tests/common/argv.rs"]
#[allow(dead_code)]
pub mod argv;

#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub runs: usize,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

pub fn stats(v: &[f64]) -> Stats {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = s.len();
    let rank = |q: f64| s[((q * (n - 1) as f64).round() as usize).min(n - 1)];
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Stats {
        runs: n,
        median,
        p90: rank(0.9),
        p99: rank(0.99),
        min: s[0],
        max: s[n - 1],
        mean: s.iter().sum::<f64>() / n as f64,
    }
}

pub fn loadavg() -> Vec<f64> {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect()
}

/// Reap children that were re-parented to us (we are PID 1 of the sandbox): the `sleep`
/// processes of `podnet run -d` once `podnet rm -f` killed them.
pub fn reap() {
    loop {
        // SAFETY: waitpid with WNOHANG on any child; no memory is passed.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if r <= 0 {
            break;
        }
    }
}

pub fn first_line(path: &str, key: &str) -> String {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("")
        .trim()
        .to_string()
}

pub fn list<T: std::str::FromStr>(flag: &str, s: &str) -> Vec<T> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse()
                .unwrap_or_else(|_| super::die(&format!("{flag}: bad value '{x}'")))
        })
        .collect()
}

/// Walks a benchmark's command line: `set(flag, value)` takes each option, calling `value()`
/// for its argument, and returns false for a flag it does not know. Cargo's `--bench`
/// (passed to harness=false benchmarks) is skipped, `-h`/`--help` prints `usage` and exits 0,
/// and a missing value or an unknown argument exits 2 through the benchmark's `die`.
pub fn each_option(
    args: &[String],
    usage: &str,
    mut set: impl FnMut(&str, &mut dyn FnMut() -> String) -> bool,
) {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bench" => {}
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0)
            }
            flag => {
                let mut val = || {
                    it.next()
                        .cloned()
                        .unwrap_or_else(|| super::die(&format!("{a} needs a value")))
                };
                if !set(flag, &mut val) {
                    super::die(&format!("unknown argument '{flag}'"))
                }
            }
        }
    }
}

pub fn netns_inode() -> u64 {
    podnet::testbed::reexec::netns_inode().unwrap_or_else(|e| panic!("{e}"))
}

pub fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("bench");
    fs::create_dir_all(&dir).expect("create <target>/bench");
    fs::canonicalize(dir).expect("canonicalize bench dir")
}

/// A sandboxed bench's `main`: inside its own sandbox (re-exec'd as `phase`) it runs
/// `inner`; outside it checks for root, runs itself in a fresh sandbox, prints the records
/// between the load averages and, with `jsonl`, writes them to `<target>/bench/<jsonl>`.
#[allow(dead_code)] // Not every bench runs in a sandbox of its own.
pub fn sandboxed_main(phase: &str, jsonl: Option<&str>, die: fn(&str) -> !, inner: impl FnOnce()) {
    std::env::remove_var("LD_LIBRARY_PATH");
    if podnet::testbed::reexec::phase().as_deref() == Some(phase) {
        inner();
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        die("must run as root (it creates namespaces and bridges inside its sandbox)");
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("load average before: {:?}", loadavg());
    let out = podnet::testbed::reexec::run(phase, &args, &bench_dir())
        .unwrap_or_else(|e| die(&e.to_string()));
    for r in &out.records {
        println!("{r}");
    }
    println!("load average after: {:?}", loadavg());
    if let Some(name) = jsonl {
        let file = bench_dir().join(name);
        let text: String = out.records.iter().map(|r| format!("{r}\n")).collect();
        fs::write(&file, text).unwrap_or_else(|e| die(&format!("{}: {e}", file.display())));
        println!("records: {}", file.display());
    }
    if !out.status.success() {
        die(&format!("the sandboxed run failed: {:?}", out.status));
    }
}

/// `podnet ARGS` with the bench's own build: its standard output; a failure ends the bench.
#[allow(dead_code)]
pub fn podnet_out(args: &[&str], die: fn(&str) -> !) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podnet"))
        .args(args)
        .output()
        .unwrap_or_else(|e| die(&format!("podnet: {e}")));
    if !out.status.success() {
        die(&format!(
            "podnet {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}
