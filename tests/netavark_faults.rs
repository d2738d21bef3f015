//! Issue 8, item 6 (netavark part): podnet killed (SIGKILL through the fault switch
//! `PODNET_FAULT=OP:K`, which netavark passes on to its plugin) after every step K of setup
//! and of teardown; `podnet gc` (and the teardown Podman sends after a failed setup) then
//! leaves nothing: no link, lease, record, namespace content or nft element.

mod common;

use common::nv::*;
use common::*;
use podnet::testbed::Sandbox;
use serde_json::{json, Value};

/// More steps than setup or teardown has: reaching it means K never completed.
const MAX_STEPS: u32 = 40;
const PORT: u16 = 18100;

/// A sandbox with network `pods` (a /29: five addresses, so a leaked lease soon shows) and
/// the view of it with no container.
fn bed() -> (Sandbox, Value, Value) {
    let sb = nv_sandbox();
    let pods = create(
        &sb,
        &network("pods", json!({"subnets": [{"subnet": "10.89.80.0/29"}]})),
    );
    let baseline = view(&sb);
    (sb, pods, baseline)
}

fn input(pods: &Value, k: u32) -> Value {
    container(
        &format!("f{k}"),
        &format!("f{k}"),
        pods,
        json!({}),
        json!([{"container_port": 80, "host_ip": "", "host_port": PORT, "protocol": "tcp", "range": 1}]),
    )
}

/// Nothing of any container is left: as `baseline`, consistent, no lease, `netns` holds
/// only lo.
fn assert_nothing_left(sb: &Sandbox, what: &str, baseline: &Value, netns: &str) {
    invariants::assert_consistent(sb, what);
    assert_eq!(invariants::store_view(sb).leases, vec![], "{what}: leases");
    assert_eq!(&view(sb), baseline, "{what}: left something");
    let links = names(&ip_json_in(sb, netns, &["link"]));
    assert_eq!(links, vec!["lo".to_owned()], "{what}: {netns}");
}

/// netavark's answer when its plugin was killed: an error, and podnet's state untouched by
/// netavark itself.
fn killed(what: &str, out: &std::process::Output) {
    let msg = nv_error(what, out);
    assert!(msg.contains("killed by signal"), "{what}: {msg}");
}

/// Five containers fill the /29 and go again: no lease leaked through the crashes.
fn all_addresses_free(sb: &Sandbox, pods: &Value, baseline: &Value) {
    let inputs: Vec<(String, Value)> = (0..5)
        .map(|i| {
            let ns = format!("cap{i}");
            ok("netns", sb.sh(&format!("ip netns add {ns}")));
            let x = container(&format!("ca{i}"), &ns, pods, json!({}), Value::Null);
            (format!("/run/netns/{ns}"), x)
        })
        .collect();
    for (ns, x) in &inputs {
        setup(sb, ns, x);
    }
    for (ns, x) in &inputs {
        teardown(sb, ns, x);
    }
    assert_nothing_left(sb, "after filling the subnet", baseline, &inputs[0].0);
}

#[test]
fn crash_at_every_setup_step_then_gc_and_teardown_leave_nothing() {
    let (sb, pods, baseline) = bed();
    for k in 1..=MAX_STEPS {
        let ns = format!("/run/netns/f{k}");
        ok("netns", sb.sh(&format!("ip netns add f{k}")));
        let x = input(&pods, k);
        let fault = format!("attach:{k}");
        let what = format!("PODNET_FAULT={fault} netavark setup");
        let out = call(&sb, "setup", &ns, &x, &[("PODNET_FAULT", &fault)]);
        if out.status.success() {
            eprintln!("{what}: completed at K={k}");
            assert!(
                k > 1,
                "attach:1 did not crash: is the fault switch passed on?"
            );
            teardown(&sb, &ns, &x);
            assert_nothing_left(&sb, &format!("{what}, torn down"), &baseline, &ns);
            all_addresses_free(&sb, &pods, &baseline);
            return;
        }
        killed(&what, &out);
        ok(&format!("{what}: gc"), sb.podnet(["gc"]));
        // A crash after the last step leaves a whole attachment (recorded ready): gc keeps
        // it, and it must be whole; the teardown Podman sends after a failed setup removes it.
        let rows = nv_rows(&sb);
        assert!(rows.len() <= 1, "{what}: {rows:?}");
        if rows.is_empty() {
            // gc alone reclaimed the half-made attachment.
            assert_nothing_left(&sb, &format!("{what}, after gc"), &baseline, &ns);
        } else {
            invariants::assert_consistent(&sb, &format!("{what}: kept by gc"));
        }
        for round in 0..2 {
            ok(
                &format!("{what}: teardown #{round}"),
                call(&sb, "teardown", &ns, &x, &[]),
            );
        }
        assert_nothing_left(&sb, &format!("{what}, after teardown"), &baseline, &ns);
    }
    panic!("setup never completed within {MAX_STEPS} steps");
}

#[test]
fn crash_at_every_teardown_step_then_gc_leaves_nothing() {
    let (sb, pods, baseline) = bed();
    for k in 1..=MAX_STEPS {
        let ns = format!("/run/netns/f{k}");
        ok("netns", sb.sh(&format!("ip netns add f{k}")));
        let x = input(&pods, k);
        setup(&sb, &ns, &x);
        let fault = format!("detach:{k}");
        let what = format!("PODNET_FAULT={fault} netavark teardown");
        let out = call(&sb, "teardown", &ns, &x, &[("PODNET_FAULT", &fault)]);
        if out.status.success() {
            eprintln!("{what}: completed at K={k}");
            assert!(
                k > 1,
                "detach:1 did not crash: is the fault switch passed on?"
            );
            assert_nothing_left(&sb, &format!("{what}, completed"), &baseline, &ns);
            all_addresses_free(&sb, &pods, &baseline);
            return;
        }
        killed(&what, &out);
        ok(&format!("{what}: gc"), sb.podnet(["gc"]));
        assert_nothing_left(&sb, &format!("{what}, after gc"), &baseline, &ns);
        // Podman repeats a failed teardown: it succeeds with nothing left to do.
        ok(
            &format!("{what}: teardown again"),
            call(&sb, "teardown", &ns, &x, &[]),
        );
        assert_nothing_left(&sb, &format!("{what}, torn down again"), &baseline, &ns);
    }
    panic!("teardown never completed within {MAX_STEPS} steps");
}

/// Podman died (or the machine rebooted) and never sent teardown; the namespace is gone:
/// `podnet gc` reclaims the attachment, as it does a `podnet attach` endpoint's.
#[test]
fn gc_reclaims_a_container_whose_namespace_went_without_teardown() {
    let (sb, pods, baseline) = bed();
    ok("netns", sb.sh("ip netns add f1 && ip netns add f2"));
    setup(&sb, "/run/netns/f1", &input(&pods, 1));
    let kept = container("f2", "f2", &pods, json!({}), Value::Null);
    setup(&sb, "/run/netns/f2", &kept);
    ok("netns gone", sb.sh("ip netns del f1"));
    sb.wait_until("f1's veth gone", std::time::Duration::from_secs(60), || {
        pnv_links(&sb).len() == 1
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", pnv_links(&sb)));
    ok("gc", sb.podnet(["gc"]));
    let rows = nv_rows(&sb);
    assert_eq!(rows.len(), 1, "only f2 is left: {rows:?}");
    assert_eq!(rows[0].0, "f2");
    invariants::assert_consistent(&sb, "after gc");
    teardown(&sb, "/run/netns/f2", &kept);
    assert_nothing_left(&sb, "after f2's teardown", &baseline, "/run/netns/f2");
}
