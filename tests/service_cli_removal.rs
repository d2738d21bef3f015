//! `podnet service` acceptance 6, removing a backend mid-stream, through the CLI with real
//! traffic in a two-machine lab.
//!
//! - `podnet label X app-` takes a running backend out of its selector service while its
//!   server keeps running: the connection a client holds to X through the VIP keeps
//!   working, and none of 100 new connections reaches X (the faithful form of the
//!   acceptance criterion; relabelling back brings X in again).
//! - `podnet stop -t GRACE X`: during the grace period X still serves (as a deleted
//!   Kubernetes pod does) and should get no new connection while its open one keeps working.
//! - `podnet rm -f X` kills X's process, so its open connection cannot survive; none of 100
//!   new connections reaches X (selector and explicit-backend services alike), a pinned
//!   client moves, and a UDP flow (one source port) is answered by another backend.

mod common;

use common::publish::*;
use common::service::*;
use common::*;
use podnet::testbed::{self, Lab};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::Duration;

/// A backend server: on 8080 it answers `NAME/tcp/8080/<client>` and closes (for counting);
/// on 9090 it greets with `NAME`, then echoes each line as `NAME LINE` on one long-lived
/// connection, and exits the whole process on `quit`. SIGTERM does not stop it: it only
/// writes TERMFILE, as a server draining its connections would.
/// argv: NAME READYFILE TERMFILE.
const SERVER: &str = r#"
import os, signal, socket, sys, threading
name, ready, term = sys.argv[1:4]
def on_term(*_):
    with open(term, "w") as f:
        f.write("term\n")
signal.signal(signal.SIGTERM, on_term)
def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(128)
    return s
def replies(s):
    while True:
        c, peer = s.accept()
        try:
            c.sendall(f"{name}/tcp/8080/{peer[0]}\n".encode())
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        c.close()
def echo(c):
    f = c.makefile("rb")
    c.sendall(f"{name}\n".encode())
    for line in f:
        if line.strip() == b"quit":
            os._exit(0)
        c.sendall(name.encode() + b" " + line)
r, e = listener(8080), listener(9090)
threading.Thread(target=replies, args=(r,), daemon=True).start()
with open(ready, "w") as f:
    f.write("ready\n")
while True:
    try:
        c, _ = e.accept()
    except InterruptedError:
        continue
    threading.Thread(target=echo, args=(c,), daemon=True).start()
"#;

/// A long-lived client: connects to HOST PORT once, prints the greeting (the backend's
/// name), then for each line on stdin sends it and prints the answer line (`EOF` when the
/// connection was closed, `error: ...` when it failed).
const CLIENT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
f = s.makefile("rb")
print(f.readline().decode().strip() or "EOF", flush=True)
for line in sys.stdin:
    try:
        s.sendall(line.encode())
        print(f.readline().decode().strip() or "EOF", flush=True)
    except OSError as e:
        print(f"error: {e}", flush=True)
"#;

/// A UDP client on one socket (one source port, so one conntrack flow) connected to HOST
/// PORT: for each line on stdin it sends the line and prints the answer (up to 3 tries of
/// 2 s each; `error: ...` when none came).
const UDP_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
for line in sys.stdin:
    ans = "error: no answer"
    for _ in range(3):
        try:
            s.send(line.strip().encode())
            ans = s.recv(65535).decode().strip()
            break
        except socket.timeout:
            continue
        except OSError as e:
            ans = f"error: {e}"
    print(ans, flush=True)
"#;

/// `podnet run -d --name NAME -l app=web -- python3 -c SERVER ...`, once it listens.
fn echo_backend(lab: &Lab, name: &str) {
    let sb = &lab.host;
    let ready = format!("{}/{name}.ready", sb.scratch());
    let term = format!("{}/{name}.term", sb.scratch());
    let py = testbed::python().display().to_string();
    podnet_ok(
        sb,
        &[
            "run", "-d", "--name", name, "-l", "app=web", "--", &py, "-c", SERVER, name, &ready,
            &term,
        ],
    );
    let file = sb.host_path(&ready);
    sb.wait_until(
        &format!("server in {name}"),
        Duration::from_secs(20),
        || file.exists(),
    )
    .unwrap_or_else(|e| panic!("{e}; ps: {:?}", ps(sb)));
}

