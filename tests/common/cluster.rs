//! Cluster-mode helpers: node agents with their own state roots in one sandbox, and the
//! views of them a test checks (etcd through `etcdctl`, the agent's peer file and log).

use podnet::testbed::{self, Sandbox};
use serde_json::Value;
use std::process::Output;
use std::time::Duration;

/// The lease TTL the tests give agents (seconds): short, so a dead node goes quickly.
pub const TTL: u64 = 2;

pub fn root(node: &str) -> String {
    format!("/run/nodes/{node}/root")
}

pub fn run_dir(node: &str) -> String {
    format!("/run/nodes/{node}/run")
}

pub fn log_path(node: &str) -> String {
    format!("/run/nodes/{node}/agent.log")
}

/// `podnet ARGS` as node `node` (its own state root and run dir).
pub fn podnet_as(sb: &Sandbox, node: &str, args: &[&str]) -> Output {
    let mut c = sb.podnet_cmd(args);
    c.env("PODNET_ROOT", root(node))
        .env("PODNET_RUN_DIR", run_dir(node));
    c.output().expect("run podnet")
}

/// Starts `podnet agent --foreground ARGS` as node `node` in the background (its output to
/// its log); returns its PID inside the sandbox.
pub fn spawn_agent(sb: &Sandbox, node: &str, args: &str) -> u32 {
    let bin = sb.podnet_bin().display().to_string();
    let out = sb
        .sh_ok(&format!(
            "mkdir -p /run/nodes/{node} && PODNET_ROOT={r} PODNET_RUN_DIR={d} {bin} agent --foreground {args} >>{log} 2>&1 & echo $!",
            r = root(node),
            d = run_dir(node),
            log = log_path(node),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    out.trim().parse().expect("pid")
}

/// Starts node `node`'s agent joining `etcd` with underlay `underlay` and waits until etcd
/// holds its node key; returns the agent's PID.
pub fn start_node(sb: &Sandbox, etcd: &testbed::Etcd, node: &str, underlay: &str) -> u32 {
    let pid = spawn_agent(
        sb,
        node,
        &format!(
            "--etcd {} --node {node} --underlay {underlay} --lease-ttl {TTL}",
            etcd.endpoints()
        ),
    );
    sb.wait_until(
        &format!("node {node} in etcd"),
        Duration::from_secs(20),
        || node_in_etcd(etcd, node).is_some() || !alive(sb, pid),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", log(sb, node)));
    assert!(alive(sb, pid), "agent {node} exited:\n{}", log(sb, node));
    pid
}

pub fn alive(sb: &Sandbox, pid: u32) -> bool {
    // A zombie is dead too: the sandbox's reaper collects it.
    let out = sb.sh(&format!(
        "test -d /proc/{pid} && ! grep -q '^State:.*Z' /proc/{pid}/status"
    ));
    out.status.success()
}

pub fn kill9(sb: &Sandbox, pid: u32) {
    sb.sh_ok(&format!(
        "kill -9 {pid}; while kill -0 {pid} 2>/dev/null && ! grep -q '^State:.*Z' /proc/{pid}/status; do sleep 0.02; done"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
}

pub fn log(sb: &Sandbox, node: &str) -> String {
    testbed::stdout(&sb.sh(&format!("cat {} 2>/dev/null", log_path(node))))
}

/// The node's record in etcd, read with etcdctl: (subnet, underlay, vtep_mac).
pub fn node_in_etcd(etcd: &testbed::Etcd, node: &str) -> Option<Value> {
    let out = etcd.etcdctl(&[
        "get",
        "--print-value-only",
        &format!("/podnet/v1/nodes/{node}"),
    ]);
    let text = testbed::stdout(&out);
    serde_json::from_str(text.trim()).ok()
}

/// Every key under /podnet/ (etcdctl).
pub fn keys(etcd: &testbed::Etcd) -> Vec<String> {
    keys_under(etcd, "/podnet/")
}

/// Every key under `prefix` (etcdctl).
pub fn keys_under(etcd: &testbed::Etcd, prefix: &str) -> Vec<String> {
    let out = etcd.etcdctl(&["get", "--prefix", "--keys-only", prefix]);
    testbed::stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// The remote nodes node `node`'s agent follows (its peer file), by name.
pub fn peers(sb: &Sandbox, node: &str) -> Vec<String> {
    let text = testbed::stdout(&sb.sh(&format!(
        "cat {}/cluster-peers.json 2>/dev/null",
        root(node)
    )));
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let mut names: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits until every node in `watchers` follows exactly `want` (other than itself).
pub fn wait_peers(sb: &Sandbox, watchers: &[&str], want: &[&str], limit: Duration) {
    for w in watchers {
        let mut expect: Vec<String> = want
            .iter()
            .filter(|n| *n != w)
            .map(|n| n.to_string())
            .collect();
        expect.sort();
        sb.wait_until(&format!("{w} to follow {expect:?}"), limit, || {
            peers(sb, w) == expect
        })
        .unwrap_or_else(|e| panic!("{e}: has {:?}\n{}", peers(sb, w), log(sb, w)));
    }
}

/// A `members`-member etcd in the sandbox holding a cluster (`cluster init` with the test
/// bed's pod CIDR): what every control-plane test starts from.
pub fn cluster_etcd(sb: &Sandbox, members: usize) -> testbed::Etcd<'_> {
    let etcd = testbed::Etcd::start(sb, members).unwrap_or_else(|e| panic!("{e}"));
    init(sb, &etcd, &["--pod-cidr", testbed::cluster_setup::POD_CIDR]);
    etcd
}

/// `podnet cluster init --etcd EPS ARGS` from a scratch node; panics unless it succeeds.
pub fn init(sb: &Sandbox, etcd: &testbed::Etcd, args: &[&str]) {
    let eps = etcd.endpoints();
    let mut all = vec!["cluster", "init", "--etcd", eps.as_str()];
    all.extend_from_slice(args);
    let out = podnet_as(sb, "init", &all);
    assert!(out.status.success(), "{}", testbed::describe(&out));
}

/// Makes member `i` etcd's leader (`etcdctl move-leader`), so that killing it costs the
/// cluster an election too; waits until it leads.
pub fn make_leader(etcd: &testbed::Etcd, i: usize) {
    let members = etcd.etcdctl_ok(&["member", "list", "-w", "json"]).unwrap();
    let v: Value = serde_json::from_str(&members).unwrap();
    let want = format!("m{}", i + 1);
    let id = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == want.as_str())
        .and_then(|m| m["ID"].as_u64())
        .unwrap_or_else(|| panic!("no member {want}: {members}"));
    let leader = || {
        let out = etcd.etcdctl(&["endpoint", "status", "-w", "json"]);
        let v: Value = serde_json::from_str(&testbed::stdout(&out)).unwrap_or(Value::Null);
        v.as_array()
            .and_then(|a| a.first())
            .and_then(|s| s["Status"]["leader"].as_u64())
    };
    if leader() != Some(id) {
        etcd.etcdctl_ok(&["move-leader", &format!("{id:x}")])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let start = std::time::Instant::now();
    while leader() != Some(id) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{want} never became the leader"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lease node `node`'s keys are bound to in etcd (hex, as etcdctl prints it), if any.
pub fn lease_of(etcd: &testbed::Etcd, node: &str) -> Option<String> {
    let j = etcd
        .etcdctl_ok(&["get", &format!("/podnet/v1/nodes/{node}"), "-w", "json"])
        .ok()?;
    let v: Value = serde_json::from_str(&j).ok()?;
    v["kvs"][0]["lease"].as_i64().map(|l| format!("{l:x}"))
}
