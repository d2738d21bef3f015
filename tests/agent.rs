//! The per-host agent (issue 10): started on demand by the CLI inside the sandbox (whose PID
//! namespace ends it), serving names on DNS-enabled networks' gateways. Real `dig` and
//! `getent` from container namespaces; the agent's own view is never trusted.

mod common;

use common::agent::{agent_log, agent_pid, dig_from, kill_agent, netns};
use common::*;
use podnet::testbed::{describe, Sandbox};
use serde_json::Value;
use std::time::Duration;

const GW: &str = "10.77.0.1";
const GW6: &str = "fd00:77::1";
const GW_OTHER: &str = "10.78.0.1";

/// (from, server, question..., status, answers)
type Case<'a> = (&'a str, &'a str, Vec<&'a str>, &'a str, Vec<String>);

fn ip_of(c: &Value) -> String {
    s(c, "ip").to_string()
}

/// `GET /` from container `from` to `ip:port` (the server may still be starting: a refused
/// connection is tried again); what came back first.
fn http_get(sb: &Sandbox, from: &str, ip: &str, port: u16) -> String {
    let script = format!(
        "import socket, time\nfor _ in range(100):\n  try:\n    s = socket.create_connection(('{ip}', {port}), timeout=5); break\n  except ConnectionRefusedError: time.sleep(0.05)\ns.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(64).decode())"
    );
    let out = output({
        let mut c = sb.in_netns(netns(from), "python3");
        c.args(["-c", &script]);
        c
    });
    ok(&format!("GET http://{ip}:{port}/ from {from}"), out)
}

/// Two networks (app dual-stack, other IPv4), created with DNS on (the default).
fn two_networks(sb: &Sandbox) {
    podnet_ok(
        sb,
        &[
            "network",
            "create",
            "app",
            "--subnet",
            "10.77.0.0/24",
            "--subnet",
            "fd00:77::/64",
        ],
    );
    podnet_ok(
        sb,
        &["network", "create", "other", "--subnet", "10.78.0.0/24"],
    );
}

fn run_d(sb: &Sandbox, name: &str, network: &str, extra: &[&str]) -> Value {
    podnet_ok(sb, &argv::run_d_sleeping(name, network, extra));
    inspect(sb, name)
}

#[test]
fn names_on_a_network_resolve_from_its_containers_and_nowhere_else() {
    let sb = sandbox();
    two_networks(&sb);
    let db = run_d(&sb, "db", "app", &[]);
    run_d(&sb, "client", "app", &[]);
    run_d(&sb, "lonely", "other", &[]);
    let web = sb.scratch();
    podnet_ok(
        &sb,
        &argv::run_d_http("web1", "app", &["-l", "app=web"], web, "8080"),
    );
    let svc = podnet_json(
        &sb,
        &[
            "service",
            "create",
            "websvc",
            "--port",
            "80:8080",
            "--selector",
            "app=web",
        ],
    );
    let vip = svc["vip"].as_str().expect("the service's VIP").to_string();
    let db_ip = ip_of(&db);
    let db_ip6 = s(&db, "ip6").to_string();
    let ptr = "db.dns.podnet.".to_string();
    let cases: Vec<Case> = vec![
        (
            "client",
            GW,
            vec!["db", "A"],
            "NOERROR",
            vec![db_ip.clone()],
        ),
        ("client", GW6, vec!["db", "AAAA"], "NOERROR", vec![db_ip6]),
        ("client", GW, vec!["-x", &db_ip], "NOERROR", vec![ptr]),
        (
            "client",
            GW,
            vec!["websvc", "A"],
            "NOERROR",
            vec![vip.clone()],
        ),
        ("client", GW, vec!["lonely", "A"], "NXDOMAIN", vec![]),
        ("client", GW, vec!["nobody", "A"], "NXDOMAIN", vec![]),
        ("lonely", GW_OTHER, vec!["db", "A"], "NXDOMAIN", vec![]),
        ("lonely", GW_OTHER, vec!["lonely", "A"], "NOERROR", vec![]),
        (
            "lonely",
            GW_OTHER,
            vec!["websvc", "A"],
            "NOERROR",
            vec![vip.clone()],
        ),
    ];
    for (from, server, q, status, want) in cases {
        let got = dig_from(&sb, from, server, &q);
        assert_eq!(got.status, status, "{from} asks {server} {q:?}: {got:?}");
        if from == "lonely" && q[0] == "lonely" {
            let mine = ip_of(&inspect(&sb, "lonely"));
            assert_eq!(got.data(), vec![mine], "{got:?}");
            continue;
        }
        assert_eq!(got.data(), want, "{from} asks {server} {q:?}: {got:?}");
        for (ttl, _, _) in &got.answers {
            assert_eq!(
                *ttl, 0,
                "container and service names are not cached: {got:?}"
            );
        }
    }
    // The C library's resolver, with a resolv.conf naming the gateway (bind-mounted in a
    // mount namespace of the client's own: the host's file stays as it is).
    let conf = format!("{web}/resolv.conf");
    sb.sh_ok(&format!("echo 'nameserver {GW}' > {conf}"))
        .unwrap();
    let out = sb.sh(&format!(
        "nsenter --net={} -- unshare -m sh -c 'mount --bind {conf} /etc/resolv.conf && getent ahostsv4 db websvc'",
        netns("client")
    ));
    let text = ok("getent ahostsv4 db websvc", out);
    assert!(text.contains(&format!("{db_ip} ")), "{text}");
    assert!(text.contains(&format!("{vip} ")), "{text}");
    // The service's name leads to its backend.
    let got = http_get(&sb, "client", &vip, 80);
    assert!(got.starts_with("HTTP/1.0 200"), "{got}");
}

