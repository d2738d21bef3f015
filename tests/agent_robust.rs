//! The agent under stress (issue 10, acceptance 4 and 8), through podnet's own CLI and the
//! agent it starts: killed in the middle of a query flood and brought back by the next
//! command or by `podnet agent`; kept from running at all while everything but DNS goes on
//! working (published ports from the LAN, services, run and rm); its DNS port silent to the
//! LAN; and a TCP flood from one container that leaves another's lookups answered. Real
//! `dig` from container namespaces, real floods and connections.

mod common;

use common::agent::{agent_pid, dig_from, kill_agent, netns};
use common::dns::query;
use common::*;
use hickory_proto::rr::RecordType;
use podnet::testbed::thread_netns::in_netns_at;
use podnet::testbed::Sandbox;
use serde_json::Value;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const GW: &str = "10.77.0.1";

fn app_network(sb: &Sandbox) {
    podnet_ok(
        sb,
        &["network", "create", "app", "--subnet", "10.77.0.0/24"],
    );
}

fn run_d(sb: &Sandbox, name: &str) -> String {
    podnet_ok(sb, &argv::run_d_sleeping(name, "app", &[]));
    s(&inspect(sb, name), "ip").to_string()
}

/// `dig NAME` from `from` at the gateway: its addresses ([] when nothing answered).
fn lookup(sb: &Sandbox, from: &str, name: &str) -> Vec<String> {
    dig_from(sb, from, GW, &[name, "A"]).data()
}

/// A flood that runs on its own thread in a container's namespace until stopped; what it
/// counted comes back from [`Flood::stop`].
struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<usize>>,
}

