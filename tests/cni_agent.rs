//! The CNI plugin handing its calls to the host's agent (`cni::handoff`): a call the agent
//! dies in is finished by the plugin itself; callers the agent cannot serve exactly as they
//! would serve themselves are declined (and then served by the plugin, or refused as the
//! plugin alone would refuse them); a store deleted and made again is the one the agent's
//! kept contexts write to. The conformance suite runs through the agent too
//! (tests/cni_conformance.rs).

mod common;

use common::cni::*;
use common::hold::start_held;
use common::invariants::{assert_consistent, store_view};
use common::*;
use podnet::testbed::{Sandbox, SANDBOX_STATE_DIR};
use serde_json::{json, Value};
use std::time::Duration;

fn pods() -> Value {
    conf("1.0.0", "pods", json!({"subnet": "10.77.0.0/24"}))
}

fn wait_for_agent(sb: &Sandbox) -> u32 {
    let mut pid = None;
    sb.wait_until("the agent answers", Duration::from_secs(20), || {
        pid = agent_pid(sb);
        pid.is_some()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    pid.expect("waited for")
}

/// The address `ifname` has inside `ns`, as the kernel says.
fn kernel_addr(sb: &Sandbox, ns: &str) -> Vec<ipnet::Ipv4Net> {
    v4_addrs(&ip_json_in(sb, ns, &["addr"]), "eth0")
}

#[test]
fn a_call_the_agent_dies_in_is_finished_by_the_plugin() {
    // Held inside the container's namespace with its interface made but no address yet (the
    // last kernel step before the routes), then killed: the most half-made an ADD can be.
    for step in ["attach:1", "attach:4", "attach:5"] {
        let sb = sandbox();
        let agent = start_held(&sb, &["agent", "--foreground"], step);
        let pid = wait_for_agent(&sb);
        let ns = netns(&sb, "c1");
        let child = start_add(&sb, "c1", &ns, &pods().to_string());
        let mut agent = agent;
        agent.wait_held(&sb);
        ok("kill the agent", sb.sh(&format!("kill -9 {pid}")));
        let a = answer(&child.wait_with_output().unwrap());
        let r = a.ok(&format!("ADD whose agent died at {step}"));
        let ip = result_ip(&r, "eth0");
        assert_eq!(kernel_addr(&sb, &ns), vec![ip], "{step}: {r}");
        assert_eq!(store_view(&sb).endpoints.len(), 1, "{step}");
        assert_consistent(&sb, &format!("agent killed at {step}, plugin finished"));
        cni_verb(&sb, "DEL", "c1", &ns, &pods()).ok("DEL");
        assert_eq!(leftovers(&sb), Vec::<String>::new(), "{step}");
        drop(agent);
    }
}

#[test]
fn concurrent_calls_the_agent_dies_in_are_all_finished_by_their_plugins() {
    let sb = sandbox();
    let agent = start_held(&sb, &["agent", "--foreground"], "attach:4");
    let pid = wait_for_agent(&sb);
    let n = 20;
    let children: Vec<_> = (0..n)
        .map(|i| {
            let id = format!("p{i}");
            let ns = netns(&sb, &id);
            start_add(&sb, &id, &ns, &pods().to_string())
        })
        .collect();
    // Every worker holds a half-made ADD (the rest queue behind them) when the agent dies.
    let mut agent = agent;
    agent.wait_held(&sb);
    ok("kill the agent", sb.sh(&format!("kill -9 {pid}")));
    let mut ips = std::collections::BTreeSet::new();
    for (i, child) in children.into_iter().enumerate() {
        let a = answer(&child.wait_with_output().unwrap());
        let r = a.ok(&format!("ADD p{i}"));
        ips.insert(result_ip(&r, "eth0"));
    }
    assert_eq!(ips.len(), n, "every pod its own address: {ips:?}");
    assert_eq!(store_view(&sb).leases.len(), n);
    assert_consistent(&sb, "the agent died under 20 concurrent ADDs");
    drop(agent);
}

#[test]
fn callers_the_agent_cannot_serve_as_they_would_are_declined() {
    let sb = cni_sandbox(Worker::Agent);
    let ns = netns(&sb, "c1");
    // Without CAP_NET_ADMIN (root, with the capability dropped): the agent would do for the
    // caller what it may not do itself. Declined, and the plugin refuses as it does alone.
    let mut dropped = sb.cmd("setpriv");
    dropped.args([
        "--inh-caps=-net_admin",
        "--bounding-set=-net_admin",
        env!("CARGO_BIN_EXE_podnet"),
    ]);
    for v in CNI_VARS {
        dropped.env_remove(v);
    }
    dropped.envs(verb_env("ADD", "c1", &ns, "eth0"));
    let refused = answer(&feed(dropped, pods().to_string().as_bytes()));
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused.json["details"]
            .as_str()
            .unwrap_or("")
            .contains("root"),
        "{refused:?}"
    );
    assert!(agent_log(&sb).contains("not root with CAP_NET_ADMIN"));
    assert_eq!(leftovers(&sb), Vec::<String>::new());
    // Another state directory than the agent's: declined, served by the plugin there.
    let mut other = pods();
    other["root"] = json!(format!("{SANDBOX_STATE_DIR}-other"));
    cni_verb(&sb, "ADD", "c1", &ns, &other).ok("ADD to another root");
    assert!(
        agent_log(&sb).contains("the agent's in"),
        "{}",
        agent_log(&sb)
    );
    cni_verb(&sb, "DEL", "c1", &ns, &other).ok("DEL from another root");
    // A plugin of another build (the binary upgraded, the agent not restarted): declined on
    // the wire, before anything is done.
    let call = json!({"op": "cni", "build": "0.0.1 schema 1", "env": {"CNI_COMMAND": "ADD"},
        "stdin": pods().to_string(), "root": SANDBOX_STATE_DIR, "run_dir": RUN_DIR});
    let script = format!(
        "import socket, struct\ns = socket.socket(socket.AF_UNIX)\ns.connect('{RUN_DIR}/agent.sock')\n\
         b = {body:?}.encode()\ns.sendall(struct.pack('>I', len(b)) + b)\n\
         n = struct.unpack('>I', s.recv(4))[0]\nprint(s.recv(n).decode())",
        body = call.to_string()
    );
    let mut py = sb.cmd("python3");
    py.args(["-c", &script]);
    let answer: Value = serde_json::from_str(&ok("raw call", output(py))).unwrap();
    assert_eq!(answer["ok"], json!(false), "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("restart the agent"),
        "{answer}"
    );
    assert_eq!(leftovers(&sb), Vec::<String>::new());
}

#[test]
fn a_store_made_again_is_the_one_the_agent_writes_to() {
    let sb = cni_sandbox(Worker::Agent);
    let pid = agent_pid(&sb).expect("agent");
    // Enough calls that each of the agent's workers keeps a context open.
    let ids: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    let spaces: Vec<String> = ids.iter().map(|id| netns(&sb, id)).collect();
    for (id, ns) in ids.iter().zip(&spaces) {
        cni_verb(&sb, "ADD", id, ns, &pods()).ok("ADD");
        cni_verb(&sb, "DEL", id, ns, &pods()).ok("DEL");
    }
    // Someone wipes podnet's state and its kernel objects (a reinstall).
    ok(
        "wipe podnet",
        sb.sh(&format!(
            "rm -f {SANDBOX_STATE_DIR}/podnet.db* && nft flush ruleset && \\
             for b in $(ip -br link show type bridge | cut -d' ' -f1); do ip link del $b; done"
        )),
    );
    for (id, ns) in ids.iter().zip(&spaces) {
        cni_verb(&sb, "ADD", id, ns, &pods()).ok("ADD after the store was made again");
    }
    let view = store_view(&sb);
    assert_eq!(
        view.endpoints.len(),
        ids.len(),
        "the new store has them all"
    );
    assert_consistent(&sb, "store made again");
    assert_agent_served(&sb, pid);
}

#[test]
fn a_bridge_deleted_behind_the_agents_back_is_made_again_for_the_next_add() {
    // The agent's kept contexts remember bridge indexes; one deleted (and so made again
    // with a new index) must not fail the next ADD or put its veth anywhere else.
    let sb = cni_sandbox(Worker::Agent);
    let pid = agent_pid(&sb).expect("agent");
    let first = netns(&sb, "c1");
    cni_verb(&sb, "ADD", "c1", &first, &pods()).ok("first ADD");
    let bridge = s(&net_inspect(&sb, "pods"), "bridge").to_string();
    let before = link_index(&sb, &bridge);
    for round in 0..3 {
        ok("delete the bridge", sb.sh(&format!("ip link del {bridge}")));
        let id = format!("d{round}");
        let ns = netns(&sb, &id);
        let r = cni_verb(&sb, "ADD", &id, &ns, &pods()).ok("ADD after the bridge went");
        let ip = result_ip(&r, "eth0");
        let now = link_index(&sb, &bridge);
        assert_ne!(now, before, "the bridge was made again");
        let veth = ip_json(&sb, &["link", "show", "master", &bridge]);
        assert_eq!(
            names(&veth).len(),
            1,
            "the new veth is on the new bridge: {veth}"
        );
        let gw = s(&net_inspect(&sb, "pods"), "gateway").to_string();
        ok(
            "the new container reaches its gateway",
            sb.sh(&format!("ip netns exec {id} ping -c1 -W2 {gw}")),
        );
        assert_eq!(kernel_addr(&sb, &ns), vec![ip]);
    }
    assert_agent_served(&sb, pid);
}

fn link_index(sb: &Sandbox, name: &str) -> u64 {
    ip_json(sb, &["link", "show", name])[0]["ifindex"]
        .as_u64()
        .expect("ifindex")
}

#[test]
fn the_wal_stays_short_when_every_change_goes_through_the_agent() {
    // A node where only the runtime calls podnet: no command ever opens the store afresh
    // (which is when the WAL used to be emptied), so the agent must keep it short itself.
    let sb = cni_sandbox(Worker::Agent);
    let pid = agent_pid(&sb).expect("agent");
    let ns = netns(&sb, "c1");
    let wal = || {
        let out = sb.sh(&format!("stat -c %s {SANDBOX_STATE_DIR}/podnet.db-wal"));
        podnet::testbed::stdout(&out)
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    let mut largest = 0;
    for _ in 0..150 {
        cni_verb(&sb, "ADD", "c1", &ns, &pods()).ok("ADD");
        cni_verb(&sb, "DEL", "c1", &ns, &pods()).ok("DEL");
        largest = largest.max(wal());
    }
    // 128 frames of 4 KiB (+ headers) is where a checkpoint empties it; one request's
    // frames may come on top before the next request's tidy.
    assert!(largest < 160 * 4120, "the WAL grew to {largest} bytes");
    assert_eq!(leftovers(&sb), Vec::<String>::new());
    assert_agent_served(&sb, pid);
}