#[test]
fn a_name_answers_when_run_returns_and_is_gone_when_rm_returns() {
    let sb = sandbox();
    two_networks(&sb);
    run_d(&sb, "client", "app", &[]);
    for i in 0..100 {
        let name = format!("n{i}");
        let c = run_d(&sb, &name, "app", &[]);
        let got = dig_from(&sb, "client", GW, &[&name, "A"]);
        assert_eq!(
            (got.status.as_str(), got.data()),
            ("NOERROR", vec![ip_of(&c)]),
            "iteration {i}: right after run: {got:?}"
        );
        podnet_ok(&sb, &["rm", "-f", &name]);
        let got = dig_from(&sb, "client", GW, &[&name, "A"]);
        assert_eq!(
            got.status, "NXDOMAIN",
            "iteration {i}: right after rm: {got:?}"
        );
    }
}

#[test]
fn one_agent_per_host_started_only_for_a_dns_network() {
    let sb = sandbox();
    // The default network has no DNS (like Docker's default bridge), nor has --dns=false.
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "quiet",
            "--subnet",
            "10.79.0.0/24",
            "--dns=false",
        ],
    );
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "a", "--", "sleep", "infinity"],
    );
    podnet_ok(&sb, &argv::run_d_sleeping("b", "quiet", &[]));
    assert_eq!(agent_pid(&sb), None, "no DNS network has a container yet");
    let mut dns: Vec<(String, bool)> = networks(&sb)
        .iter()
        .map(|n| (s(n, "name").to_string(), n["dns"].as_bool().unwrap()))
        .collect();
    dns.sort();
    assert_eq!(
        dns,
        vec![("podnet0".into(), false), ("quiet".into(), false)],
        "network ls"
    );
    podnet_ok(
        &sb,
        &["network", "create", "app", "--subnet", "10.77.0.0/24"],
    );
    assert_eq!(net_inspect(&sb, "app")["dns"], true, "on by default");
    run_d(&sb, "c", "app", &[]);
    let pid = agent_pid(&sb).expect("the first container on a DNS network started the agent");
    let cmdline = ok(
        "the agent's command line",
        sb.sh(&format!("tr '\\0' ' ' < /proc/{pid}/cmdline")),
    );
    assert!(cmdline.contains("agent --foreground"), "{cmdline}");
    // A second one, either way, says who runs and leaves it be.
    for args in [&["agent"][..], &["agent", "--foreground"][..]] {
        let out = sb.podnet(args);
        assert!(out.status.success(), "{}", describe(&out));
        let err = podnet::testbed::stderr(&out);
        assert!(
            err.contains(&format!("agent already running (pid {pid})")),
            "podnet {args:?}: {err}"
        );
    }
    assert_eq!(agent_pid(&sb), Some(pid));
    // A container on the DNS-less network is not named.
    let got = dig_from(&sb, "c", GW, &["b", "A"]);
    assert_eq!(got.status, "NXDOMAIN", "{got:?}");
}

