//! The table: podnet beside its floors and the peers, the targets, the data paths.

use crate::common::stats;
use crate::opts::Opts;
use serde_json::{json, Value};

pub(crate) fn r2(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

pub(crate) fn level_of(v: &Value) -> Option<usize> {
    v.get("n_existing")
        .and_then(Value::as_u64)
        .map(|n| n as usize)
}

/// Median of a record with `tool`, `op` at level `n`.
pub(crate) fn find(recs: &[Value], tool: &str, op: &str, n: usize) -> Option<f64> {
    recs.iter()
        .find(|r| r["tool"] == tool && r["op"] == op && level_of(r) == Some(n))
        .and_then(|r| num(r, "median_ms"))
}

/// Which kernel floor an op is compared with, and which peer op.
pub(crate) fn floor_of(op: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match op {
        "attach" => ("kernel_veth_add", Some("setup")),
        "detach" => ("kernel_veth_del", Some("teardown")),
        "run" => ("kernel_veth_add", None),
        "rm" => ("kernel_netns_del", None),
        "attach_p" => ("kernel_attach_full_p", Some("setup")),
        "detach_p" => ("kernel_detach_p", Some("teardown")),
        "run_p" => ("kernel_attach_full_p", None),
        "rm_p" => ("kernel_nft_port_del", None),
        "cni_add_p" => ("kernel_attach_full_p", Some("setup")),
        "cni_del_p" => ("kernel_detach_p", Some("teardown")),
        "cni_add_p_agent" => ("kernel_attach_full_p", Some("setup")),
        "cni_del_p_agent" => ("kernel_detach_p", Some("teardown")),
        _ => return None,
    })
}

