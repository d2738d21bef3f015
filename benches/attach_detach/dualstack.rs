//! The dual-stack phase (`--modes dualstack`, issue 9): `podnet attach -p` and its detach on a
//! dual-stack network beside the same on an IPv4-only one, in the same sandbox and run,
//! interleaved trial by trial, at each level (n containers already on *each* network, one
//! port each). The paired difference (dual − IPv4, per trial) is the cost of IPv6: target at
//! most +1 ms, flat from 0 to 1,000. Each op is timed twice over: wall time, and CPU time
//! (user + system of the podnet process, `_cpu` keys), which is what resolves a 1 ms
//! difference on a machine others load.

use crate::attach::FILL_PORT_BASE;
use crate::bench::{attach_argv, timed, Bench};
use crate::opts::Opts;
use podnet::kernel::netns;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const V4: &str = "v4only";
const DUAL: &str = "dual";
/// The populated containers of the dual-stack network publish from here (the IPv4-only
/// network's from `FILL_PORT_BASE`).
const DUAL_FILL_BASE: usize = 40000;

/// CPU time of the waited-for children so far, ms.
fn children_cpu_ms() -> f64 {
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid rusage.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(ru.ru_utime) + ms(ru.ru_stime)
}

/// [`timed`] and the command's CPU time: (wall ms, CPU ms).
fn timed_cpu(argv: &[&str]) -> (f64, f64) {
    let c0 = children_cpu_ms();
    let wall = timed(argv);
    (wall, children_cpu_ms() - c0)
}

/// One attach and its detach, wall and CPU ms of each.
struct Pair {
    attach: (f64, f64),
    detach: (f64, f64),
}

impl Bench {
    /// `podnet attach --network NET -p PORT:80` of a fresh namespace, then `detach`.
    fn attach_detach_on(&mut self, net: &str, port: &str) -> Pair {
        let (attach, detach) =
            self.attach_detach_fresh("d", &["--network", net, "-p", port], timed_cpu);
        Pair { attach, detach }
    }
}

pub(crate) fn dualstack_phase(bench: &mut Bench, opts: &Opts) {
    timed(&[
        bench.podnet,
        "network",
        "create",
        V4,
        "--subnet",
        "10.70.0.0/16",
    ]);
    timed(&[
        bench.podnet,
        "network",
        "create",
        DUAL,
        "--subnet",
        "10.71.0.0/16",
        "--subnet",
        "fd00:71::/64",
    ]);
    let mut attached = 0usize;
    for &n in &opts.levels {
        let t0 = Instant::now();
        while attached < n {
            for (net, base) in [(V4, FILL_PORT_BASE), (DUAL, DUAL_FILL_BASE)] {
                let ns = PathBuf::from(format!("/run/netns/fill-{net}-{attached}"));
                netns::create(&ns).expect("create netns");
                let ns_s = ns.to_string_lossy().into_owned();
                let name = format!("fill-{net}-{attached}");
                let port = format!("{}:80", base + attached);
                timed(&attach_argv(
                    bench.podnet,
                    &ns_s,
                    &name,
                    &["--network", net, "-p", &port],
                ));
            }
            attached += 1;
        }
        eprintln!(
            "level n={n}: {attached} containers on each network (populating took {:.1} s)",
            t0.elapsed().as_secs_f64()
        );
        std::thread::sleep(Duration::from_millis(200));
        let mut v: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for trial in 0..opts.warmup + opts.trials {
            // Alternate which goes first, so neither always follows the other's detach.
            let (v4, dual) = if trial % 2 == 0 {
                let v4 = bench.attach_detach_on(V4, "10011:80");
                (v4, bench.attach_detach_on(DUAL, "10012:80"))
            } else {
                let dual = bench.attach_detach_on(DUAL, "10012:80");
                (bench.attach_detach_on(V4, "10011:80"), dual)
            };
            if trial >= opts.warmup {
                for (k, (w4, c4), (wd, cd)) in [
                    ("attach_p", v4.attach, dual.attach),
                    ("detach_p", v4.detach, dual.detach),
                ] {
                    for (suffix, x) in [
                        ("v4", w4),
                        ("dual", wd),
                        ("dual_minus_v4", wd - w4),
                        ("v4_cpu", c4),
                        ("dual_cpu", cd),
                        ("dual_minus_v4_cpu", cd - c4),
                    ] {
                        v.entry(format!("{k}_{suffix}")).or_default().push(x);
                    }
                }
            }
        }
        for (k, xs) in &v {
            bench.record("podnet", k, n, xs, json!({"settle_ms": opts.settle_ms}));
        }
    }
}
