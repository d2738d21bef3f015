//! Helpers shared by the acceptance tests. Every test makes its own [`Sandbox`]; every
//! view of kernel state comes from `ip -j` run inside the sandbox, never from podnet.
#![allow(dead_code)]

use ipnet::Ipv4Net;
use podnet::testbed::{self, describe, Lab, LabConfig, Sandbox, SandboxConfig};
use serde_json::Value;

pub mod agent;
pub mod argv;
pub mod browser;
pub mod clients;
pub mod cluster;
pub mod cni;
pub mod dns;
pub mod graph;
pub mod guards;
pub mod hold;
pub mod invariants;
pub mod iptables_nft;
pub mod macvlan;
pub mod nv;
pub mod publish;
pub mod service;
pub mod state;
pub mod udp_flows;
pub mod v6;
use std::net::Ipv4Addr;
use std::process::{Command, Output};

/// podnet's default runtime dir (inside each sandbox's private /run).
pub const RUN_DIR: &str = "/run/podnet";
/// Where podnet mounts named namespaces.
pub const NETNS_DIR: &str = "/run/podnet/netns";

fn config() -> SandboxConfig {
    SandboxConfig {
        podnet: Some(env!("CARGO_BIN_EXE_podnet").into()),
        ..SandboxConfig::default()
    }
}