#[test]
fn a_killed_agent_comes_back_with_the_next_command_and_the_rest_works_without_it() {
    let sb = sandbox();
    two_networks(&sb);
    let db = run_d(&sb, "db", "app", &[]);
    run_d(&sb, "client", "app", &[]);
    let pid = agent_pid(&sb).expect("agent started");
    kill_agent(&sb, pid);
    let got = dig_from(&sb, "client", GW, &["db", "A"]);
    assert_eq!(
        got.status, "",
        "nothing answers while the agent is down: {got:?}"
    );
    // Everything else works without it: a container runs and serves its neighbours.
    podnet_ok(
        &sb,
        &argv::run_d_http("other", "app", &[], sb.scratch(), "8080"),
    );
    let other = ip_of(&inspect(&sb, "other"));
    let got = http_get(&sb, "client", &other, 8080);
    assert!(got.starts_with("HTTP/1.0 200"), "{got}");
    // ... and that command brought the agent back, serving the names again.
    let back = agent_pid(&sb).expect("the next command started an agent");
    assert_ne!(back, pid);
    let got = dig_from(&sb, "client", GW, &["db", "A"]);
    assert_eq!(got.data(), vec![ip_of(&db)], "{got:?}");
    assert_eq!(
        dig_from(&sb, "client", GW, &["other", "A"]).data(),
        vec![other]
    );
}