pub(crate) fn report(opts: &Opts, recs: &mut [Value]) -> String {
    // Ratios, added to the podnet records themselves.
    let snapshot: Vec<Value> = recs.to_vec();
    for r in recs.iter_mut() {
        if r["tool"] != "podnet" {
            continue;
        }
        let (Some(op), Some(n), Some(m)) = (
            r["op"].as_str().map(str::to_string),
            level_of(r),
            num(r, "median_ms"),
        ) else {
            continue;
        };
        if let Some((floor, peer_op)) = floor_of(&op) {
            if let Some(f) = find(&snapshot, "floor", floor, n) {
                r["floor_op"] = json!(floor);
                r["x_floor"] = json!(r2(m / f));
            }
            if let Some(p) = find(&snapshot, "floor", "proc_spawn_true", n) {
                r["x_proc_spawn"] = json!(r2(m / p));
            }
            if let Some(pop) = peer_op {
                // The peers' records name the CNI plugins "cni-plugins".
                for (peer, key) in [("netavark", "netavark"), ("cni-plugins", "cni")] {
                    if let Some(pm) = find(&snapshot, peer, pop, n) {
                        r[format!("x_{key}")] = json!(r2(m / pm));
                    }
                }
            }
        }
    }

    let mut t = String::new();
    let line = |t: &mut String, s: String| {
        t.push_str(&s);
        t.push('\n');
    };
    line(
        &mut t,
        format!(
            "{:<30} {:>5} {:>9} {:>9} {:>20} {:>10} {:>10} {:>9}",
            "op (wall ms)",
            "n",
            "median",
            "p90",
            "x kernel floor",
            "x /bin/true",
            "x netavark",
            "x CNI"
        ),
    );
    let fmt_x = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
    let row = |t: &mut String, label: &str, r: &Value| {
        let fx = match (r.get("floor_op"), num(r, "x_floor")) {
            (Some(f), Some(x)) => format!(
                "{x:.2} ({})",
                f.as_str().unwrap_or("").trim_start_matches("kernel_")
            ),
            _ => "-".into(),
        };
        line(
            t,
            format!(
                "{:<30} {:>5} {:>9.2} {:>9.2} {:>20} {:>10} {:>10} {:>9}",
                label,
                level_of(r).map(|n| n.to_string()).unwrap_or_default(),
                num(r, "median_ms").unwrap_or(f64::NAN),
                num(r, "p90_ms").unwrap_or(f64::NAN),
                fx,
                fmt_x(num(r, "x_proc_spawn")),
                fmt_x(num(r, "x_netavark")),
                fmt_x(num(r, "x_cni")),
            ),
        );
    };
    let groups: &[(&str, &str, &str)] = &[
        ("podnet", "attach", "podnet attach"),
        ("podnet", "attach_p", "podnet attach -p (1 port)"),
        ("podnet", "detach", "podnet detach"),
        ("podnet", "detach_p", "podnet detach (1 port)"),
        ("podnet", "run", "podnet run -d"),
        ("podnet", "run_p", "podnet run -d -p (1 port)"),
        ("podnet", "rm", "podnet rm -f"),
        ("podnet", "rm_p", "podnet rm -f (1 port)"),
        ("podnet", "rm_veth_gone", "  rm: veth gone after (async)"),
        ("podnet", "rm_p_veth_gone", "  rm -p: veth gone after"),
        ("podnet", "cni_add_p", "podnet as CNI: ADD (1 port)"),
        ("podnet", "cni_del_p", "podnet as CNI: DEL (1 port)"),
        ("podnet", "cni_add_p_agent", "  ADD handed to the agent"),
        ("podnet", "cni_del_p_agent", "  DEL handed to the agent"),
        ("podnet", "version", "podnet --version"),
        ("podnet", "attach_p_v4", "attach -p, IPv4-only network"),
        ("podnet", "attach_p_dual", "attach -p, dual-stack network"),
        ("podnet", "attach_p_dual_minus_v4", "  dual − IPv4 (paired)"),
        ("podnet", "detach_p_v4", "detach -p, IPv4-only network"),
        ("podnet", "detach_p_dual", "detach -p, dual-stack network"),
        ("podnet", "detach_p_dual_minus_v4", "  dual − IPv4 (paired)"),
        ("podnet", "attach_p_v4_cpu", "attach -p, IPv4-only (CPU ms)"),
        (
            "podnet",
            "attach_p_dual_cpu",
            "attach -p, dual-stack (CPU ms)",
        ),
        (
            "podnet",
            "attach_p_dual_minus_v4_cpu",
            "  dual − IPv4 (paired, CPU)",
        ),
        ("podnet", "detach_p_v4_cpu", "detach -p, IPv4-only (CPU ms)"),
        (
            "podnet",
            "detach_p_dual_cpu",
            "detach -p, dual-stack (CPU ms)",
        ),
        (
            "podnet",
            "detach_p_dual_minus_v4_cpu",
            "  dual − IPv4 (paired, CPU)",
        ),
        ("floor", "proc_spawn_true", "floor: spawn /bin/true"),
        ("floor", "kernel_veth_add", "floor: veth add+enslave+ns"),
        ("floor", "kernel_attach_full", "floor: full attach netlink"),
        (
            "floor",
            "kernel_attach_full_p",
            "floor: full attach_p (+nft)",
        ),
        ("floor", "kernel_nft_port_add", "floor: nft open+add+close"),
        ("floor", "kernel_nft_close_after_add", "  of which close"),
        ("floor", "kernel_nft_port_del", "floor: nft open+del+close"),
        ("floor", "kernel_nft_close_after_del", "  of which close"),
        ("floor", "kernel_detach_p", "floor: nft del + veth del"),
        ("floor", "kernel_veth_del", "floor: veth del"),
        ("floor", "kernel_netns_add", "floor: netns add"),
        ("floor", "kernel_netns_del", "floor: netns del"),
        ("netavark", "setup", "netavark setup (1 port)"),
        ("netavark", "teardown", "netavark teardown"),
        ("cni-plugins", "setup", "CNI ADD br+pm+fw (1 port)"),
        ("cni-plugins", "teardown", "CNI DEL"),
    ];
    for (tool, op, label) in groups {
        let mut rows: Vec<&Value> = recs
            .iter()
            .filter(|r| r["tool"] == *tool && r["op"] == *op && level_of(r).is_some())
            .collect();
        rows.sort_by_key(|r| level_of(r));
        for r in rows {
            row(&mut t, label, r);
        }
    }
    if let Some(r) = recs.iter().find(|r| r["op"] == "attach_first_use") {
        line(
            &mut t,
            format!(
                "first attach (creates network podnet0): {:.2} ms",
                num(r, "median_ms").unwrap_or(f64::NAN)
            ),
        );
    }

    // Targets.
    line(&mut t, String::new());
    line(&mut t, "targets:".into());
    let medians = |op: &str| -> Vec<(usize, f64)> {
        opts.levels
            .iter()
            .filter_map(|&n| find(recs, "podnet", op, n).map(|m| (n, m)))
            .collect()
    };
    let check = |t: &mut String, op: &str, limit: f64, flat: bool| {
        let ms = medians(op);
        if ms.is_empty() {
            return;
        }
        let worst = ms.iter().map(|x| x.1).fold(0.0, f64::max);
        let mut s = if limit.is_finite() {
            format!(
                "  {op:<7} median <= {limit} ms at every level: {} (worst {worst:.2} ms)",
                if worst <= limit { "MET" } else { "NOT MET" }
            )
        } else {
            format!("  {op:<7} (no absolute target; worst median {worst:.2} ms)")
        };
        if flat && ms.len() > 1 {
            let base = ms[0].1;
            let dev = ms
                .iter()
                .map(|x| (x.1 / base - 1.0) * 100.0)
                .fold(0.0f64, |a, d| if d.abs() > a.abs() { d } else { a });
            s.push_str(&format!(
                "; flat within ±25% of n={}: {} (largest change {dev:+.0}%)",
                ms[0].0,
                if dev.abs() <= 25.0 { "MET" } else { "NOT MET" }
            ));
        }
        line(t, s);
    };
    check(&mut t, "attach", 5.0, true);
    check(&mut t, "attach_p", 5.0, true);
    check(&mut t, "detach", 25.0, true);
    check(&mut t, "detach_p", 25.0, true);
    check(&mut t, "rm", 5.0, true);
    check(&mut t, "rm_p", 5.0, true);
    check(&mut t, "run", f64::INFINITY, true);
    check(&mut t, "run_p", f64::INFINITY, true);
    check(&mut t, "cni_add_p", f64::INFINITY, true);
    check(&mut t, "cni_del_p", f64::INFINITY, true);
    check(&mut t, "cni_add_p_agent", f64::INFINITY, true);
    check(&mut t, "cni_del_p_agent", f64::INFINITY, true);
    // Issue 9: IPv6 costs at most +1 ms on attach -p, at every level.
    let delta = medians("attach_p_dual_minus_v4");
    if !delta.is_empty() {
        let worst = delta.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
        let cells: Vec<String> = delta
            .iter()
            .map(|(n, d)| format!("n={n}: {d:+.2}"))
            .collect();
        line(
            &mut t,
            format!(
                "  attach -p dual-stack − IPv4-only (paired median) <= +1 ms at every level: {} ({})",
                if worst <= 1.0 { "MET" } else { "NOT MET" },
                cells.join(", ")
            ),
        );
    }
    datapath_table(&mut t, recs);
    let loads: Vec<f64> = recs
        .iter()
        .filter_map(|r| {
            r.get("loadavg")
                .and_then(|l| l.get(0))
                .and_then(Value::as_f64)
        })
        .collect();
    if !loads.is_empty() {
        let lo = loads.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = loads.iter().cloned().fold(0.0, f64::max);
        line(
            &mut t,
            format!("\n1-min load average during podnet's measurements: {lo:.2}–{hi:.2}"),
        );
    }
    t
}

