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
use std::io::Write;
use std::process::Stdio;
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
        let mut add = cni_cmd(&sb, &verb_env("ADD", "c1", &ns, "eth0"));
        add.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = add.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(pods().to_string().as_bytes())
            .unwrap();
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
