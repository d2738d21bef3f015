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

/// iperf3 (one TCP stream) through podnet's network, in a lab: this sandbox is the "host"; a
/// namespace `outside`, joined to it by a veth pair (198.18.0.1/24 here, .2 there), plays a
/// LAN machine. The server is `podnet run -d -p 15201:5201 -- iperf3 -s`; the client container
/// is `podnet run -d -- sleep infinity` entered with `podnet exec`. The paths and their names
/// are the peers' (`peers/bench.py --mode datapath`); each run of a path is interleaved with
/// the other paths' runs so that a drift of the machine hits every path alike.
pub(crate) fn datapath_phase(bench: &mut Bench, opts: &Opts) {
    let outside = Path::new("/run/netns/outside");
    netns::create(outside).expect("create outside netns");
    sh(&[
        "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0", "netns", "outside",
    ]);
    sh(&["ip", "addr", "add", "198.18.0.1/24", "dev", "lan0"]);
    sh(&["ip", "link", "set", "lan0", "up"]);
    sh(&[
        "ip",
        "-n",
        "outside",
        "addr",
        "add",
        "198.18.0.2/24",
        "dev",
        "lan0",
    ]);
    sh(&["ip", "-n", "outside", "link", "set", "lan0", "up"]);
    sh(&["ip", "-n", "outside", "link", "set", "lo", "up"]);

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
    // Wait until the server listens (checked inside its namespace, without connecting to it).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(p)
            .args(["exec", "srv", "--", "ss", "-Hltn", "sport = :5201"])
            .output()
            .expect("podnet exec ss");
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "iperf3 -s did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("datapath lab: server {srv_ip}:5201 published on 15201, gateway {gw}");

    let exec_cli = [p, "exec", "cli", "--"];
    let in_outside = ["nsenter", "--net=/run/netns/outside"];
    let paths: [(&str, &[&str], &str, u16); 5] = [
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
    timed(&[p, "rm", "-f", "srv"]);
    timed(&[p, "rm", "-f", "cli"]);
    reap();
}
