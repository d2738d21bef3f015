//! The table: podnet's ops at each level beside their controls and floors, connect()
//! latency beside kube-proxy's layout, and the targets.

use serde_json::Value;

pub(crate) fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

pub(crate) fn level_of(v: &Value) -> Option<usize> {
    v.get("n").and_then(Value::as_u64).map(|n| n as usize)
}

pub(crate) fn find<'a>(recs: &'a [Value], tool: &str, op: &str, n: usize) -> Option<&'a Value> {
    recs.iter()
        .find(|r| r["tool"] == tool && r["op"] == op && level_of(r) == Some(n))
}

pub(crate) fn med(recs: &[Value], tool: &str, op: &str, n: usize) -> Option<f64> {
    find(recs, tool, op, n).and_then(|r| num(r, "median"))
}

pub(crate) fn report(recs: &[Value]) -> String {
    let mut t = String::new();
    let mut line = |s: String| {
        t.push_str(&s);
        t.push('\n');
    };
    let mut levels: Vec<usize> = recs.iter().filter_map(level_of).collect();
    levels.sort_unstable();
    levels.dedup();
    let fmt = |x: Option<f64>| x.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
    line(format!(
        "{:<44} {:>6} {:>10} {:>10} {:>10} {:>5}  {}",
        "op", "n", "median", "p90", "p99", "runs", "unit / ratio"
    ));
    let groups: &[(&str, &str, &str)] = &[
        (
            "podnet",
            "create_populate",
            "podnet service create (populating)",
        ),
        (
            "podnet",
            "gc_from_nothing",
            "podnet gc, table ip podnet-svc deleted",
        ),
        ("podnet", "gc_present", "podnet gc, table present"),
        (
            "floor",
            "full_inprocess",
            "floor: plan::full + apply in-process",
        ),
        (
            "kube",
            "iptables_restore",
            "kube-proxy layout: iptables-restore",
        ),
        ("podnet", "svc_add", "podnet service create (1 more)"),
        ("podnet", "svc_rm", "podnet service rm"),
        (
            "podnet",
            "ep_add_attach",
            "podnet attach -l app=probe (1 svc +1 ep)",
        ),
        ("podnet", "ctl_attach", "  control: attach -l app=none"),
        (
            "podnet",
            "ep_del_detach",
            "podnet detach of it (1 svc -1 ep)",
        ),
        ("podnet", "ctl_detach", "  control: detach (no service)"),
        (
            "podnet",
            "ep_add_run",
            "podnet run -d -l app=probe (1 svc +1 ep)",
        ),
        ("podnet", "ctl_run", "  control: run -d -l app=none"),
        ("podnet", "ep_del_rm", "podnet rm -f of it (1 svc -1 ep)"),
        ("podnet", "ctl_rm", "  control: rm -f (no service)"),
        (
            "floor",
            "add_inprocess",
            "floor: add_service apply in-process",
        ),
        (
            "floor",
            "rm_inprocess",
            "floor: remove_service apply in-process",
        ),
        ("floor", "version", "floor: podnet --version"),
        ("floor", "true", "floor: /bin/true"),
        (
            "podnet",
            "connect_vip",
            "connect() via VIP, podnet (bucket maps)",
        ),
        (
            "podnet",
            "connect_direct",
            "  same sandbox, direct to backend",
        ),
        (
            "kube",
            "connect_vip",
            "connect() via VIP, kube-proxy iptables",
        ),
        (
            "kube",
            "connect_direct",
            "  same sandbox, direct to backend",
        ),
    ];
    for (tool, op, label) in groups {
        for &n in &levels {
            let Some(r) = find(recs, tool, op, n) else {
                continue;
            };
            let unit = r["unit"].as_str().unwrap_or("ms");
            let mut extra = unit.to_string();
            if let Some(f) = num(r, "failures").filter(|f| *f > 0.0) {
                extra.push_str(&format!(", {f} failed"));
            }
            // Ratios: change ops to the bare process floor; VIP connects to direct ones.
            let base = match *op {
                "connect_vip" => med(recs, tool, "connect_direct", n),
                "svc_add" | "svc_rm" => med(recs, "floor", "version", n),
                "ep_add_attach" => med(recs, tool, "ctl_attach", n),
                "ep_del_detach" => med(recs, tool, "ctl_detach", n),
                "ep_add_run" => med(recs, tool, "ctl_run", n),
                "ep_del_rm" => med(recs, tool, "ctl_rm", n),
                _ => None,
            };
            if let (Some(b), Some(m)) = (base, num(r, "median")) {
                let what = match *op {
                    "connect_vip" => "direct",
                    "svc_add" | "svc_rm" => "--version",
                    _ => "control",
                };
                extra.push_str(&format!(", {:+.3} vs {what}", m - b));
            }
            line(format!(
                "{:<44} {:>6} {:>10} {:>10} {:>10} {:>5}  {}",
                label,
                n,
                fmt(num(r, "median")),
                fmt(num(r, "p90")),
                fmt(num(r, "p99")),
                r["runs"].as_u64().unwrap_or(0),
                extra
            ));
        }
    }

    // Targets.
    line(String::new());
    line("targets:".into());
    let top = levels.iter().copied().max();
    if let Some(top) = top {
        if let Some(m) = med(recs, "podnet", "gc_from_nothing", top) {
            line(format!(
                "  full load of {top} services (podnet gc from nothing) <= 1000 ms: {} ({m:.1} ms median)",
                if m <= 1000.0 { "MET" } else { "NOT MET" }
            ));
        }
        for (op, what) in [
            ("svc_add", "add one service"),
            ("svc_rm", "remove one service"),
            ("ep_add_run", "one endpoint added (run -d, incl. container)"),
            ("ep_del_rm", "one endpoint removed (rm -f, incl. container)"),
            ("ep_add_attach", "one endpoint added (attach, incl. veth)"),
            (
                "ep_del_detach",
                "one endpoint removed (detach, incl. veth delete)",
            ),
        ] {
            if let Some(m) = med(recs, "podnet", op, top) {
                line(format!(
                    "  {what} at n={top} <= 5 ms: {} ({m:.2} ms median)",
                    if m <= 5.0 { "MET" } else { "NOT MET" }
                ));
            }
        }
    }
    for tool in ["podnet", "kube"] {
        let ms: Vec<(usize, f64)> = levels
            .iter()
            .filter_map(|&n| med(recs, tool, "connect_vip", n).map(|m| (n, m)))
            .collect();
        if ms.len() > 1 {
            let base = ms[0].1;
            let dev = ms
                .iter()
                .map(|x| (x.1 / base - 1.0) * 100.0)
                .fold(0.0f64, |a, d| if d.abs() > a.abs() { d } else { a });
            line(format!(
                "  {tool} connect() via VIP flat within ±20% of n={}: {} (largest change {dev:+.0}%; medians {})",
                ms[0].0,
                if dev.abs() <= 20.0 { "MET" } else { "NOT MET" },
                ms.iter()
                    .map(|(n, m)| format!("{n}: {m:.1} µs"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    t
}
