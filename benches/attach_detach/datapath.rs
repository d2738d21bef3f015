//! The datapath phase: iperf3 through podnet's bridge and published ports, in a lab.

use crate::bench::{podnet_json, timed, Bench};
use crate::common::{loadavg, reap, stats};
use crate::opts::Opts;
use crate::report::r2;
use podnet::kernel::netns;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run a setup command (untimed); panics on failure.
pub(crate) fn sh(argv: &[&str]) {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One iperf3 client run (`prefix` + `iperf3 -c TARGET -p PORT`): received Gbit/s.
pub(crate) fn iperf_once(
    prefix: &[&str],
    target: &str,
    port: u16,
    opts: &Opts,
) -> Result<f64, String> {
    let secs = opts.seconds.to_string();
    let port = port.to_string();
    let mut argv: Vec<&str> = prefix.to_vec();
    argv.extend([
        "iperf3",
        "-c",
        target,
        "-p",
        &port,
        "-t",
        &secs,
        "-P",
        "1",
        "-J",
        "--connect-timeout",
        "3000",
    ]);
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("spawn {argv:?}: {e}"))?;
    let j: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    match j["end"]["sum_received"]["bits_per_second"].as_f64() {
        Some(bps) if out.status.success() => Ok(bps / 1e9),
        _ => Err(j["error"].as_str().map(str::to_string).unwrap_or_else(|| {
            format!(
                "{argv:?}: {} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })),
    }
}

/// A namespace NAME playing a LAN machine, joined to this sandbox by a veth pair: `lan0` here
/// (198.18.0.1/24), `peer` there (198.18.0.2/24); both ends and NAME's `lo` up.
pub(crate) fn lan_machine(name: &str, peer: &str) {
    netns::create(&Path::new("/run/netns").join(name)).expect("create the LAN machine's netns");
    sh(&[
        "ip", "link", "add", "lan0", "type", "veth", "peer", "name", peer, "netns", name,
    ]);
    sh(&["ip", "addr", "add", "198.18.0.1/24", "dev", "lan0"]);
    sh(&["ip", "link", "set", "lan0", "up"]);
    sh(&[
        "ip",
        "-n",
        name,
        "addr",
        "add",
        "198.18.0.2/24",
        "dev",
        peer,
    ]);
    sh(&["ip", "-n", name, "link", "set", peer, "up"]);
    sh(&["ip", "-n", name, "link", "set", "lo", "up"]);
}

/// Waits until `iperf3 -s -p 5201` in container `name` listens (checked inside its
/// namespace, without connecting to it); panics after 10 s.
pub(crate) fn wait_iperf_server(podnet: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(podnet)
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

/// One iperf3 path: (name, command prefix the client runs under, target, port).
pub(crate) type IperfPath<'a> = (&'a str, &'a [&'a str], &'a str, u16);

/// `opts.repeat` rounds of one iperf3 run per path, the paths interleaved within a round (a
/// drift of the machine hits every path alike); one record per path: the median, min and
/// max Gbit/s, or the last error when no run succeeded.
pub(crate) fn iperf_paths(bench: &mut Bench, opts: &Opts, paths: &[IperfPath]) {
    let mut vals: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut errs: Vec<Option<String>> = vec![None; paths.len()];
    for round in 0..opts.repeat {
        for (i, (name, prefix, target, port)) in paths.iter().enumerate() {
            match iperf_once(prefix, target, *port, opts) {
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
}

/// iperf3 (one TCP stream) through podnet's network, in a lab: this sandbox is the "host"; a
/// namespace `outside`, joined to it by a veth pair (198.18.0.1/24 here, .2 there), plays a
/// LAN machine. The server is `podnet run -d -p 15201:5201 -- iperf3 -s`; the client container
/// is `podnet run -d -- sleep infinity` entered with `podnet exec`. The paths and their names
/// are the peers' (`peers/bench.py --mode datapath`); each run of a path is interleaved with
/// the other paths' runs so that a drift of the machine hits every path alike.
pub(crate) fn datapath_phase(bench: &mut Bench, opts: &Opts) {
    lan_machine("outside", "lan0");

    let p = bench.podnet;
    timed(&[
        p,
        "run",
        "-d",
        "--name",
        "srv",
        "-p",
        "15201:5201",
        "--",
        "iperf3",
        "-s",
        "-p",
        "5201",
    ]);
    timed(&[p, "run", "-d", "--name", "cli", "--", "sleep", "infinity"]);
    let srv_ip = podnet_json(p, &["inspect", "srv"])["ip"]
        .as_str()
        .expect("srv has an address")
        .to_string();
    let gw = podnet_json(p, &["network", "inspect", "podnet0"])["gateway"]
        .as_str()
        .expect("gateway")
        .to_string();
    wait_iperf_server(p, "srv");
    eprintln!("datapath lab: server {srv_ip}:5201 published on 15201, gateway {gw}");

    let exec_cli = [p, "exec", "cli", "--"];
    let in_outside = ["nsenter", "--net=/run/netns/outside"];
    let paths: [IperfPath; 5] = [
        ("container_to_container", &exec_cli, &srv_ip, 5201),
        ("host_to_container_direct", &[], &srv_ip, 5201),
        ("host_to_published_port_via_gateway_ip", &[], &gw, 15201),
        (
            "host_to_published_port_via_127.0.0.1",
            &[],
            "127.0.0.1",
            15201,
        ),
        (
            "external_ns_to_published_port",
            &in_outside,
            "198.18.0.1",
            15201,
        ),
    ];
    iperf_paths(bench, opts, &paths);
    timed(&[p, "rm", "-f", "srv"]);
    timed(&[p, "rm", "-f", "cli"]);
    reap();
}