/// The data paths, named as the peers' `bench.py --mode datapath` names them.
pub(crate) const PATHS: [&str; 5] = [
    "container_to_container",
    "host_to_container_direct",
    "host_to_published_port_via_gateway_ip",
    "host_to_published_port_via_127.0.0.1",
    "external_ns_to_published_port",
];

/// Throughput per path: podnet beside the peers (their `iperf3_tcp` records), and the
/// 5 % target (podnet's median ≥ 0.95 × each peer's).
pub(crate) fn datapath_table(t: &mut String, recs: &[Value]) {
    // Pool the rounds: one record per tool and path, median of the rounds' medians.
    let pooled = |tool: &str, path: &str| -> Option<Value> {
        let rs: Vec<&Value> = recs
            .iter()
            .filter(|r| r["tool"] == tool && r["op"] == "iperf3_tcp" && r["path"] == path)
            .collect();
        let first = *rs.first()?;
        let meds: Vec<f64> = rs.iter().filter_map(|r| num(r, "median_gbps")).collect();
        if meds.is_empty() {
            return Some(first.clone());
        }
        let mins = rs.iter().filter_map(|r| num(r, "min_gbps"));
        let maxs = rs.iter().filter_map(|r| num(r, "max_gbps"));
        Some(json!({
            "median_gbps": r2(stats(&meds).median),
            "min_gbps": mins.fold(f64::INFINITY, f64::min),
            "max_gbps": maxs.fold(0.0, f64::max),
            "rounds": meds.len(),
        }))
    };
    let pooled_all: Vec<(String, String, Option<Value>)> = ["podnet", "netavark", "cni-plugins"]
        .iter()
        .flat_map(|t| {
            PATHS
                .iter()
                .map(move |p| (t.to_string(), p.to_string(), pooled(t, p)))
        })
        .collect();
    let gbps = |tool: &str, path: &str| -> Option<&Value> {
        pooled_all
            .iter()
            .find(|(t, p, _)| t == tool && p == path)
            .and_then(|x| x.2.as_ref())
    };
    let paths = PATHS;
    if !paths.iter().any(|p| gbps("podnet", p).is_some()) {
        return;
    }
    let cell = |r: Option<&Value>| -> String {
        match r {
            Some(r) if num(r, "median_gbps").is_some() => format!(
                "{:.2} ({:.2}–{:.2})",
                num(r, "median_gbps").unwrap_or(f64::NAN),
                num(r, "min_gbps").unwrap_or(f64::NAN),
                num(r, "max_gbps").unwrap_or(f64::NAN)
            ),
            Some(r) => format!("error: {}", r["error"]),
            None => "-".into(),
        }
    };
    t.push_str(&format!(
        "\ndata path: iperf3 -P 1, Gbit/s median (min–max) over all runs and rounds\n{:<40} {:>20} {:>20} {:>20} {:>8} {:>8}\n",
        "path", "podnet", "netavark", "CNI", "x nv", "x CNI"
    ));
    let mut worst: Option<f64> = None;
    for p in paths {
        let pod = gbps("podnet", p);
        let nv = gbps("netavark", p);
        let cni = gbps("cni-plugins", p);
        let ratio = |peer: Option<&Value>| -> Option<f64> {
            let a = pod.and_then(|r| num(r, "median_gbps"))?;
            let b = peer.and_then(|r| num(r, "median_gbps"))?;
            Some(a / b)
        };
        let (rn, rc) = (ratio(nv), ratio(cni));
        for x in [rn, rc].into_iter().flatten() {
            worst = Some(worst.map_or(x, |w: f64| w.min(x)));
        }
        let fx = |x: Option<f64>| x.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
        t.push_str(&format!(
            "{:<40} {:>20} {:>20} {:>20} {:>8} {:>8}\n",
            p,
            cell(pod),
            cell(nv),
            cell(cni),
            fx(rn),
            fx(rc)
        ));
    }
    if let Some(w) = worst {
        t.push_str(&format!(
            "  datapath within 5% of the peers (podnet median >= 0.95 x peer's, every path): {} (lowest ratio {w:.3})\n",
            if w >= 0.95 { "MET" } else { "NOT MET" }
        ));
    }
}
