//! The measuring process inside the sandbox: its state, timed commands, records.

use crate::common::{loadavg, stats};
use crate::report::r2;
use podnet::kernel::{netns, Rtnl};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run an external command; wall time from spawn to reaped exit, in ms. Panics on failure
/// (a benchmark of a failing command is meaningless).
pub(crate) fn timed(argv: &[&str]) -> f64 {
    timed_with(argv, &[], None)
}

/// [`timed`] with extra environment and, when given, `stdin` written to the command (as a
/// container runtime execs a CNI plugin).
pub(crate) fn timed_with(argv: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> f64 {
    use std::io::Write;
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        // A plugin's answer (or its error JSON) is on stdout; podnet's CLI output is not read.
        .stdout(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    let t0 = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(data).expect("write stdin");
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait {argv:?}: {e}"));
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        panic!(
            "{argv:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ms
}

pub(crate) fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

pub(crate) struct Bench {
    pub(crate) podnet: &'static str,
    pub(crate) host: Rtnl,
    pub(crate) seq: usize,
    pub(crate) recs: Vec<Value>,
    pub(crate) settle: Duration,
    pub(crate) strace_dir: Option<PathBuf>,
}

impl Bench {
    pub(crate) fn next(&mut self) -> usize {
        self.seq += 1;
        self.seq
    }

    pub(crate) fn new_netns(&mut self, prefix: &str) -> PathBuf {
        let p = PathBuf::from(format!("/run/netns/{prefix}{}", self.next()));
        netns::create(&p).expect("create netns");
        p
    }

    pub(crate) fn settle(&self) {
        std::thread::sleep(self.settle);
    }

    /// `podnet attach --netns NS --name NAME EXTRA...` of a fresh namespace (named `prefix`
    /// and a number, as the container), then `detach`, each timed by `time` with a settle
    /// after each: (attach, detach).
    pub(crate) fn attach_detach_fresh<T>(
        &mut self,
        prefix: &str,
        extra: &[&str],
        time: impl Fn(&[&str]) -> T,
    ) -> (T, T) {
        let ns = self.new_netns(prefix);
        let name = format!("{prefix}{}", self.next());
        let ns_s = ns.to_string_lossy().into_owned();
        let attach = time(&attach_argv(self.podnet, &ns_s, &name, extra));
        self.settle();
        let detach = time(&[self.podnet, "detach", &name]);
        netns::remove(&ns).expect("remove netns");
        self.settle();
        (attach, detach)
    }

    pub(crate) fn record(&mut self, tool: &str, op: &str, n: usize, v: &[f64], extra: Value) {
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
}

/// `PODNET attach --netns NS --name NAME EXTRA...`.
pub(crate) fn attach_argv<'a>(
    podnet: &'a str,
    ns: &'a str,
    name: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut argv = vec![podnet, "attach", "--netns", ns, "--name", name];
    argv.extend_from_slice(extra);
    argv
}

/// `podnet ARGS --format json`, parsed (untimed). Through the CLI rather than the library so
/// that this process never opens podnet's store itself.
pub(crate) fn podnet_json(podnet: &str, args: &[&str]) -> Value {
    let out = Command::new(podnet)
        .args(args)
        .args(["--format", "json"])
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("spawn podnet {args:?}: {e}"));
    assert!(out.status.success(), "podnet {args:?} failed");
    serde_json::from_slice(&out.stdout).expect("podnet prints JSON")
}

pub(crate) fn host_veth_of(podnet: &str, name: &str) -> String {
    podnet_json(podnet, &["inspect", name])["host_veth"]
        .as_str()
        .expect("container has a host veth")
        .to_string()
}
