//! A CNI call killed (SIGKILL, the fault switch `PODNET_FAULT=OP:K`) after every step of ADD
//! and of DEL, as a runtime's timeout or a crash would: the runtime's next DEL, or its GC with
//! the attachments it still considers valid, leaves nothing behind — checked by the invariant
//! checker (store against kernel, element for element) and in the runtime's namespace.

mod common;

use common::cni::*;
use common::invariants::{assert_consistent, store_view};
use common::*;
use podnet::testbed::Sandbox;
use serde_json::{json, Value};
use std::os::unix::process::ExitStatusExt;

fn pods() -> Value {
    let mut c = conf("1.1.0", "pods", json!({"subnet": "10.76.0.0/24"}));
    c["runtimeConfig"] = json!({"portMappings": [{"hostPort": 18300, "containerPort": 80}]});
    c
}

/// One verb on (`id`, eth0) in /run/netns/`id`, killed at `fault`: it must die of SIGKILL.
fn killed(sb: &Sandbox, verb: &str, id: &str, fault: &str) {
    let ns = format!("/run/netns/{id}");
    let mut cmd = cni_cmd(sb, &verb_env(verb, id, &ns, "eth0"));
    cmd.env("PODNET_FAULT", fault);
    let out = feed(cmd, pods().to_string().as_bytes());
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{verb} at {fault}: {}",
        podnet::testbed::describe(&out)
    );
}

/// Only the valid attachment `keep` is left, and the runtime's namespace `id` holds only lo.
fn clean(sb: &Sandbox, what: &str, id: &str) {
    let rows: Vec<String> = store_view(sb)
        .runtime
        .iter()
        .map(|r| r.container_id.clone())
        .collect();
    assert_eq!(rows, ["keep"], "{what}");
    assert_eq!(store_view(sb).endpoints.len(), 1, "{what}");
    assert_eq!(
        names(&ip_json_in(sb, &format!("/run/netns/{id}"), &["link"])),
        ["lo"],
        "{what}"
    );
    assert_consistent(sb, what);
}

#[test]
fn add_killed_at_every_step_then_del_or_gc_leaves_nothing() {
    let sb = sandbox();
    ok("netns", sb.sh("ip netns add keep"));
    let mut keep = pods();
    keep["runtimeConfig"] = json!({});
    cni_verb(&sb, "ADD", "keep", "/run/netns/keep", &keep).ok("ADD keep");
    for step in 1..=6 {
        for by_gc in [false, true] {
            let id = format!("f{step}{}", u8::from(by_gc));
            let what = format!(
                "ADD killed at attach:{step}, then {}",
                if by_gc { "GC" } else { "DEL" }
            );
            ok("netns", sb.sh(&format!("ip netns add {id}")));
            killed(&sb, "ADD", &id, &format!("attach:{step}"));
            if by_gc {
                cni_gc(&sb, &pods(), Some(&[("keep", "eth0")])).ok(&what);
            } else {
                cni_verb(&sb, "DEL", &id, &format!("/run/netns/{id}"), &pods()).ok(&what);
            }
            clean(&sb, &what, &id);
            // The runtime's retry of the ADD works (the published port is free again).
            let again = cni_verb(&sb, "ADD", &id, &format!("/run/netns/{id}"), &pods());
            again.ok(&format!("{what}: ADD again"));
            cni_verb(&sb, "DEL", &id, &format!("/run/netns/{id}"), &pods()).ok(&what);
        }
    }
}

#[test]
fn del_killed_at_every_step_then_del_again_leaves_nothing() {
    let sb = sandbox();
    ok("netns", sb.sh("ip netns add keep"));
    let mut keep = pods();
    keep["runtimeConfig"] = json!({});
    cni_verb(&sb, "ADD", "keep", "/run/netns/keep", &keep).ok("ADD keep");
    for step in 1..=4 {
        for by_gc in [false, true] {
            let id = format!("d{step}{}", u8::from(by_gc));
            let what = format!(
                "DEL killed at detach:{step}, then {}",
                if by_gc { "GC" } else { "DEL" }
            );
            ok("netns", sb.sh(&format!("ip netns add {id}")));
            cni_verb(&sb, "ADD", &id, &format!("/run/netns/{id}"), &pods()).ok("ADD");
            killed(&sb, "DEL", &id, &format!("detach:{step}"));
            if by_gc {
                cni_gc(&sb, &pods(), Some(&[("keep", "eth0")])).ok(&what);
            } else {
                cni_verb(&sb, "DEL", &id, &format!("/run/netns/{id}"), &pods()).ok(&what);
            }
            clean(&sb, &what, &id);
        }
    }
}
