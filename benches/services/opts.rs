//! The command line: usage, options and their checks.

use crate::common::{each_option, list};
use std::path::PathBuf;

pub(crate) const USAGE: &str = "\
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
                      functions (podnet::store::Writes::insert_service, one transaction) and then
                      `podnet gc`, instead of one `podnet service create` each (default: never;
                      creates slow down with n, see docs/benchmarks.md)
  --podnet PATH       benchmark this podnet binary (A/B runs)
  --report FILE       only print the table of an earlier run's --out file
Must run as root.";

#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub(crate) levels: Vec<usize>,
    pub(crate) trials: usize,
    pub(crate) warmup: usize,
    pub(crate) load_trials: usize,
    pub(crate) conns: usize,
    pub(crate) backends: usize,
    pub(crate) only: Vec<String>,
    pub(crate) out: Option<PathBuf>,
    pub(crate) strace: bool,
    pub(crate) perf: bool,
    pub(crate) populate_store: usize,
    pub(crate) podnet: Option<PathBuf>,
    pub(crate) report: Option<PathBuf>,
}

pub(crate) fn die(msg: &str) -> ! {
    eprintln!("services: {msg}\n{USAGE}");
    std::process::exit(2)
}

impl Opts {
    pub(crate) fn parse(args: &[String]) -> Opts {
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
        each_option(args, USAGE, |flag, val| {
            match flag {
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
                _ => return false,
            }
            true
        });
        o.levels.sort_unstable();
        o.levels.dedup();
        if o.levels.is_empty() || o.levels[0] < 2 || o.backends == 0 || o.backends > 200 {
            die("levels must be >= 2 (one is the probe service); 1..=200 backends");
        }
        o
    }
    pub(crate) fn has(&self, part: &str) -> bool {
        self.only.iter().any(|p| p == part)
    }
}