/// One long-lived connection from container `from` to HOST:PORT.
struct Conn {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The backend that greeted.
    backend: String,
}

impl Conn {
    fn open(lab: &Lab, from: &str, host: &str, port: u16) -> Conn {
        let mut c = Conn::spawn(lab, from, CLIENT, host, port);
        let mut backend = String::new();
        c.stdout.read_line(&mut backend).unwrap();
        c.backend = backend.trim().to_string();
        assert!(
            !c.backend.is_empty() && c.backend != "EOF",
            "long-lived connection from {from} to {host}:{port} got no greeting"
        );
        c
    }

    /// A UDP flow (one socket) from `from`; `backend` is whoever answers the first datagram.
    fn udp(lab: &Lab, from: &str, host: &str, port: u16) -> Conn {
        let mut c = Conn::spawn(lab, from, UDP_CLIENT, host, port);
        let first = c.say("hello");
        c.backend = first.split('/').next().unwrap_or_default().to_string();
        assert!(
            first.contains("/udp/"),
            "UDP flow from {from} to {host}:{port}: first datagram got {first:?}"
        );
        c
    }

    fn spawn(lab: &Lab, from: &str, script: &str, host: &str, port: u16) -> Conn {
        let py = testbed::python().display().to_string();
        let mut c = lab.host.podnet_cmd([
            "exec",
            from,
            "--",
            &py,
            "-c",
            script,
            host,
            &port.to_string(),
        ]);
        c.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = c.spawn().expect("spawn long-lived client");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Conn {
            child,
            stdin,
            stdout,
            backend: String::new(),
        }
    }

    /// Sends `line` over the open connection; the answer line.
    fn say(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("write to client");
        self.stdin.flush().unwrap();
        let mut got = String::new();
        self.stdout.read_line(&mut got).unwrap();
        got.trim().to_string()
    }