/// A fresh sandbox that runs the podnet binary under test.
pub fn sandbox() -> Sandbox {
    Sandbox::with_config(config()).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh sandbox whose podnet state root is the real directory `dir` (bind-mounted at the
/// usual place): the state outlives the sandbox, as `/var/lib` outlives a reboot while the
/// kernel's state and `/run` do not.
pub fn sandbox_with_state(dir: &std::path::Path) -> Sandbox {
    let config = SandboxConfig {
        extra_setup: Some(format!(
            "mkdir -p {0} && mount --bind '{1}' {0}",
            testbed::SANDBOX_STATE_DIR,
            dir.display()
        )),
        ..config()
    };
    Sandbox::with_config(config).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh two-machine lab that runs the podnet binary under test.
pub fn lab() -> Lab {
    let config = LabConfig {
        sandbox: config(),
        ..LabConfig::default()
    };
    Lab::with_config(config).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a command, panicking with its output unless it exited 0; returns stdout.
pub fn ok(what: &str, out: Output) -> String {
    assert!(out.status.success(), "{what} failed\n{}", describe(&out));
    testbed::stdout(&out)
}

/// Output of a command (panics if it cannot be spawned).
pub fn output(mut cmd: Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Parses JSON printed by `what`.
pub fn parse(what: &str, text: &str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{what}: output is not JSON ({e}):\n{text}"))
}

/// `podnet ARGS... --format json`, which must succeed; its parsed output.
pub fn podnet_json(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--format", "json"]);
    let what = format!("podnet {}", all.join(" "));
    parse(&what, &ok(&what, sb.podnet(&all)))
}

/// `podnet ARGS...`, which must succeed; its stdout.
pub fn podnet_ok(sb: &Sandbox, args: &[&str]) -> String {
    ok(&format!("podnet {}", args.join(" ")), sb.podnet(args))
}

/// `podnet ps -a --format json` as a list: every container, exited ones too (so that a
/// check that nothing is left sees everything podnet keeps).
pub fn ps(sb: &Sandbox) -> Vec<Value> {
    as_list(podnet_json(sb, &["ps", "-a"]))
}

/// `podnet network ls --format json` as a list.
pub fn networks(sb: &Sandbox) -> Vec<Value> {
    as_list(podnet_json(sb, &["network", "ls"]))
}

/// `podnet inspect NAME --format json`.
pub fn inspect(sb: &Sandbox, name: &str) -> Value {
    podnet_json(sb, &["inspect", name])
}

/// `podnet network inspect NAME --format json`.
pub fn net_inspect(sb: &Sandbox, name: &str) -> Value {
    podnet_json(sb, &["network", "inspect", name])
}

pub fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => panic!("expected a JSON array, got {other}"),
    }
}

/// A string field of a JSON object (panics naming the field if absent).
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field {key:?} missing or not a string in {v}"))
}

pub fn ipv4(text: &str) -> Ipv4Addr {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not an IPv4 address: {e}"))
}

pub fn net(text: &str) -> Ipv4Net {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not an IPv4 CIDR: {e}"))
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// `ip -j ARGS...` in the sandbox's root namespace.
pub fn ip_json(sb: &Sandbox, args: &[&str]) -> Value {
    let mut cmd = sb.cmd("ip");
    cmd.arg("-j").args(args);
    let what = format!("ip -j {}", args.join(" "));
    parse(&what, &ok(&what, output(cmd)))
}

/// `ip -j ARGS...` inside the network namespace at `netns` (a path inside the sandbox).
pub fn ip_json_in(sb: &Sandbox, netns: &str, args: &[&str]) -> Value {
    let mut cmd = sb.in_netns(netns, "ip");
    cmd.arg("-j").args(args);
    let what = format!("ip -j {} in {netns}", args.join(" "));
    parse(&what, &ok(&what, output(cmd)))
}

/// Names of all links in the sandbox's root namespace.
pub fn link_names(sb: &Sandbox) -> Vec<String> {
    names(&ip_json(sb, &["link"]))
}

/// Names of the `pnv*` links in the sandbox's root namespace.
pub fn pnv_links(sb: &Sandbox) -> Vec<String> {
    link_names(sb)
        .into_iter()
        .filter(|n| n.starts_with("pnv"))
        .collect()
}

pub fn names(links: &Value) -> Vec<String> {
    as_list(links.clone())
        .iter()
        .map(|l| s(l, "ifname").to_string())
        .collect()
}

/// IPv4 addresses (with prefix) of `ifname` in an `ip -j addr` dump.
pub fn v4_addrs(addrs: &Value, ifname: &str) -> Vec<Ipv4Net> {
    as_list(addrs.clone())
        .iter()
        .filter(|l| l["ifname"] == ifname)
        .flat_map(|l| as_list(l["addr_info"].clone()))
        .filter(|a| a["family"] == "inet")
        .map(|a| net(&format!("{}/{}", s(&a, "local"), a["prefixlen"])))
        .collect()
}

/// Mounts at or under the named-namespace dir, plus its entries, inside the sandbox.
pub fn netns_leftovers(sb: &Sandbox) -> Vec<String> {
    let mountinfo = ok("mountinfo", sb.sh("cat /proc/self/mountinfo"));
    let mut left: Vec<String> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.starts_with(NETNS_DIR))
        .map(|mp| format!("mount {mp}"))
        .collect();
    let ls = sb.sh(&format!("ls -A {NETNS_DIR} 2>/dev/null || true"));
    left.extend(
        testbed::stdout(&ls)
            .split_whitespace()
            .map(|e| format!("file {NETNS_DIR}/{e}")),
    );
    left
}

/// PIDs (inside the sandbox) of processes whose command line is exactly `argv` (words
/// separated by single spaces).
pub fn procs_with(sb: &Sandbox, argv: &str) -> Vec<String> {
    let script = format!(
        "for p in /proc/[0-9]*; do \
           [ \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" = '{argv} ' ] && echo ${{p#/proc/}}; \
         done; true"
    );
    ok("scan /proc", sb.sh(&script))
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// nettool in the sandbox's root namespace.
pub fn nettool(sb: &Sandbox) -> Command {
    let mut c = sb.cmd(testbed::python());
    c.arg(testbed::nettool_path());
    c
}

/// nettool inside the network namespace at `netns`.
pub fn nettool_in(sb: &Sandbox, netns: &str) -> Command {
    let mut c = sb.in_netns(netns, testbed::python());
    c.arg(testbed::nettool_path());
    c
}

/// TCP connect from `netns` (None = sandbox root ns) to HOST:PORT; the reply line.
pub fn tcp_reply(sb: &Sandbox, netns: Option<&str>, host: &str, port: u16) -> String {
    let mut c = match netns {
        Some(ns) => nettool_in(sb, ns),
        None => nettool(sb),
    };
    c.args(tcp_connect_args(host, port, "10", None));
    let what = format!("tcp connect from {netns:?} to {host}:{port}");
    ok(&what, output(c)).trim().to_string()
}

/// nettool's arguments for one TCP connect to HOST:PORT, retried for `retry_for` seconds,
/// each try given up after `timeout` seconds (nettool's default without).
pub fn tcp_connect_args(
    host: &str,
    port: u16,
    retry_for: &str,
    timeout: Option<&str>,
) -> Vec<String> {
    let mut args = vec![
        "connect",
        "tcp",
        host,
        &port.to_string(),
        "--retry-for",
        retry_for,
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    if let Some(t) = timeout {
        args.extend(["--timeout".to_string(), t.to_string()]);
    }
    args
}

/// The trimmed stdout of a command that exited 0 (a client's reply), or None.
pub fn reply_if_ok(out: &Output) -> Option<String> {
    out.status
        .success()
        .then(|| testbed::stdout(out).trim().to_string())
}

/// The nettool command line (for a container's command).
pub fn nettool_argv() -> Vec<String> {
    vec![
        testbed::python().display().to_string(),
        testbed::nettool_path().display().to_string(),
    ]
}

/// Starts `podnet run -d --name NAME [EXTRA...] -- nettool serve tcp PORT --reply REPLY`
/// and returns `podnet inspect NAME` once the server is listening.
pub fn run_server(sb: &Sandbox, name: &str, extra: &[&str], port: u16, reply: &str) -> Value {
    run_nettool_server(
        sb,
        name,
        extra,
        &["serve", "tcp", &port.to_string(), "--reply", reply],
    )
}

/// Starts `podnet run -d --name NAME [EXTRA...] -- nettool SERVE...` and returns `podnet
/// inspect NAME` once the server is listening.
pub fn run_nettool_server(sb: &Sandbox, name: &str, extra: &[&str], serve: &[&str]) -> Value {
    let ready = format!("{}/{name}.ready", sb.scratch());
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--".into());
    args.extend(nettool_argv());
    args.extend(serve.iter().map(|s| s.to_string()));
    args.extend(["--ready-file".into(), ready.clone()]);
    ok(&format!("podnet {args:?}"), sb.podnet(&args));
    let file = sb.host_path(&ready);
    sb.wait_until(
        &format!("server in {name}"),
        std::time::Duration::from_secs(20),
        || file.exists(),
    )
    .unwrap_or_else(|e| panic!("{e}; ps: {:?}", ps(sb)));
    inspect(sb, name)
}

/// Waits until something listens on TCP `port` in network namespace `netns`: a server a
/// container starts in the background is not serving yet when `run -d` returns.
pub fn wait_tcp_listening(sb: &Sandbox, netns: &str, port: u16) {
    let filter = format!("sport = :{port}");
    sb.wait_until(
        &format!("a listener on tcp port {port} in {netns}"),
        std::time::Duration::from_secs(20),
        || {
            let mut ss = sb.in_netns(netns, "ss");
            ss.args(["-Htln", &filter]);
            output(ss).stdout.iter().any(|b| !b.is_ascii_whitespace())
        },
    )
    .unwrap();
}

/// Asserts the exit code is 2 and stderr is one line `podnet: ...` mentioning `needle`.
pub fn assert_bad_input(what: &str, out: &Output, needle: &str) {
    assert_error(what, out, 2, needle);
}

/// Asserts the exit code is `code` and stderr is one line `podnet: ...` mentioning `needle`.
pub fn assert_error(what: &str, out: &Output, code: i32, needle: &str) {
    let err = testbed::stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit code {code}\n{}",
        describe(out)
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: expected a one-line error, got:\n{err}"
    );
    assert!(
        lines[0].starts_with("podnet: "),
        "{what}: error should start with 'podnet: ', got: {}",
        lines[0]
    );
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "{what}: error should name the input {needle:?}, got: {}",
        lines[0]
    );
}

/// Waits (for the kernel's asynchronous namespace teardown) until the sandbox's root
/// namespace has exactly the links `expected`; panics with the difference after 60 s.
pub fn wait_links(sb: &Sandbox, what: &str, expected: &[String]) {
    let mut want = expected.to_vec();
    want.sort();
    let mut last = Vec::new();
    let res = sb.wait_until(what, std::time::Duration::from_secs(60), || {
        last = link_names(sb);
        last.sort();
        last == want
    });
    if res.is_err() {
        panic!("{what}: links are {last:?}, expected {want:?}");
    }
}

/// Asserts podnet keeps no trace of any endpoint: no container in `ps` or on `network`,
/// no namespace mount, and (eventually) only the `baseline` links in the root namespace.
pub fn assert_clean(sb: &Sandbox, what: &str, network: &str, baseline: &[String]) {
    let listed = ps(sb);
    assert!(listed.is_empty(), "{what}: ps not empty: {listed:?}");
    let info = net_inspect(sb, network);
    assert_eq!(
        info["containers"].as_array().map(|a| a.len()),
        Some(0),
        "{what}: network still lists containers: {info}"
    );
    let left = netns_leftovers(sb);
    assert!(left.is_empty(), "{what}: namespace mounts left: {left:?}");
    let guards = guards::guard_elements(sb);
    assert_eq!(
        guards,
        Default::default(),
        "{what}: anti-spoofing elements left"
    );
    wait_links(sb, what, baseline);
}

/// Sends "ping" from source port SPORT to HOST:PORT (IPv4 or IPv6, by HOST) up to 3 times
/// (1 s wait each) with `cmd` (a Python interpreter command line); the first reply, if any.
pub fn udp_from_fixed_port(mut cmd: Command, sport: u16, host: &str, port: u16) -> Option<String> {
    let (family, any) = if host.contains(':') {
        ("AF_INET6", "::")
    } else {
        ("AF_INET", "0.0.0.0")
    };
    let script = format!(
        "import socket, sys\n\
         s = socket.socket(socket.{family}, socket.SOCK_DGRAM)\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('{any}', {sport}))\n\
         s.settimeout(1.0)\n\
         for _ in range(3):\n\
         \x20   s.sendto(b'ping', ('{host}', {port}))\n\
         \x20   try:\n\
         \x20       print(s.recvfrom(65535)[0].decode().strip())\n\
         \x20       sys.exit(0)\n\
         \x20   except OSError:\n\
         \x20       pass\n\
         sys.exit(1)\n"
    );
    cmd.args(["-c", &script]);
    reply_if_ok(&output(cmd))
}

/// The arguments of `podnet run -d --name NAME EXTRA... -- sleep infinity`.
pub fn idle_args(name: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(extra);
    args.extend(["--", "sleep", "infinity"]);
    args.into_iter().map(String::from).collect()
}

/// Runs every command of `cmds` (podnet argument lists) at once; panics listing every one
/// that failed (`what`: what they are, for the message).
pub fn all_succeed_at_once(sb: &Sandbox, what: &str, cmds: &[Vec<String>]) {
    let failures = all_at_once(sb, cmds);
    assert!(
        failures.is_empty(),
        "{} of {} concurrent {what} failed:\n{}",
        failures.len(),
        cmds.len(),
        failures.join("\n")
    );
}

/// Runs every command of `cmds` (podnet argument lists) at once; the failures, described.
pub fn all_at_once(sb: &Sandbox, cmds: &[Vec<String>]) -> Vec<String> {
    let children: Vec<_> = cmds
        .iter()
        .map(|args| {
            let mut c = sb.podnet_cmd(args);
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap_or_else(|e| panic!("spawn {args:?}: {e}"))
        })
        .collect();
    children
        .into_iter()
        .zip(cmds)
        .filter_map(|(c, args)| {
            let out = c.wait_with_output().expect("wait");
            (!out.status.success()).then(|| format!("{args:?}: {}", describe(&out)))
        })
        .collect()
}
