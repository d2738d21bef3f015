//! DNS benchmark: podnet's server (src/dns) against aardvark-dns (Debian's 1.4), serving the
//! same names on the same bridge, measured with dnsperf from a container namespace.
//!
//! ```sh
//! cargo bench --bench dns -- [--containers 500] [--seconds 10] [--udp-threads 2]
//! ```
//!
//! Everything runs in a sandbox this binary makes by re-executing itself as its PID 1
//! (`podnet::testbed::reexec`): a bridge `br0` (10.89.0.1/16) with a client namespace on it,
//! `--containers` names (c0, c1, ...) and an upstream namespace running dnsmasq at
//! 198.18.0.2 that knows `ext0.example`, `ext1.example`, ... (the forwarded names). Each
//! server in turn serves 10.89.0.1:53 (ours on threads of this process, aardvark-dns as its
//! own process fed a config directory the way netavark writes it), and dnsperf measures:
//! container names and forwarded names (queries/s and latency percentiles from its per-query
//! lines), then 10,000 A+AAAA queries sent at once (lost = timed out). See
//! docs/benchmarks.md ("DNS").

use podnet::dns::{Config, Listen, NameRecord, Names, NetworkNames, Server};
use podnet::testbed::reexec;
use std::fmt::Write as _;
use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GW: &str = "10.89.0.1";
const AARDVARK: &str = "/usr/lib/podman/aardvark-dns";
const BENCH_DIR: &str = "/run/dnsbench";

struct Opts {
    containers: usize,
    seconds: u32,
    udp_threads: usize,
}

fn opts(args: &[String]) -> Opts {
    let mut o = Opts {
        containers: 500,
        seconds: 10,
        udp_threads: Config::default().udp_threads,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| die(&format!("{a} needs a number")))
        };
        match a.as_str() {
            "--containers" => o.containers = val().clamp(1, 60000),
            "--seconds" => o.seconds = val().clamp(1, 600) as u32,
            "--udp-threads" => o.udp_threads = val().clamp(1, 16),
            "--bench" => {}
            other => die(&format!("unknown argument {other}")),
        }
    }
    o
}

fn die(msg: &str) -> ! {
    eprintln!("dns bench: {msg}");
    std::process::exit(2)
}

fn main() {
    std::env::remove_var("LD_LIBRARY_PATH");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = opts(&args);
    if reexec::phase().as_deref() == Some("dns") {
        inner(&o);
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        die("must run as root (it creates namespaces and a bridge inside its sandbox)");
    }
    for tool in ["dnsperf", "dnsmasq", "dig", AARDVARK] {
        let found = Path::new(tool).exists()
            || Command::new("sh")
                .args([
                    "-c",
                    &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
                ])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !found {
            die(&format!(
                "{tool} is missing (apt-get install dnsperf dnsmasq-base bind9-dnsutils aardvark-dns)"
            ));
        }
    }
    let dir = std::env::temp_dir();
    let out = reexec::run("dns", &args, &dir).unwrap_or_else(|e| die(&e.to_string()));
    if !out.status.success() {
        die(&format!("the sandboxed run failed: {:?}", out.status));
    }
    println!("{}", out.records.join("\n"));
}

fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .args(["-ec", script])
        .output()
        .unwrap_or_else(|e| die(&format!("sh: {e}")));
    if !out.status.success() {
        die(&format!(
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn addr_of(i: usize) -> String {
    format!("10.89.{}.{}", 1 + i / 250, 2 + i % 250)
}

fn inner(o: &Opts) {
    let inside = reexec::enter().unwrap_or_else(|e| die(&e.to_string()));
    let _ = fs::create_dir_all(BENCH_DIR);
    sh(&format!(
        "ip link add br0 type bridge && ip link set br0 up && ip addr add {GW}/16 dev br0
         ip netns add client && ip link add v-client type veth peer name eth0 netns client
         ip link set v-client master br0 up && ip -n client addr add 10.89.0.2/16 dev eth0
         ip -n client link set eth0 up && ip -n client link set lo up
         ip -n client route add default via {GW}
         ip netns add up && ip link add up0 type veth peer name eth0 netns up
         ip addr add 198.18.0.1/24 dev up0 && ip link set up0 up
         ip -n up addr add 198.18.0.2/24 dev eth0 && ip -n up link set eth0 up
         ip -n up link set lo up && ip -n up route add default via 198.18.0.1"
    ));
    let n = o.containers;
    let mut hosts = String::new();
    let mut local = String::new();
    let mut fwd = String::new();
    for i in 0..n {
        let _ = writeln!(hosts, "203.0.113.{} ext{i}.example", 1 + i % 250);
        let _ = writeln!(local, "c{i} A");
        let _ = writeln!(fwd, "ext{i}.example A");
    }
    let mut parallel = String::new();
    for i in 0..5000 {
        let _ = writeln!(parallel, "c{} A\nc{} AAAA", i % n, i % n);
    }
    let file = |name: &str, text: &str| {
        let p = format!("{BENCH_DIR}/{name}");
        fs::write(&p, text).unwrap_or_else(|e| die(&format!("{p}: {e}")));
        p
    };
    let hosts_file = file("upstream.hosts", &hosts);
    let local_q = file("local.queries", &local);
    let fwd_q = file("forwarded.queries", &fwd);
    let par_q = file("parallel.queries", &parallel);
    let resolv = file("resolv.conf", "nameserver 198.18.0.2\n");
    // aardvark-dns reads the host's /etc/resolv.conf: give it ours (this mount namespace is
    // the sandbox's own).
    sh(&format!("mount --bind {resolv} /etc/resolv.conf"));
    let mut upstream = spawn(Command::new("ip").args([
        "netns",
        "exec",
        "up",
        "dnsmasq",
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--user=root",
        "--cache-size=10000",
        "--bind-interfaces",
        "--listen-address=198.18.0.2",
        &format!("--addn-hosts={hosts_file}"),
    ]));
    wait_answering("198.18.0.2", "ext0.example", "up");

    let mut records = vec![codec_cost(n)];
    {
        let server = Server::start(Config {
            resolv_conf: resolv.clone().into(),
            stub_resolv_conf: "/nonexistent".into(),
            udp_threads: o.udp_threads,
            ..Config::default()
        })
        .unwrap_or_else(|e| die(&format!("start podnet's server: {e}")));
        server.update(&names(n));
        let failed = server.set_listen(&[Listen {
            addr: GW.parse().unwrap(),
            device: Some("br0".into()),
        }]);
        if !failed.is_empty() {
            die(&format!("listen: {failed:?}"));
        }
        wait_answering(GW, "c0", "client");
        records.extend(measure("podnet", o, &local_q, &fwd_q, &par_q));
    }
    {
        let conf = format!("{BENCH_DIR}/aardvark");
        fs::create_dir_all(&conf).unwrap_or_else(|e| die(&format!("{conf}: {e}")));
        let mut text = format!("{GW}\nclient 10.89.0.2  client\n");
        for i in 0..n {
            let _ = writeln!(text, "id{i} {}  c{i}", addr_of(i));
        }
        fs::write(format!("{conf}/bench"), text).unwrap_or_else(|e| die(&e.to_string()));
        // As netavark starts it: it forks, and the parent exits once the child serves.
        let status = Command::new(AARDVARK)
            .args(["--config", &conf, "-p", "53", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| die(&format!("aardvark-dns: {e}")));
        if !status.success() {
            die(&format!("aardvark-dns exited {status}"));
        }
        wait_answering(GW, "c0", "client");
        records.extend(measure("aardvark-dns", o, &local_q, &fwd_q, &par_q));
        if let Ok(pid) = fs::read_to_string(format!("{conf}/aardvark.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                // SAFETY: kill() on the PID aardvark-dns wrote, inside this PID namespace.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
    }
    let _ = upstream.kill();
    let _ = upstream.wait();
    let mut text = String::new();
    for r in &records {
        let _ = writeln!(text, "{r}");
    }
    fs::write(&inside.records, text).unwrap_or_else(|e| die(&e.to_string()));
}

/// The in-process cost of one answer (hickory decode, table lookup, hickory encode), no
/// sockets: what the codec choice decides.
fn codec_cost(n: usize) -> String {
    use podnet::dns::answer::{answer, Asker, Verdict};
    use podnet::dns::Table;
    let table = Table::build(&names(n));
    let queries: Vec<Vec<u8>> = (0..n.min(1000))
        .map(|i| {
            // c{i} A, id i, RD.
            let mut q = vec![(i >> 8) as u8, i as u8, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            let label = format!("c{i}");
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
            q.extend_from_slice(&[0, 0, 1, 0, 1]);
            q
        })
        .collect();
    let who = Asker {
        local: GW.parse().unwrap(),
        src: "10.89.0.2".parse().unwrap(),
        udp: true,
    };
    let rounds = 200_000;
    let start = Instant::now();
    let mut bytes = 0usize;
    for k in 0..rounds {
        if let Verdict::Reply(r) = answer(&table, &queries[k % queries.len()], who) {
            bytes += r.len();
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / rounds as f64;
    assert!(bytes > 0, "no answers");
    format!("{{\"server\":\"podnet\",\"load\":\"in-process answer (decode+lookup+encode)\",\"ns_per_query\":{ns:.0}}}")
}

fn names(n: usize) -> Names {
    let mut records = vec![NameRecord {
        owner: "client".into(),
        names: vec!["client".into()],
        addrs: vec!["10.89.0.2".parse().unwrap()],
    }];
    for i in 0..n {
        records.push(NameRecord {
            owner: format!("id{i}"),
            names: vec![format!("c{i}")],
            addrs: vec![addr_of(i).parse().unwrap()],
        });
    }
    Names {
        zone: None,
        networks: vec![NetworkNames {
            name: "bench".into(),
            gateways: vec![GW.parse::<IpAddr>().unwrap()],
            subnets: vec!["10.89.0.0/16".parse().unwrap()],
            records,
        }],
    }
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&format!("{cmd:?}: {e}")))
}

fn wait_answering(server: &str, name: &str, netns: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        let out = Command::new("ip")
            .args([
                "netns", "exec", netns, "dig", "+time=1", "+tries=1", "+short",
            ])
            .arg(format!("@{server}"))
            .arg(name)
            .output();
        if out.is_ok_and(|o| !o.stdout.is_empty()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    die(&format!("{server} does not answer {name}"));
}

/// dnsperf from the client namespace: its summary and per-query latencies.
fn dnsperf(args: &[&str]) -> (String, Vec<f64>) {
    let out = Command::new("ip")
        .args(["netns", "exec", "client", "dnsperf", "-s", GW])
        .args(args)
        .output()
        .unwrap_or_else(|e| die(&format!("dnsperf: {e}")));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Verbose lines: "> NOERROR c1 A 0.000123" (latency in seconds, last).
    let mut lat: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("> "))
        .filter_map(|l| l.split_whitespace().last()?.parse().ok())
        .collect();
    lat.sort_by(f64::total_cmp);
    (text, lat)
}

fn field(text: &str, key: &str) -> f64 {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn pct(lat: &[f64], p: f64) -> f64 {
    if lat.is_empty() {
        return f64::NAN;
    }
    let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
    lat[i] * 1e6
}

fn measure(server: &str, o: &Opts, local: &str, fwd: &str, par: &str) -> Vec<String> {
    let mut out = Vec::new();
    let secs = o.seconds.to_string();
    for (what, file) in [("container names", local), ("forwarded names", fwd)] {
        let (text, lat) = dnsperf(&["-d", file, "-l", &secs, "-q", "100", "-v"]);
        let qps = field(&text, "Queries per second:");
        let lost = field(&text, "Queries lost:");
        out.push(format!(
            "{{\"server\":\"{server}\",\"load\":\"{what}\",\"qps\":{qps:.0},\"p50_us\":{:.0},\"p99_us\":{:.0},\"lost\":{lost}}}",
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        ));
    }
    // Latency when the server is not saturated: 2,000 queries/s.
    let (text, lat) = dnsperf(&["-d", local, "-l", &secs, "-Q", "2000", "-v"]);
    out.push(format!(
        "{{\"server\":\"{server}\",\"load\":\"container names at 2000/s\",\"p50_us\":{:.0},\"p99_us\":{:.0},\"lost\":{}}}",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        field(&text, "Queries lost:")
    ));
    let (text, _) = dnsperf(&["-d", par, "-n", "1", "-q", "10000", "-t", "5"]);
    let sent = field(&text, "Queries sent:");
    let lost = field(&text, "Queries lost:");
    out.push(format!(
        "{{\"server\":\"{server}\",\"load\":\"10000 parallel A+AAAA\",\"sent\":{sent},\"lost\":{lost}}}"
    ));
    out
}