/// `n` times `GET /` to `ip:port` with `python3` (a `Command` to run it where the client
/// is); each answer's body, one per connection. A refused first connection is tried again
/// (the server may still be starting).
fn get_many(mut python: std::process::Command, ip: &str, port: u16, n: usize) -> Vec<String> {
    // Each attempt's outcome is a line (`ERR ...` for a failure) so that a failure shows
    // which attempt it was and what the others got.
    let script = format!(
        r#"import socket, time
def get():
    s = socket.create_connection(("{ip}", {port}), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        b = s.recv(4096)
        if not b: break
        data += b
    return data.split(b"\r\n\r\n", 1)[1].decode().strip()
for _ in range(100):
    try: get(); break
    except ConnectionRefusedError: time.sleep(0.05)
for i in range({n}):
    try: print(get(), flush=True)
    except Exception as e: print(f"ERR attempt {{i}} at {{time.monotonic():.3f}}: {{e!r}}", flush=True)
"#
    );
    python.args(["-c", &script]);
    let text = ok(&format!("GET http://{ip}:{port}/ x{n}"), output(python));
    text.lines().map(str::to_string).collect()
}

/// Asserts every answer came from a backend; on failure shows what podnet had programmed
/// and what its agent logged.
fn assert_all_answered(sb: &Sandbox, what: &str, got: &[String]) {
    if got.iter().any(|l| l.starts_with("ERR")) {
        let state = sb.sh(
            "date +%s.%N; nft list table ip podnet-svc; nft list table ip podnet; \
             conntrack -L 2>/dev/null | head -50; cat /proc/uptime",
        );
        let log = sb.sh(&format!(
            "cat {}/agent.log",
            podnet::testbed::SANDBOX_STATE_DIR
        ));
        panic!(
            "{what}: {got:?}\n--- kernel ---\n{}\n--- agent log ---\n{}",
            describe(&state),
            describe(&log)
        );
    }
}

/// A directory in the sandbox's scratch space whose index.html says `text`.
fn site(sb: &Sandbox, text: &str) -> String {
    let dir = format!("{}/{text}", sb.scratch());
    sb.sh_ok(&format!("mkdir -p {dir} && echo {text} > {dir}/index.html"))
        .unwrap();
    dir
}

fn serve_http(sb: &Sandbox, name: &str, label: &str) -> Value {
    let dir = site(sb, name);
    podnet_ok(
        sb,
        &argv::run_d_http(name, "app", &["-l", label, "-p", "8080"], &dir, "8080"),
    );
    wait_tcp_listening(sb, &netns(name), 8080);
    inspect(sb, name)
}

#[test]
fn a_flushed_ruleset_is_restored_with_no_podnet_command() {
    let lab = lab();
    let sb = &lab.host;
    podnet_ok(
        sb,
        &["network", "create", "app", "--subnet", "10.77.0.0/24"],
    );
    serve_http(sb, "web", "app=web");
    let port = ok("ports", sb.podnet(["ports", "web", "--format", "json"]));
    let port: u16 = parse("ports", &port)[0]["host_port"].as_u64().unwrap() as u16;
    let svc = podnet_json(
        sb,
        &[
            "service",
            "create",
            "s",
            "--port",
            "80:8080",
            "--selector",
            "app=web",
        ],
    );
    let vip = svc["vip"].as_str().unwrap().to_string();
    run_d(sb, "client", "app", &[]);
    let outside = || get_many(lab.outside.cmd("python3"), "198.18.0.1", port, 1);
    let to_vip = || get_many(sb.in_netns(netns("client"), "python3"), &vip, 80, 1);
    assert_eq!(outside(), vec!["web"], "published port before the flush");
    assert_eq!(to_vip(), vec!["web"], "service before the flush");
    // Another podnet process's full render (gc re-renders every table) is not a loss.
    podnet_ok(sb, &["gc"]);
    podnet_ok(sb, &["network", "create", "other"]);
    sb.sh_ok("nft flush ruleset").unwrap();
    sb.wait_until("podnet's tables back", Duration::from_secs(10), || {
        sb.sh("nft list table ip podnet && nft list table ip podnet-svc")
            .status
            .success()
    })
    .unwrap();
    assert_eq!(outside(), vec!["web"], "published port after the flush");
    assert_eq!(to_vip(), vec!["web"], "service after the flush");
    // The log names who took the tables away, and only them.
    let log = agent_log(sb);
    let repairs: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("deleted podnet's nftables"))
        .collect();
    assert!(
        !repairs.is_empty() && repairs.iter().all(|l| l.contains("'nft' (pid ")),
        "repairs logged: {repairs:?}\n{log}"
    );
}

#[test]
fn a_backend_whose_process_dies_leaves_its_service() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "app", "--subnet", "10.77.0.0/24"],
    );
    let w1 = serve_http(&sb, "w1", "app=w");
    serve_http(&sb, "w2", "app=w");
    let svc = podnet_json(
        &sb,
        &[
            "service",
            "create",
            "s",
            "--port",
            "80:8080",
            "--selector",
            "app=w",
        ],
    );
    let vip = svc["vip"].as_str().unwrap().to_string();
    run_d(&sb, "client", "app", &[]);
    let get = |n| get_many(sb.in_netns(netns("client"), "python3"), &vip, 80, n);
    let before = get(40);
    assert_all_answered(&sb, "before the kill", &before);
    assert!(
        before.iter().any(|b| b == "w1") && before.iter().any(|b| b == "w2"),
        "both backends serve before: {before:?}"
    );
    let pid = w1["pid"].as_u64().expect("w1's pid");
    sb.sh_ok(&format!("kill -9 {pid}")).unwrap();
    let w1_ip = ip_of(&w1);
    sb.wait_until(
        "w1 out of the service's backends",
        Duration::from_secs(10),
        || !ok("eps", sb.sh("nft list map ip podnet-svc eps")).contains(&format!("{w1_ip} ")),
    )
    .unwrap();
    let after = get(100);
    assert_all_answered(&sb, "after the kill", &after);
    assert_eq!(after.len(), 100);
    assert!(after.iter().all(|b| b == "w2"), "after the kill: {after:?}");
}