impl Flood {
    fn start(
        sb: &Sandbox,
        from: &str,
        body: impl FnOnce(Arc<AtomicBool>) -> usize + Send + 'static,
    ) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let path: PathBuf = sb.host_path(netns(from));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || in_netns_at(&path, move || body(flag)));
        // Under way before anything is measured.
        std::thread::sleep(Duration::from_millis(300));
        Flood {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// UDP queries for container names at the gateway, about 10,000 a second (bounded so the
/// shared machine's two cores still run the agent); how many were sent.
fn udp_queries(stop: Arc<AtomicBool>) -> usize {
    let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
    let queries: Vec<Vec<u8>> = ["db", "client", "nobody"]
        .iter()
        .enumerate()
        .map(|(i, n)| query(i as u16, n, RecordType::A))
        .collect();
    let end = Instant::now() + Duration::from_secs(120);
    let mut sent = 0;
    while !stop.load(Ordering::SeqCst) && Instant::now() < end {
        // Refused while the agent is down (ICMP): sent all the same.
        let _ = sock.send_to(&queries[sent % queries.len()], (GW, 53));
        sent += 1;
        if sent % 64 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    sent
}

#[test]
fn an_agent_killed_mid_flood_comes_back_with_the_next_command_or_podnet_agent() {
    let sb = sandbox();
    app_network(&sb);
    let db = run_d(&sb, "db");
    run_d(&sb, "client");
    run_d(&sb, "noisy");
    let flood = Flood::start(&sb, "noisy", udp_queries);
    assert_eq!(lookup(&sb, "client", "db"), vec![db.clone()], "before");
    let first = agent_pid(&sb).expect("the first container started the agent");
    kill_agent(&sb, first);
    let got = dig_from(&sb, "client", GW, &["db", "A"]);
    assert_eq!(got.status, "", "nothing answers while it is down: {got:?}");
    // The next command on the DNS network starts one, serving every name before it returns.
    let late = run_d(&sb, "late");
    let second = agent_pid(&sb).expect("the next command started an agent");
    assert_ne!(second, first);
    assert_eq!(lookup(&sb, "client", "db"), vec![db.clone()]);
    assert_eq!(lookup(&sb, "client", "late"), vec![late]);
    // Killed again, mid-flood still: `podnet agent` (what systemd runs) brings it back.
    kill_agent(&sb, second);
    let out = podnet_ok(&sb, &["agent"]);
    let third = agent_pid(&sb).expect("podnet agent started one");
    assert!(
        ![first, second].contains(&third),
        "{first} {second} {third}: {out}"
    );
    assert_eq!(lookup(&sb, "client", "db"), vec![db]);
    // The flood got answers from the agent that came back.
    let sent = flood.stop();
    assert!(sent > 1000, "the flood sent only {sent} queries");
}

/// `GET /` to `host:port` with python from `cmd`'s side (a refused connection is tried
/// again while a server starts); the body, or the error's name.
fn get(mut cmd: std::process::Command, host: &str, port: u16) -> String {
    let script = format!(
        r#"import socket, time
for i in range(60):
    try:
        s = socket.create_connection(("{host}", {port}), timeout=5); break
    except ConnectionRefusedError:
        if i == 59: print("refused"); raise SystemExit
        time.sleep(0.05)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
data = b""
while True:
    b = s.recv(4096)
    if not b: break
    data += b
print(data.split(b"\r\n\r\n", 1)[1].decode().strip())
"#
    );
    cmd.args(["-c", &script]);
    ok(&format!("GET {host}:{port}"), output(cmd))
        .trim()
        .to_string()
}

/// `podnet run -d` of an HTTP server labelled app=web publishing 8080, serving its name.
fn web(sb: &Sandbox, name: &str) -> std::process::Output {
    let dir = format!("{}/{name}", sb.scratch());
    sb.sh_ok(&format!("mkdir -p {dir} && echo {name} > {dir}/index.html"))
        .unwrap();
    sb.podnet(argv::run_d_http(
        name,
        "app",
        &["-l", "app=web", "-p", "8080"],
        &dir,
        "8080",
    ))
}

fn host_port(sb: &Sandbox, name: &str) -> u16 {
    let ports = ok("ports", sb.podnet(["ports", name, "--format", "json"]));
    parse("ports", &ports)[0]["host_port"].as_u64().unwrap() as u16
}

/// A command that succeeds, with the agent's one-line warning on stderr.
fn warned(what: &str, out: std::process::Output) {
    let err = podnet::testbed::stderr(&out);
    assert!(
        out.status.success(),
        "{what}: {}",
        podnet::testbed::describe(&out)
    );
    assert!(
        err.contains("warning: the agent did not confirm"),
        "{what}: {err}"
    );
}

#[test]
fn with_no_agent_able_to_run_everything_but_dns_works() {
    let lab = lab();
    let sb = &lab.host;
    app_network(sb);
    // Another process holds the agent's lock: every agent a command starts exits at once.
    sb.sh_ok(&format!(
        "mkdir -p {RUN_DIR} && (flock -n {RUN_DIR}/agent.lock sleep infinity >/dev/null 2>&1 &)"
    ))
    .unwrap();
    sb.wait_until("the lock held", Duration::from_secs(5), || {
        !sb.sh(&format!("flock -n {RUN_DIR}/agent.lock true"))
            .status
            .success()
    })
    .unwrap();
    warned("run web1", web(sb, "web1"));
    warned(
        "run client",
        sb.podnet(argv::run_d_sleeping("client", "app", &[])),
    );
    let svc: Value = podnet_json(
        sb,
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
    let vip = s(&svc, "vip").to_string();
    let host = lab.config.host_ip().to_string();
    let port1 = host_port(sb, "web1");
    let from_lan = |port| get(lab.outside.cmd("python3"), &host, port);
    let to_vip = || get(sb.in_netns(netns("client"), "python3"), &vip, 80);
    assert_eq!(from_lan(port1), "web1", "published port from the LAN");
    assert_eq!(to_vip(), "web1", "service from a container");
    // A second backend joins the service; the first goes.
    warned("run web2", web(sb, "web2"));
    let port2 = host_port(sb, "web2");
    assert_eq!(from_lan(port2), "web2");
    podnet_ok(sb, &["rm", "-f", "web1"]);
    assert_eq!(from_lan(port1), "refused", "web1's port is gone with it");
    for _ in 0..5 {
        assert_eq!(to_vip(), "web2", "the service has only web2 left");
    }
    // DNS is what needs the agent: nothing answers.
    let got = dig_from(sb, "client", GW, &["web2", "A"]);
    assert_eq!(got.status, "", "{got:?}");
    assert_eq!(agent_pid(sb), None);
}

#[test]
fn the_agents_dns_port_is_closed_to_the_lan() {
    let lab = lab();
    let sb = &lab.host;
    app_network(sb);
    let db = run_d(sb, "db");
    // The LAN neighbour routes the network's subnet through the host, as a router would.
    lab.outside
        .sh_ok(&format!(
            "ip route add 10.77.0.0/24 via {}",
            lab.config.host_ip()
        ))
        .unwrap();
    // The route works: the gateway answers the LAN's ping.
    ok(
        "ping the gateway from the LAN",
        lab.outside.sh(&format!("ping -c 1 -W 2 {GW}")),
    );
    for target in [GW, lab.config.host_ip()] {
        for proto in ["+notcp", "+tcp"] {
            let out = output({
                let mut c = lab.outside.cmd("dig");
                c.args(["+time=1", "+tries=1", proto, &format!("@{target}"), "db"]);
                c
            });
            let text = podnet::testbed::stdout(&out);
            assert!(
                !text.contains("status:"),
                "{target} {proto} answered the LAN: {text}"
            );
        }
    }
    // Meanwhile its own containers are answered.
    run_d(sb, "client");
    assert_eq!(lookup(sb, "client", "db"), vec![db]);
}

#[test]
fn a_tcp_flood_from_one_container_leaves_anothers_lookups_answered() {
    let sb = sandbox();
    app_network(&sb);
    let db = run_d(&sb, "db");
    run_d(&sb, "client");
    run_d(&sb, "noisy");
    // noisy opens connections as fast as it can and never finishes a query on them (one
    // byte of a length prefix: the slow-client attack), keeping up to 600 open.
    let flood = Flood::start(&sb, "noisy", |stop| {
        let mut open = Vec::new();
        let mut opened = 0;
        let end = Instant::now() + Duration::from_secs(120);
        while !stop.load(Ordering::SeqCst) && Instant::now() < end {
            let to = SocketAddr::new(GW.parse().unwrap(), 53);
            if let Ok(mut s) = TcpStream::connect_timeout(&to, Duration::from_millis(200)) {
                let _ = s.write_all(&[0]);
                open.push(s);
                opened += 1;
            }
            if open.len() > 600 {
                open.remove(0);
            }
        }
        opened
    });
    let mut failures = Vec::new();
    for i in 0..10 {
        for proto in ["+notcp", "+tcp"] {
            let got = dig_from(&sb, "client", GW, &[proto, "db", "A"]);
            if got.data() != vec![db.clone()] {
                failures.push(format!("{i} {proto}: {got:?}"));
            }
        }
    }
    let opened = flood.stop();
    // More than the server's whole TCP budget (256), let alone one client's (16).
    assert!(opened > 256, "the flood opened only {opened} connections");
    assert!(failures.is_empty(), "{failures:?}");
}
