//! The command line: usage, options and their checks.

use crate::common::{each_option, list};
use std::path::PathBuf;

pub(crate) const USAGE: &str = "\
usage: cargo bench --bench attach_detach -- [options]
  --modes LIST           attach,datapath,dualstack,macvlan (default attach): each runs in its own
                         fresh sandbox; dualstack: attach -p on a dual-stack network beside
                         an IPv4-only one, interleaved (use --peers none)
  --levels LIST          containers already attached at each measured level
                         (default 0,100,300,1000)
  --no-fill-ports        populate without ports (default: container i publishes 20000+i:80)
  --trials N             measured trials per op and level (default 30)
  --warmup N             discarded trials per op and level (default 3)
  --settle-ms N          pause after each trial so deferred kernel work (namespace cleanup)
                         does not land in the next op's timing (default 10)
  --out FILE             write JSON lines (machine, podnet, floors, peers) to FILE
  --peers LIST           netavark,cni | none (default netavark,cni; skipped if not installed)
  --peer-levels LIST     levels for the peers (default 0,100,300: they grow ~linearly with n)
  --peer-trials N        trials per level for the peers (default 10)
  --seconds N            datapath: iperf3 -t per run (default 10)
  --repeat N             datapath: runs per path (default 3)
  --rounds N             datapath: repeat [podnet, netavark, CNI] N times, interleaved, so that
                         a drift of the machine's load hits every tool alike (default 1);
                         the table pools the rounds (median of the rounds' medians)
  --peers-dir DIR        the peers' scripts (default /work/shared/peers)
  --strace               also run one of each podnet op per level under `strace -f -tt -T`
                         (untimed; files in <target>/bench/strace-*.txt)
  --podnet PATH          benchmark this podnet binary instead of the one cargo built (A/B runs)
  --report FILE          only print the table of an earlier run's --out file
Must run as root.";

#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub(crate) modes: Vec<String>,
    pub(crate) levels: Vec<usize>,
    pub(crate) fill_ports: bool,
    pub(crate) trials: usize,
    pub(crate) warmup: usize,
    pub(crate) settle_ms: u64,
    pub(crate) out: Option<PathBuf>,
    pub(crate) peers: Vec<String>,
    pub(crate) peer_levels: Vec<usize>,
    pub(crate) peer_trials: usize,
    pub(crate) peers_dir: PathBuf,
    pub(crate) strace: bool,
    pub(crate) podnet: Option<PathBuf>,
    pub(crate) report: Option<PathBuf>,
    pub(crate) seconds: u32,
    pub(crate) repeat: usize,
    pub(crate) rounds: usize,
}

pub(crate) fn die(msg: &str) -> ! {
    eprintln!("attach_detach: {msg}\n{USAGE}");
    std::process::exit(2)
}

impl Opts {
    pub(crate) fn parse(args: &[String]) -> Opts {
        let mut o = Opts {
            modes: vec!["attach".into()],
            levels: vec![0, 100, 300, 1000],
            fill_ports: true,
            trials: 30,
            warmup: 3,
            settle_ms: 10,
            out: None,
            peers: vec!["netavark".into(), "cni".into()],
            peer_levels: vec![0, 100, 300],
            peer_trials: 10,
            peers_dir: PathBuf::from("/work/shared/peers"),
            strace: false,
            podnet: None,
            report: None,
            seconds: 10,
            repeat: 3,
            rounds: 1,
        };
        each_option(args, USAGE, |flag, val| {
            match flag {
                "--modes" => o.modes = list("--modes", &val()),
                "--levels" => o.levels = list("--levels", &val()),
                "--no-fill-ports" => o.fill_ports = false,
                "--seconds" => o.seconds = list("--seconds", &val())[0],
                "--repeat" => o.repeat = list("--repeat", &val())[0],
                "--rounds" => o.rounds = list("--rounds", &val())[0],
                "--trials" => o.trials = list("--trials", &val())[0],
                "--warmup" => o.warmup = list("--warmup", &val())[0],
                "--settle-ms" => o.settle_ms = list("--settle-ms", &val())[0],
                "--out" => o.out = Some(PathBuf::from(val())),
                "--peers" => {
                    let v = val();
                    o.peers = if v == "none" {
                        vec![]
                    } else {
                        list("--peers", &v)
                    };
                }
                "--peer-levels" => o.peer_levels = list("--peer-levels", &val()),
                "--peer-trials" => o.peer_trials = list("--peer-trials", &val())[0],
                "--peers-dir" => o.peers_dir = PathBuf::from(val()),
                "--strace" => o.strace = true,
                "--podnet" => o.podnet = Some(PathBuf::from(val())),
                "--report" => o.report = Some(PathBuf::from(val())),
                _ => return false,
            }
            true
        });
        o.levels.sort_unstable();
        o.levels.dedup();
        if o.trials == 0 || o.levels.is_empty() || o.repeat == 0 {
            die("need at least one level, one trial and one repeat");
        }
        if let Some(m) = o
            .modes
            .iter()
            .find(|m| !["attach", "datapath", "dualstack", "macvlan"].contains(&m.as_str()))
        {
            die(&format!(
                "--modes: unknown mode '{m}' (attach, datapath, dualstack, macvlan)"
            ));
        }
        o
    }
}
