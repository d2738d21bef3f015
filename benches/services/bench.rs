//! The measuring process inside a sandbox: timed commands, podnet's JSON, records.

use crate::common::{loadavg, stats};
use crate::report::r3;
use podnet::testbed::reexec;
use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Run a command; wall time from spawn to reaped exit in ms, and its stdout. Panics on
/// failure (a benchmark of a failing command is meaningless).
pub(crate) fn run_out(argv: &[&str]) -> (f64, Vec<u8>) {
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

pub(crate) fn timed(argv: &[&str]) -> f64 {
    run_out(argv).0
}

pub(crate) fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

/// Enters the sandbox (first, before any thread exists); where records go.
pub(crate) fn sandbox_setup() -> reexec::Inside {
    reexec::enter().unwrap_or_else(|e| panic!("{e}"))
}

/// `podnet ARGS --format json`, parsed (untimed).
pub(crate) fn podnet_json(podnet: &str, args: &[&str]) -> Value {
    let mut argv = vec![podnet];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--format", "json"]);
    serde_json::from_slice(&run_out(&argv).1).expect("podnet prints JSON")
}

pub(crate) fn ip_of(podnet: &str, name: &str) -> Ipv4Addr {
    let v = podnet_json(podnet, &["inspect", name]);
    let s = v["ip"].as_str().expect("container has an address");
    s.split('/').next().unwrap().parse().expect("IPv4 address")
}

/// Records, appended to the records file as they are made (a crash keeps what was measured).
pub(crate) struct Recorder {
    pub(crate) file: File,
}

impl Recorder {
    pub(crate) fn new(path: &Path) -> Recorder {
        Recorder {
            file: File::options()
                .create(true)
                .append(true)
                .open(path)
                .expect("open records file"),
        }
    }

    pub(crate) fn record(
        &mut self,
        tool: &str,
        op: &str,
        n: usize,
        unit: &str,
        v: &[f64],
        extra: Value,
    ) {
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
