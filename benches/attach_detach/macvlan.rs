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
use crate::common::reap;
use crate::datapath::{iperf_paths, lan_machine, wait_iperf_server, IperfPath};
use crate::opts::Opts;
use serde_json::json;
use std::collections::BTreeMap;

const MV: &str = "lan";
const BR: &str = "br";

pub(crate) fn macvlan_phase(bench: &mut Bench, opts: &Opts) {
    lan_machine("lan", "eth0");
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
            let m = bench.attach_detach_fresh("m", &["--network", MV], timed);
            (m, bench.attach_detach_fresh("m", &["--network", BR], timed))
        } else {
            let b = bench.attach_detach_fresh("m", &["--network", BR], timed);
            (bench.attach_detach_fresh("m", &["--network", MV], timed), b)
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
    wait_iperf_server(p, "mvsrv");
    wait_iperf_server(p, "brsrv");
    let mv_ip = podnet_json(p, &["inspect", "mvsrv"])["ip"]
        .as_str()
        .expect("mvsrv has an address")
        .to_string();
    let in_lan: &[&str] = &["nsenter", "--net=/run/netns/lan"];
    let paths: [IperfPath; 2] = [
        ("lan_to_macvlan_container", in_lan, &mv_ip, 5201),
        ("lan_to_bridge_published_port", in_lan, "198.18.0.1", 15201),
    ];
    iperf_paths(bench, opts, &paths);
    timed(&[p, "rm", "-f", "mvsrv"]);
    timed(&[p, "rm", "-f", "brsrv"]);
    reap();
}
