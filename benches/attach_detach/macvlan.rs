//! The macvlan phase (`--modes macvlan`, issue 13), in one sandbox and run:
//! - `podnet attach`/`detach` of a fresh namespace on a macvlan network beside the same on a
//!   bridge network, interleaved trial by trial (no port: a macvlan network publishes none);
//! - iperf3 (one TCP stream) from a LAN machine to a container at its own macvlan address,
//!   beside the bridge path a LAN machine has to a container: its published port on the
//!   host's LAN address (DNAT, forwarding, conntrack), interleaved run by run.
//!
//! The LAN: a namespace `lan` (198.18.0.2, the router) joined to this sandbox's `lan0`
//! (198.18.0.1, the macvlan parent) by a veth pair.

use crate::bench::{podnet_json, timed, Bench};
use crate::common::{loadavg, reap, stats};
use crate::datapath::{iperf_once, sh};
use crate::opts::Opts;
use crate::report::r2;
use podnet::kernel::netns;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MV: &str = "lan";
const BR: &str = "br";

impl Bench {
    /// `podnet attach --network NET` of a fresh namespace, then `detach`: (attach, detach) ms.
    fn attach_detach_plain(&mut self, net: &str) -> (f64, f64) {
        let ns = self.new_netns("m");
        let name = format!("m{}", self.next());
        let ns_s = ns.to_string_lossy().into_owned();
        let attach = timed(&[
            self.podnet,
            "attach",
            "--netns",
            &ns_s,
            "--name",
            &name,
            "--network",
            net,
        ]);
        self.settle();
        let detach = timed(&[self.podnet, "detach", &name]);
        netns::remove(&ns).expect("remove netns");
        self.settle();
        (attach, detach)
    }
}

fn lan() {
    let lan = Path::new("/run/netns/lan");
    netns::create(lan).expect("create lan netns");
    sh(&[
        "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", "lan",
    ]);
    sh(&["ip", "addr", "add", "198.18.0.1/24", "dev", "lan0"]);
    sh(&["ip", "link", "set", "lan0", "up"]);
    sh(&[
        "ip",
        "-n",
        "lan",
        "addr",
        "add",
        "198.18.0.2/24",
        "dev",
        "eth0",
    ]);
    sh(&["ip", "-n", "lan", "link", "set", "eth0", "up"]);
    sh(&["ip", "-n", "lan", "link", "set", "lo", "up"]);
}

fn wait_listening(p: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(p)
            .args(["exec", name, "--", "ss", "-Hltn", "sport = :5201"])
            .output()
            .expect("podnet exec ss");
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "iperf3 -s in {name} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn macvlan_phase(bench: &mut Bench, opts: &Opts) {
    lan();
    let p = bench.podnet;
    timed(&[
        p,
        "network",
        "create",
        MV,
        "--driver",
        "macvlan",
        "--parent",
        "lan0",
        "--subnet",
        "198.18.0.0/24",
        "--gateway",
        "198.18.0.2",
        "--ip-range",
        "198.18.0.64/26",
    ]);
    timed(&[p, "network", "create", BR, "--subnet", "10.72.0.0/16"]);
    // Attach/detach, interleaved (the first of each pair alternates).
    let mut v: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for trial in 0..opts.warmup + opts.trials {
        let (m, b) = if trial % 2 == 0 {
            let m = bench.attach_detach_plain(MV);
            (m, bench.attach_detach_plain(BR))
        } else {
            let b = bench.attach_detach_plain(BR);
            (bench.attach_detach_plain(MV), b)
        };
        if trial >= opts.warmup {
            for (k, x) in [
                ("attach_macvlan", m.0),
                ("attach_bridge", b.0),
                ("attach_macvlan_minus_bridge", m.0 - b.0),
                ("detach_macvlan", m.1),
                ("detach_bridge", b.1),
                ("detach_macvlan_minus_bridge", m.1 - b.1),
            ] {
                v.entry(k).or_default().push(x);
            }
        }
    }
    for (k, xs) in &v {
        bench.record("podnet", k, 0, xs, json!({"settle_ms": opts.settle_ms}));
    }
    // Datapath: the LAN machine to a macvlan container vs to a bridge container's port.
    let iperf = ["--", "iperf3", "-s", "-p", "5201"];
    let mut run = vec![p, "run", "-d", "--name", "mvsrv", "--network", MV];
    run.extend(iperf);
    timed(&run);
    let mut run = vec![
        p,
        "run",
        "-d",
        "--name",
        "brsrv",
        "--network",
        BR,
        "-p",
        "15201:5201",
    ];
    run.extend(iperf);
    timed(&run);
    wait_listening(p, "mvsrv");
    wait_listening(p, "brsrv");
    let mv_ip = podnet_json(p, &["inspect", "mvsrv"])["ip"]
        .as_str()
        .expect("mvsrv has an address")
        .to_string();
    let in_lan = ["nsenter", "--net=/run/netns/lan"];
    let paths: [(&str, &str, u16); 2] = [
        ("lan_to_macvlan_container", &mv_ip, 5201),
        ("lan_to_bridge_published_port", "198.18.0.1", 15201),
    ];
    let mut vals: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut errs: Vec<Option<String>> = vec![None; paths.len()];
    for round in 0..opts.repeat {
        for (i, (name, target, port)) in paths.iter().enumerate() {
            match iperf_once(&in_lan, target, *port, opts) {
                Ok(g) => {
                    eprintln!("  [podnet] {name} run {}: {g:.2} Gbit/s", round + 1);
                    vals[i].push(g);
                }
                Err(e) => {
                    eprintln!("  [podnet] {name} run {}: FAILED {e}", round + 1);
                    errs[i] = Some(e);
                }
            }
        }
    }
    for (i, (name, ..)) in paths.iter().enumerate() {
        let mut r = json!({
            "tool": "podnet", "op": "iperf3_tcp", "path": name, "seconds": opts.seconds,
            "streams": 1, "runs": vals[i].len(), "loadavg": loadavg(),
        });
        if vals[i].is_empty() {
            r["error"] = json!(errs[i]);
        } else {
            let s = stats(&vals[i]);
            r["median_gbps"] = json!(r2(s.median));
            r["min_gbps"] = json!(r2(s.min));
            r["max_gbps"] = json!(r2(s.max));
        }
        bench.recs.push(r);
    }
    timed(&[p, "rm", "-f", "mvsrv"]);
    timed(&[p, "rm", "-f", "brsrv"]);
    reap();
}
