//! `podnet trace` (issue 12, acceptance 2–4): real probes in a two-machine lab, followed by
//! nftables tracing, each path checked for the podnet object that decided it; a trace killed
//! with SIGKILL leaves every namespace's ruleset as it was; bad input as a table.

mod common;

use common::publish::*;
use common::service::service;
use common::*;
use podnet::testbed::Lab;
use serde_json::Value;
use std::time::Duration;

fn trace(lab: &Lab, args: &[&str]) -> Value {
    let mut all = vec!["trace"];
    all.extend(args);
    podnet_json(&lab.host, &all)
}

fn hop_objects(r: &Value) -> Vec<String> {
    r["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["object"].as_str().map(String::from))
        .collect()
}

fn has_object(r: &Value, needle: &str) {
    let objects = hop_objects(r);
    assert!(
        objects.iter().any(|o| o.contains(needle)),
        "no hop names {needle:?}: {objects:#?}\n{r:#}"
    );
}

fn outcome(r: &Value, want: &str) {
    assert_eq!(r["outcome"], want, "{r:#}");
}

/// `podnet trace FROM TO` started in the background with its pid (in the sandbox) and
/// stderr in scratch files; returns (pid file, stderr file, stdout file) as host paths.
fn background_trace(lab: &Lab, tag: &str, from: &str, to: &str) -> (String, String, String) {
    let dir = lab.host.scratch();
    let (pid, err, out) = (
        format!("{dir}/{tag}.pid"),
        format!("{dir}/{tag}.err"),
        format!("{dir}/{tag}.out"),
    );
    let mut c = lab.host.cmd("sh");
    c.arg("-c").arg(format!(
        "echo $$ > {pid}; exec '{}' trace {from} {to} --timeout 30 --format json > {out} 2> {err}",
        lab.host.podnet_bin().display()
    ));
    lab.host.spawn(c).unwrap();
    let err_host = lab.host.host_path(&err);
    lab.host
        .wait_until("the trace to be armed", Duration::from_secs(20), || {
            std::fs::read_to_string(&err_host).is_ok_and(|t| t.contains("armed"))
        })
        .unwrap_or_else(|e| panic!("{e}: {:?}", std::fs::read_to_string(&err_host)));
    (pid, err, out)
}

/// The report of a [`background_trace`], once it has followed its packet.
fn armed_report(lab: &Lab, out: &str) -> Value {
    let out_host = lab.host.host_path(out);
    lab.host
        .wait_until("the armed trace's report", Duration::from_secs(30), || {
            std::fs::read_to_string(&out_host).is_ok_and(|t| t.trim_end().ends_with('}'))
        })
        .unwrap();
    let r: Value = parse("armed trace", &std::fs::read_to_string(&out_host).unwrap());
    assert_eq!(r["armed"], true, "{r:#}");
    r
}

/// Some hop of the report is in `table` with `verdict`.
fn has_hop(r: &Value, table: &str, verdict: &str) {
    let hops = r["hops"].as_array().unwrap();
    assert!(
        hops.iter()
            .any(|h| h["table"] == table && h["verdict"] == verdict),
        "no {verdict} in {table}: {r:#}"
    );
}

#[test]
fn reached_paths_name_what_carried_them() {
    let lab = lab();
    podnet_ok(&lab.host, &["network", "create", "app"]);
    run_idle(&lab.host, "a1", &["--network", "app"]);
    run_idle(&lab.host, "a2", &["--network", "app"]);
    run_idle(&lab.host, "web", &["--network", "app", "-p", "8080:80"]);
    run_idle(&lab.host, "b1", &["--network", "app"]);
    service(
        &lab.host,
        "api",
        &["--port", "80/tcp", "--backend", "b1:8080"],
    );

    // Container to container on one bridge: delivered in a2, the network named.
    let r = trace(&lab, &["a1", "a2:80"]);
    outcome(&r, "reached");
    assert!(s(&r, "summary").contains("container a2"), "{r:#}");
    has_object(&r, "network app: its containers talk");

    // To a container sharing web's namespace (`--network container:web`): web's address.
    run_idle(&lab.host, "side", &["--network", "container:web"]);
    let r = trace(&lab, &["a1", "side:80"]);
    outcome(&r, "reached");
    assert!(s(&r, "summary").contains("side"), "{r:#}");

    // Container to outside: masqueraded, the rewritten source is the host's address.
    let r = trace(&lab, &["a1", &format!("{OUTSIDE_IP}:7100")]);
    outcome(&r, "left");
    has_object(&r, "masquerade for network app");
    let snat = r["rewrites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "snat")
        .unwrap_or_else(|| panic!("no snat rewrite: {r:#}"));
    assert!(
        s(snat, "after").starts_with(&format!("{HOST_IP}:")),
        "{snat}"
    );
    assert!(s(&r, "summary").contains(HOST_IP), "{r:#}");

    // Container to a service VIP: the chosen backend is named.
    let r = trace(&lab, &["a1", "api:80"]);
    outcome(&r, "reached");
    has_object(&r, "service api, backend b1");
    assert!(s(&r, "summary").contains("container b1"), "{r:#}");

    // Host to 127.0.0.1:8080: the published port of web, DNAT shown.
    let r = trace(&lab, &["host", "127.0.0.1:8080"]);
    outcome(&r, "reached");
    has_object(&r, "published port 8080 of web");
    let web_ip = s(&inspect(&lab.host, "web"), "ip").to_string();
    assert!(
        r["rewrites"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["kind"] == "dnat" && s(w, "after") == format!("{web_ip}:80")),
        "{r:#}"
    );

    // Outside to the published port: podnet cannot send for it, so it arms and follows the
    // next matching packet.
    let (_, _, out) = background_trace(&lab, "dnat", OUTSIDE_IP, &format!("{HOST_IP}:8080"));
    let _ = try_connect(&lab, At::Outside, "tcp", HOST_IP, 8080, 1.0);
    let r = armed_report(&lab, &out);
    outcome(&r, "reached");
    has_object(&r, "published port 8080 of web");
    assert!(s(&r, "summary").contains("container web"), "{r:#}");
}

#[test]
fn dropped_paths_say_why_in_one_sentence() {
    let lab = lab();
    podnet_ok(&lab.host, &["network", "create", "app"]);
    podnet_ok(&lab.host, &["network", "create", "db"]);
    podnet_ok(&lab.host, &["network", "create", "sealed", "--internal"]);
    run_idle(&lab.host, "a1", &["--network", "app"]);
    run_idle(&lab.host, "d1", &["--network", "db"]);
    run_idle(&lab.host, "i1", &["--network", "sealed"]);
    service(
        &lab.host,
        "empty",
        &["--port", "80/tcp", "--selector", "app=nothing"],
    );

    let r = trace(&lab, &["a1", "d1:80"]);
    outcome(&r, "dropped");
    has_object(&r, "isolation between networks app and db");
    assert!(s(&r, "summary").contains("app and db"), "{r:#}");
    assert!(r["fix"].is_string(), "{r:#}");

    let r = trace(&lab, &["i1", &format!("{OUTSIDE_IP}:7100")]);
    outcome(&r, "dropped");
    assert!(
        s(&r, "summary").contains("network sealed is internal"),
        "{r:#}"
    );

    // A rule of the container's own drops it: not podnet's, and the fix looks inside it.
    run_idle(&lab.host, "a2", &["--network", "app"]);
    for rule in [
        "add table inet fw",
        "add chain inet fw in { type filter hook input priority 0; }",
        "add rule inet fw in tcp dport 81 drop",
    ] {
        podnet_ok(&lab.host, &["exec", "a2", "--", "nft", rule]);
    }
    let r = trace(&lab, &["a1", "a2:81"]);
    outcome(&r, "dropped");
    assert!(s(&r, "summary").contains("podnet did not make"), "{r:#}");
    assert!(
        s(&r, "fix").contains("podnet exec a2 -- nft -a list chain inet fw in"),
        "{r:#}"
    );

    let r = trace(&lab, &["a1", "empty:80"]);
    outcome(&r, "dropped");
    has_object(&r, "service empty has no backend");
    assert!(s(&r, "summary").contains("no backend"), "{r:#}");

    let r = trace(&lab, &["a1", &format!("{HOST_IP}:9999")]);
    outcome(&r, "unpublished");
    assert!(
        s(&r, "summary").contains("no container publishes port 9999/tcp"),
        "{r:#}"
    );
}

/// Drops of the bridge family (`table bridge podnet`): `--icc=false` between two containers
/// of one network, and anti-spoofing. podnet sends only from a container's own address, so
/// for a forged source the trace is armed as for an outside sender (FROM is that address)
/// and the container itself sends from it: `ip addr add` in its namespace, a static
/// neighbour entry for the destination (its ARP from the forged address is dropped too) and
/// a connect bound to the forged address.
#[test]
fn bridge_family_drops_name_the_network_and_the_spoofer() {
    let lab = lab();
    podnet_ok(&lab.host, &["network", "create", "quiet", "--icc=false"]);
    podnet_ok(&lab.host, &["network", "create", "app"]);
    run_idle(&lab.host, "q1", &["--network", "quiet"]);
    run_idle(&lab.host, "q2", &["--network", "quiet"]);
    let a1 = run_idle(&lab.host, "a1", &["--network", "app"]);
    let a2 = run_idle(&lab.host, "a2", &["--network", "app"]);

    let r = trace(&lab, &["q1", "q2:80"]);
    outcome(&r, "dropped");
    has_hop(&r, "bridge podnet", "drop");
    has_object(&r, "--icc=false on network quiet");
    assert!(
        s(&r, "summary").contains("network quiet has --icc=false"),
        "{r:#}"
    );
    assert!(r["fix"].is_string(), "{r:#}");

    let subnet: ipnet::Ipv4Net = s(&net_inspect(&lab.host, "app"), "subnet").parse().unwrap();
    let forged = subnet.hosts().nth(199).unwrap().to_string();
    let (netns, a2_ip) = (s(&a1, "netns"), s(&a2, "ip"));
    for args in [
        vec!["addr", "add", &format!("{forged}/32"), "dev", "eth0"],
        vec![
            "neigh",
            "replace",
            a2_ip,
            "lladdr",
            s(&a2, "mac"),
            "dev",
            "eth0",
            "nud",
            "permanent",
        ],
    ] {
        let mut c = lab.host.in_netns(netns, "ip");
        c.args(&args);
        ok(&format!("ip {args:?} in a1"), output(c));
    }
    let (_, _, out) = background_trace(&lab, "spoof", &forged, "a2:80");
    let mut c = nettool_in(&lab.host, netns);
    c.args([
        "connect",
        "tcp",
        a2_ip,
        "80",
        "--timeout",
        "1",
        "--source",
        &forged,
    ]);
    assert!(!output(c).status.success(), "a forged SYN was answered");
    let r = armed_report(&lab, &out);
    outcome(&r, "dropped");
    has_hop(&r, "bridge podnet", "drop");
    has_object(&r, "anti-spoofing for container a1");
    let a1_ip = s(&a1, "ip");
    assert!(
        s(&r, "summary").contains(&format!("not its own address {a1_ip}")),
        "{r:#}"
    );
}

/// The same paths over IPv4 and IPv6 on dual-stack networks: one table of cases, each traced
/// once per family (`-6` for the IPv6 run), with the same object names and sentences. The
/// IPv6 run's packets are checked to be IPv6. Not in the table: container → outside over
/// IPv6 (the lab's uplink is IPv4 only).
#[test]
fn ipv4_and_ipv6_paths_name_the_same_objects() {
    let lab = lab();
    podnet_ok(&lab.host, &["network", "create", "app", "--ipv6"]);
    podnet_ok(&lab.host, &["network", "create", "db", "--ipv6"]);
    podnet_ok(
        &lab.host,
        &["network", "create", "quiet", "--ipv6", "--icc=false"],
    );
    for (name, net, extra) in [
        ("a1", "app", &[][..]),
        ("a2", "app", &[]),
        ("web", "app", &["-p", "8080:80"]),
        ("b1", "app", &[]),
        ("d1", "db", &[]),
        ("q1", "quiet", &[]),
        ("q2", "quiet", &[]),
    ] {
        let mut args = vec!["--network", net];
        args.extend_from_slice(extra);
        run_idle(&lab.host, name, &args);
    }
    podnet_ok(
        &lab.host,
        &[
            "service",
            "create",
            "api",
            "--port",
            "80/tcp",
            "--backend",
            "b1:8080",
            "--ip-family",
            "dual",
        ],
    );
    // (FROM, TO:PORT, outcome, a hop's object, the summary)
    let cases = [
        (
            "a1",
            "a2:80",
            "reached",
            "network app: its containers talk",
            "container a2",
        ),
        (
            "a1",
            "api:80",
            "reached",
            "service api, backend b1",
            "container b1",
        ),
        (
            "host",
            "host:8080",
            "reached",
            "published port 8080 of web",
            "container web",
        ),
        (
            "a1",
            "d1:80",
            "dropped",
            "isolation between networks app and db",
            "app and db are isolated",
        ),
        (
            "q1",
            "q2:80",
            "dropped",
            "--icc=false on network quiet",
            "network quiet has --icc=false",
        ),
    ];
    for v6 in [false, true] {
        for (from, to, want, object, summary) in cases {
            let mut args = vec![from, to];
            if v6 {
                args.push("-6");
            }
            let r = trace(&lab, &args);
            outcome(&r, want);
            // IPv6 between two icc=false containers: the SYN never leaves q1 (its neighbour
            // discovery is what podnet drops), so no hop names the rule; the summary does.
            if !(v6 && from == "q1") {
                has_object(&r, object);
            }
            assert!(s(&r, "summary").contains(summary), "{args:?}: {r:#}");
            let first = r["hops"][0]["packet"]["daddr"].as_str().unwrap_or_default();
            assert_eq!(
                first.parse::<std::net::IpAddr>().map(|a| a.is_ipv6()),
                Ok(v6),
                "{args:?}: {r:#}"
            );
        }
    }
    // An IPv6 address as TO means IPv6 without -6; [::1] is the host's published port.
    let a2_ip6 = s(&inspect(&lab.host, "a2"), "ip6").to_string();
    let r = trace(&lab, &["a1", &format!("[{a2_ip6}]:80")]);
    outcome(&r, "reached");
    let r = trace(&lab, &["host", "[::1]:8080"]);
    outcome(&r, "reached");
    has_object(&r, "published port 8080 of web");
}

fn rulesets(lab: &Lab, containers: &[&str]) -> Vec<String> {
    let mut out = vec![lab.host.sh_ok("nft list ruleset").unwrap()];
    for c in containers {
        out.push(podnet_ok(
            &lab.host,
            &["exec", c, "--", "nft", "list", "ruleset"],
        ));
    }
    out
}

#[test]
fn sigkill_mid_trace_leaves_no_rule_in_any_namespace() {
    let lab = lab();
    run_idle(&lab.host, "web", &["-p", "8080:80"]);
    let before = rulesets(&lab, &["web"]);
    let (pid, _, _) = background_trace(&lab, "kill", OUTSIDE_IP, &format!("{HOST_IP}:8080"));
    // Armed: the tracer's table is there, in the host and in web's namespace.
    let armed = rulesets(&lab, &["web"]);
    for (i, r) in armed.iter().enumerate() {
        assert!(r.contains("podnet-trace-"), "namespace {i} not armed:\n{r}");
    }
    lab.host
        .sh_ok(&format!(
            "kill -9 $(cat {pid}); while kill -0 $(cat {pid}) 2>/dev/null; do sleep 0.02; done"
        ))
        .unwrap();
    assert_eq!(rulesets(&lab, &["web"]), before);
}

#[test]
fn bad_input_is_refused_with_what_to_do() {
    let lab = lab();
    run_idle(&lab.host, "web", &[]);
    run_idle(&lab.host, "h", &["--network", "host"]);
    run_idle(&lab.host, "lone", &["--network", "none"]);
    service(
        &lab.host,
        "api",
        &["--port", "80/tcp", "--backend", "web:80"],
    );
    let cases: &[(&[&str], &str)] = &[
        (&["trace", "nosuch", "web:80"], "nosuch"),
        (&["trace", "web", "nosuch:80"], "nosuch"),
        (&["trace", "web", "web"], "TO:PORT"),
        (&["trace", "web", "web:0"], "TO:PORT"),
        (&["trace", "web", "web:99999"], "TO:PORT"),
        (&["trace", "web", "web:80/icmp"], "tcp or udp"),
        (&["trace", "api", "web:80"], "a service sends nothing"),
        (&["trace", "web", "api:81"], "no port 81/tcp"),
        (&["trace", "web", "web:80", "--timeout", "0"], "--timeout"),
        (&["trace", "web", "web:80", "-6"], "no IPv6 address"),
        (&["trace", "web", "api:80", "-6"], "no IPv6 VIP"),
        (
            &["trace", "10.1.2.3", "[fd00::1]:80"],
            "different IP families",
        ),
        (&["trace", "web", "[fd00::1:80"], "[ADDR]:PORT"),
        (&["trace", "web", "web:80", "--count", "0"], "--count"),
        (&["trace", "web", "web:80", "--count", "101"], "--count"),
        (&["trace", "web", "h:80"], "uses the host's network"),
        (&["trace", "web", "lone:80"], "--network none"),
    ];
    for (args, needle) in cases {
        let out = lab.host.podnet(*args);
        assert_error(&format!("{args:?}"), &out, 2, needle);
    }
    // Nothing was armed by any of them.
    assert!(!lab
        .host
        .sh_ok("nft list ruleset")
        .unwrap()
        .contains("podnet-trace"));
}

/// The (protocol, source port) pairs of every packet a report shows: one probe's packets
/// keep the source port the tracer bound (no NAT here rewrites it).
fn flows(r: &Value) -> std::collections::BTreeSet<(u64, u64)> {
    r["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["packet"].is_object())
        .map(|h| {
            (
                h["packet"]["proto"].as_u64().unwrap(),
                h["packet"]["sport"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Hostile: traces at the same time, as separate processes (the CLI) and as threads of one
/// process (`podnet ui` answers each request on its own thread). Every tracer hears every
/// trace event of its namespaces; each report must still hold only its own probe's packets,
/// and two traces in one process must not share a table.
#[test]
fn concurrent_traces_each_follow_only_their_own_probe() {
    let lab = lab();
    podnet_ok(&lab.host, &["network", "create", "app"]);
    for c in ["a", "b", "c"] {
        run_idle(&lab.host, c, &["--network", "app"]);
    }
    run_idle(&lab.host, "web", &["--network", "app", "-p", "8080:80"]);
    let dir = lab.host.scratch();
    let bin = lab.host.podnet_bin().display().to_string();
    let jobs = [
        ("a", "b:80", "container b"),
        ("c", "b:81", "container b"),
        ("host", "127.0.0.1:8080", "container web"),
        ("a", "web:80", "container web"),
    ];
    let check = |what: &str, r: &Value, want: &str| {
        assert_eq!(r["outcome"], "reached", "{what}: {r:#}");
        assert!(s(r, "summary").contains(want), "{what}: {r:#}");
        assert_eq!(flows(r).len(), 1, "{what}: another probe's packets: {r:#}");
        assert!(
            !serde_json::to_string(r).unwrap().contains("podnet-trace-"),
            "{what}: another tracer's table: {r:#}"
        );
    };

    let script: String = jobs
        .iter()
        .enumerate()
        .map(|(i, (from, to, _))| {
            format!("'{bin}' trace {from} {to} --format json > {dir}/cli{i}.json 2>&1 & ")
        })
        .collect();
    lab.host.sh_ok(&format!("{script} wait")).unwrap();
    for (i, (from, to, want)) in jobs.iter().enumerate() {
        let text =
            std::fs::read_to_string(lab.host.host_path(format!("{dir}/cli{i}.json"))).unwrap();
        let r = parse(&format!("trace {from} {to}"), &text);
        check(&format!("cli {from} -> {to}"), &r, want);
        if *to == "b:80" {
            assert_eq!(r["rewrites"], serde_json::json!([]), "{r:#}");
        }
    }

    // The same, as concurrent requests to one `podnet ui` process.
    let log = format!("{dir}/ui.log");
    lab.host
        .spawn({
            let mut c = lab.host.cmd("sh");
            c.arg("-c").arg(format!(
                "exec '{bin}' ui --listen 127.0.0.1:7071 > {log} 2>&1"
            ));
            c
        })
        .unwrap();
    let log_host = lab.host.host_path(&log);
    lab.host
        .wait_until("podnet ui to listen", Duration::from_secs(10), || {
            std::fs::read_to_string(&log_host).is_ok_and(|l| l.contains("127.0.0.1:7071"))
        })
        .unwrap();
    let script: String = jobs
        .iter()
        .enumerate()
        .map(|(i, (from, to, _))| {
            format!(
                "curl -sS -H 'Content-Type: application/json' -d '{{\"from\":\"{from}\",\"to\":\"{to}\"}}' http://127.0.0.1:7071/trace > {dir}/ui{i}.json 2>&1 & "
            )
        })
        .collect();
    lab.host.sh_ok(&format!("{script} wait")).unwrap();
    for (i, (from, to, want)) in jobs.iter().enumerate() {
        let text =
            std::fs::read_to_string(lab.host.host_path(format!("{dir}/ui{i}.json"))).unwrap();
        let r = parse(&format!("ui trace {from} {to}"), &text);
        check(&format!("ui {from} -> {to}"), &r, want);
    }
}