    /// Asserts `n` exchanges over the open connection are each echoed by its backend.
    fn assert_works(&mut self, what: &str, n: usize) {
        for i in 0..n {
            let msg = format!("{what} #{i}");
            let got = self.say(&msg);
            assert_eq!(
                got,
                format!("{} {msg}", self.backend),
                "{what}: the open connection to {} must keep working",
                self.backend
            );
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Acceptance 6 through `podnet label`: while a client holds a connection to backend X
/// through the VIP, X's `app` label is removed; the open connection keeps working (several
/// exchanges before, between and after new connections), none of 100 new connections
/// reaches X, and all are answered. Labelling X back makes it a backend again.
#[test]
fn relabelled_backend_keeps_its_open_connection_and_gets_no_new_ones() {
    let lab = lab();
    for w in ["w1", "w2", "w3"] {
        echo_backend(&lab, w);
    }
    run_idle(&lab.host, "cl", &[]);
    let svc = service(
        &lab.host,
        "web",
        &[
            "--port",
            "80:8080",
            "--port",
            "90:9090",
            "--selector",
            "app=web",
        ],
    );
    let vip = vip(&svc);
    let mut conn = Conn::open(&lab, "cl", &vip, 90);
    conn.assert_works("before relabel", 3);
    let x = conn.backend.clone();
    let x_ip = s(&inspect(&lab.host, &x), "ip").to_string();

    podnet_ok(&lab.host, &["label", &x, "app-"]);
    assert!(
        !backend_ips(&lab.host, "web").contains(&x_ip),
        "{x} ({x_ip}) without its label must not be a backend"
    );
    conn.assert_works("right after relabel", 3);
    let m = spread(&lab, At::Container("cl"), "tcp", &vip, 80, 100);
    assert!(
        !m.contains_key(&x) && !m.contains_key(NO_REPLY) && m.len() == 2,
        "100 new connections after {x} lost its label: none may reach {x}, all must be \
         answered by the other two: {m:?}"
    );
    conn.assert_works("after 100 new connections", 5);

    podnet_ok(&lab.host, &["label", &x, "app=web"]);
    assert!(backend_ips(&lab.host, "web").contains(&x_ip));
    let m = spread(&lab, At::Container("cl"), "tcp", &vip, 80, 100);
    assert_spread("after labelling back", &m, &["w1", "w2", "w3"], 1, 100);
    conn.assert_works("at the end", 2);
}

/// Acceptance 6 through `podnet stop`: while a client holds a connection to backend X
/// through the VIP, `podnet stop -t 60 X` begins; once X has its SIGTERM (X keeps serving,
/// as a draining server does) the open connection still works, and none of 100 new
/// connections reaches X. Then X finishes, stop returns, and X is no longer a backend.
#[test]
fn stopping_backend_keeps_its_open_connection_and_gets_no_new_ones() {
    let lab = lab();
    for w in ["w1", "w2", "w3"] {
        echo_backend(&lab, w);
    }
    run_idle(&lab.host, "cl", &[]);
    let svc = service(
        &lab.host,
        "web",
        &[
            "--port",
            "80:8080",
            "--port",
            "90:9090",
            "--selector",
            "app=web",
        ],
    );
    let vip = vip(&svc);
    let m = spread(&lab, At::Container("cl"), "tcp", &vip, 80, 60);
    assert_spread("before", &m, &["w1", "w2", "w3"], 1, 60);

    let mut conn = Conn::open(&lab, "cl", &vip, 90);
    conn.assert_works("before stop", 3);
    let x = conn.backend.clone();
    let x_ip = s(&inspect(&lab.host, &x), "ip").to_string();

    let mut stop = lab.host.podnet_cmd(["stop", "-t", "60", &x]);
    stop.stdout(Stdio::piped()).stderr(Stdio::piped());
    let stop = stop.spawn().expect("spawn podnet stop");
    let term = lab
        .host
        .host_path(format!("{}/{x}.term", lab.host.scratch()));
    lab.host
        .wait_until(&format!("{x} got SIGTERM"), Duration::from_secs(20), || {
            term.exists()
        })
        .unwrap();

    // The grace period: X still serves, but it is going away.
    conn.assert_works("during the grace period", 5);
    let m = spread(&lab, At::Container("cl"), "tcp", &vip, 80, 100);
    assert!(
        !m.contains_key(&x) && !m.contains_key(NO_REPLY),
        "100 new connections while {x} is stopping: none may reach {x}, all must be answered: \
         {m:?}"
    );
    conn.assert_works("after 100 new connections", 3);

    // Let X finish: stop returns, and X is out for good.
    assert_eq!(conn.say("quit"), "EOF", "quit ends the server");
    let out = stop.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "podnet stop {x}\n{}",
        testbed::describe(&out)
    );
    assert!(
        !backend_ips(&lab.host, "web").contains(&x_ip),
        "stopped {x} ({x_ip}) must not be a backend"
    );
    let m = spread(&lab, At::Container("cl"), "tcp", &vip, 80, 100);
    assert!(
        !m.contains_key(&x) && !m.contains_key(NO_REPLY),
        "100 new connections after {x} stopped: {m:?}"
    );
}

/// Acceptance 6 with `podnet rm -f` (what the CLI allows): after the backend holding a
/// client's open connection is removed, none of 100 new connections reaches it, through a
/// selector service and an explicit-backend service alike, and every one is answered. (The
/// open connection itself cannot survive: `rm -f` kills the backend's process.)
#[test]
fn removed_backend_gets_none_of_the_next_100_connections() {
    let lab = lab();
    for w in ["w1", "w2", "w3"] {
        echo_backend(&lab, w);
    }
    run_idle(&lab.host, "cl", &[]);
    let sel = service(
        &lab.host,
        "web",
        &[
            "--port",
            "80:8080",
            "--port",
            "90:9090",
            "--selector",
            "app=web",
        ],
    );
    let exp = service(
        &lab.host,
        "named",
        &[
            "--port",
            "80:8080",
            "--backend",
            "w1",
            "--backend",
            "w2",
            "--backend",
            "w3",
        ],
    );
    let (sv, ev) = (vip(&sel), vip(&exp));
    let mut conn = Conn::open(&lab, "cl", &sv, 90);
    conn.assert_works("before rm", 3);
    let x = conn.backend.clone();
    let x_ip = s(&inspect(&lab.host, &x), "ip").to_string();
    let rest: Vec<&str> = ["w1", "w2", "w3"].into_iter().filter(|w| *w != x).collect();

    podnet_ok(&lab.host, &["rm", "-f", &x]);
    for (name, v) in [("web", &sv), ("named", &ev)] {
        assert!(
            !backend_ips(&lab.host, name).contains(&x_ip),
            "{name}: removed {x} ({x_ip}) must not be a backend"
        );
        let m = spread(&lab, At::Container("cl"), "tcp", v, 80, 100);
        assert_spread(
            &format!("{name}: 100 new connections after `podnet rm -f {x}`"),
            &m,
            &rest,
            1,
            100,
        );
    }
}

/// Removing a UDP backend: a client that keeps its socket (one conntrack flow, as a DNS
/// resolver reusing its source port does) is answered by another backend after the one it
/// was talking to is removed, instead of sending into the void until conntrack forgets.
#[test]
fn udp_flow_moves_to_another_backend_when_its_backend_is_removed() {
    let lab = lab();
    for w in ["w1", "w2", "w3"] {
        backend(&lab.host, w, &["app=dns"], &[]);
    }
    run_idle(&lab.host, "cl", &[]);
    let svc = service(
        &lab.host,
        "dns",
        &["--port", "53:5353/udp", "--selector", "app=dns"],
    );
    let v = vip(&svc);
    let mut flow = Conn::udp(&lab, "cl", &v, 53);
    let x = flow.backend.clone();
    for i in 0..3 {
        let got = flow.say(&format!("again {i}"));
        assert!(
            got.starts_with(&format!("{x}/udp/")),
            "the flow stays on {x}: {got}"
        );
    }
    podnet_ok(&lab.host, &["rm", "-f", &x]);
    let got = flow.say("after rm");
    assert!(
        got.contains("/udp/") && !got.starts_with(&format!("{x}/")),
        "after `podnet rm -f {x}` the same UDP flow must be answered by another backend: {got}"
    );
}

/// ClientIP affinity and removal: a client pinned on X is, once X is removed, answered by
/// the remaining backends and pinned on one of them again (none of the next 20 connections
/// is lost or reaches X).
#[test]
fn pinned_client_moves_when_its_backend_is_removed() {
    let lab = lab();
    for w in ["w1", "w2", "w3"] {
        backend(&lab.host, w, &["app=web"], &[]);
    }
    run_idle(&lab.host, "cl", &[]);
    let svc = service(
        &lab.host,
        "sticky",
        &[
            "--port",
            "80:8080",
            "--selector",
            "app=web",
            "--affinity",
            "client-ip",
        ],
    );
    let v = vip(&svc);
    let m = spread(&lab, At::Container("cl"), "tcp", &v, 80, 20);
    assert!(m.len() == 1 && !m.contains_key(NO_REPLY), "pinned: {m:?}");
    let x = m.keys().next().unwrap().clone();
    podnet_ok(&lab.host, &["rm", "-f", &x]);
    let m = spread(&lab, At::Container("cl"), "tcp", &v, 80, 20);
    assert!(
        m.len() == 1 && !m.contains_key(NO_REPLY) && !m.contains_key(&x),
        "after `podnet rm -f {x}` the client must be pinned on another backend: {m:?}"
    );
}
