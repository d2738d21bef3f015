//! Issue 11: services and endpoints in etcd, rendered by the node's agent into
//! `ip podnet-csvc` with endpoints from every node. Real etcd (`testbed::Etcd`), a real
//! agent, real nftables and real TCP from a container and from an `outside` machine.
//!
//! One node's agent runs on the lab's `host`; "another node's" pods are a second network on
//! the same host (`far`, 10.244.200.0/24, outside the node's own subnet, so its agent does
//! not publish them) whose container is published into etcd under node `n2` with etcdctl,
//! exactly as n2's agent would. So the remote endpoint is reachable without an overlay, and
//! the rendering of remote endpoints, node ports and the publishing of local containers are
//! checked with traffic.
//!
//! Across real nodes (acceptance 2, a dead node's endpoints, a node's own connections):
//! tests/cluster_service_nodes.rs.

mod common;

use common::cluster::{keys_under, node_in_etcd};
use common::publish::At;
use common::service::{backend, spread};
use common::*;
use podnet::testbed::cluster_setup::{eps_backends, EPS_JSON, WEB_SERVICE};
use podnet::testbed::{self, Etcd, Lab, Sandbox};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const LOG: &str = "/run/agent-n1.log";
const WAIT: Duration = Duration::from_secs(20);

/// A 1-member etcd, `podnet cluster init` and node n1's agent on the lab's host (the
/// sandbox's own state root, so the CLI helpers are n1's commands); returns the etcd.
fn start_n1(lab: &Lab) -> Etcd<'_> {
    let (sb, underlay) = (&lab.host, lab.config.host_ip());
    let etcd = Etcd::start(sb, 1).unwrap();
    podnet_ok(
        sb,
        &[
            "cluster",
            "init",
            "--etcd",
            &etcd.endpoints(),
            "--pod-cidr",
            "10.244.0.0/16",
        ],
    );
    let bin = sb.podnet_bin().display().to_string();
    sb.sh_ok(&format!(
        "{bin} agent --foreground --node n1 --underlay {underlay} --lease-ttl 2 >>{LOG} 2>&1 &"
    ))
    .unwrap();
    sb.wait_until("n1 in etcd", WAIT, || node_in_etcd(&etcd, "n1").is_some())
        .unwrap_or_else(|e| panic!("{e}\n{}", agent_log(sb)));
    // The agent makes the cluster network (podnet0 on the node's subnet) after joining.
    sb.wait_until("the cluster network", WAIT, || {
        agent_log(sb).contains("cluster network podnet0 on")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", agent_log(sb)));
    etcd
}

fn agent_log(sb: &Sandbox) -> String {
    testbed::stdout(&sb.sh(&format!("cat {LOG}")))
}

/// The backends `ip podnet-csvc` holds now (the `eps` map's values), or None without the
/// table.
fn rendered(sb: &Sandbox) -> Option<BTreeSet<String>> {
    let out = sb.sh(EPS_JSON);
    out.status
        .success()
        .then(|| eps_backends(&testbed::stdout(&out)))
        .flatten()
}

fn wait_rendered(sb: &Sandbox, want: &[&str]) {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    sb.wait_until(&format!("ip podnet-csvc to hold {want:?}"), WAIT, || {
        rendered(sb).is_some_and(|r| r == want)
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}: has {:?}\n{}\n{}",
            rendered(sb),
            testbed::stdout(&sb.sh("nft list table ip podnet-csvc")),
            agent_log(sb)
        )
    });
}

fn ip_of(sb: &Sandbox, name: &str) -> String {
    s(&inspect(sb, name), "ip").to_string()
}

/// `service create web --port 80:8080 --selector app=web EXTRA` as n1; its JSON.
fn create_web(sb: &Sandbox, extra: &[&str]) -> Value {
    let mut args = WEB_SERVICE.to_vec();
    args.extend_from_slice(extra);
    podnet_json(sb, &args)
}

#[test]
fn a_cluster_service_spreads_over_endpoints_of_every_node_by_vip_and_node_port() {
    let lab = lab();
    let sb = &lab.host;
    let etcd = start_n1(&lab);
    podnet_ok(
        sb,
        &["network", "create", "far", "--subnet", "10.244.200.0/24"],
    );
    backend(sb, "w1", &["app=web"], &[]);
    backend(sb, "w2", &["app=web"], &[]);
    backend(sb, "w3", &["app=web"], &["--network", "far"]);
    podnet_ok(
        sb,
        &["run", "-d", "--name", "c0", "--", "sleep", "infinity"],
    );
    let (w1, w2, w3) = (ip_of(sb, "w1"), ip_of(sb, "w2"), ip_of(sb, "w3"));
    // n2's agent would publish w3 so (bound to its lease; no lease here).
    etcd.etcdctl_ok(&[
        "put",
        "/podnet/v1/endpoints/n2/w3",
        &format!(r#"{{"ip":"{w3}","labels":{{"app":"web"}}}}"#),
    ])
    .unwrap();

    let svc = create_web(sb, &["--node-port", "30080"]);
    let vip = s(&svc, "vip").to_string();
    assert_eq!(vip, "10.43.0.1", "{svc}");
    // The spec, the VIP and the node port are claimed in etcd; n1 published its containers
    // (selectors pick among them on every node), not w3 (outside n1's subnet).
    let keys = keys_under(&etcd, "/podnet/v1/");
    for k in [
        "/podnet/v1/services/web",
        "/podnet/v1/vips/10.43.0.1",
        "/podnet/v1/nodeports/tcp-30080",
    ] {
        assert!(keys.contains(&k.to_string()), "{k} missing: {keys:?}");
    }
    sb.wait_until("n1 to publish w1 and w2", WAIT, || {
        let k = keys_under(&etcd, "/podnet/v1/endpoints/n1/");
        k.contains(&"/podnet/v1/endpoints/n1/w1".to_string())
            && k.contains(&"/podnet/v1/endpoints/n1/w2".to_string())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", agent_log(sb)));
    assert!(!keys_under(&etcd, "/podnet/v1/endpoints/n1/")
        .iter()
        .any(|k| k.ends_with("/w3")));
    wait_rendered(sb, &[&w1, &w2, &w3]);

    // From a container on the node, and through the node port from outside: all three.
    let m = spread(&lab, At::Container("c0"), "tcp", &vip, 80, 60);
    assert_eq!(
        m.keys().cloned().collect::<Vec<_>>(),
        ["w1", "w2", "w3"],
        "{m:?}"
    );
    let m = spread(&lab, At::Outside, "tcp", lab.config.host_ip(), 30080, 60);
    assert_eq!(
        m.keys().cloned().collect::<Vec<_>>(),
        ["w1", "w2", "w3"],
        "{m:?}"
    );
    // `service ls` on the node shows the cluster's view.
    let ls = podnet_json(sb, &["service", "ls"]);
    let row = &as_list(ls)[0];
    assert_eq!(row["name"], "web");
    assert_eq!(row["backends"].as_array().map(Vec::len), Some(3), "{row}");

    // n2's endpoint goes (its lease expired): out of the rendering, and of the traffic.
    etcd.etcdctl_ok(&["del", "/podnet/v1/endpoints/n2/w3"])
        .unwrap();
    wait_rendered(sb, &[&w1, &w2]);
    let m = spread(&lab, At::Container("c0"), "tcp", &vip, 80, 30);
    assert_eq!(m.keys().cloned().collect::<Vec<_>>(), ["w1", "w2"], "{m:?}");
    // A local container removed: the agent unpublishes it, every node drops it.
    podnet_ok(sb, &["rm", "-f", "w2"]);
    wait_rendered(sb, &[&w1]);
    assert!(!keys_under(&etcd, "/podnet/v1/endpoints/n1/")
        .contains(&"/podnet/v1/endpoints/n1/w2".to_string()));

    // Removed: the keys go, and the table with the last service.
    podnet_ok(sb, &["service", "rm", "web"]);
    sb.wait_until("ip podnet-csvc to go", WAIT, || rendered(sb).is_none())
        .unwrap_or_else(|e| panic!("{e}\n{}", agent_log(sb)));
    let keys = keys_under(&etcd, "/podnet/v1/");
    assert!(
        !keys.iter().any(|k| k.starts_with("/podnet/v1/services/")
            || k.starts_with("/podnet/v1/vips/")
            || k.starts_with("/podnet/v1/nodeports/")),
        "{keys:?}"
    );
    // Single-host services were never involved.
    assert!(!sb.sh("nft list table ip podnet-svc").status.success());
}

#[test]
fn a_flushed_ruleset_is_rendered_again_and_changes_after_a_compaction_still_arrive() {
    let lab = lab();
    let sb = &lab.host;
    let etcd = start_n1(&lab);
    backend(sb, "w1", &["app=web"], &[]);
    let w1 = ip_of(sb, "w1");
    create_web(sb, &[]);
    etcd.etcdctl_ok(&[
        "put",
        "/podnet/v1/endpoints/n2/x",
        r#"{"ip":"10.244.9.9","labels":{"app":"web"}}"#,
    ])
    .unwrap();
    wait_rendered(sb, &[&w1, "10.244.9.9"]);
    // Someone flushes the ruleset: the agent renders the table again.
    sb.sh_ok("nft flush ruleset").unwrap();
    wait_rendered(sb, &[&w1, "10.244.9.9"]);
    // History compacted up to now: the agent's watch goes on (a watch that fell behind the
    // window would be told so and list again: `cluster::watch`'s handling, shared here).
    let rev = {
        let out = etcd
            .etcdctl_ok(&["put", "/podnet/v1/scratch", "1", "-w", "json"])
            .unwrap();
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        v["header"]["revision"].as_i64().unwrap()
    };
    etcd.etcdctl_ok(&["compaction", &rev.to_string()]).unwrap();
    etcd.etcdctl_ok(&["del", "/podnet/v1/endpoints/n2/x"])
        .unwrap();
    wait_rendered(sb, &[&w1]);
}

#[test]
fn cluster_service_bad_input_is_refused_in_one_line_and_nothing_is_written() {
    let lab = lab();
    let sb = &lab.host;
    let etcd = start_n1(&lab);
    podnet_ok(
        sb,
        &[
            "service",
            "create",
            "web",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--vip",
            "10.43.0.9",
            "--node-port",
            "30080",
        ],
    );
    let before = keys_under(&etcd, "/podnet/v1/");
    let table: [(&[&str], &str); 6] = [
        (
            &[
                "service",
                "create",
                "web",
                "--port",
                "81",
                "--selector",
                "a=b",
            ],
            "already exists",
        ),
        (
            &[
                "service",
                "create",
                "w2",
                "--port",
                "81",
                "--selector",
                "a=b",
                "--vip",
                "10.43.0.9",
            ],
            "already the address of service 'web'",
        ),
        (
            &[
                "service",
                "create",
                "w3",
                "--port",
                "81",
                "--selector",
                "a=b",
                "--node-port",
                "30080",
            ],
            "already used by service 'web'",
        ),
        (
            &["service", "create", "w4", "--port", "81", "--backend", "x"],
            "--selector",
        ),
        (
            &[
                "service",
                "create",
                "w5",
                "--port",
                "81",
                "--selector",
                "a=b",
                "--vip",
                "fd00:43::5",
            ],
            "IPv4",
        ),
        (&["service", "rm", "nope"], "no service named 'nope'"),
    ];
    for (args, needle) in table {
        let out = sb.podnet_cmd(args).output().unwrap();
        assert_bad_input(&args.join(" "), &out, needle);
    }
    assert_eq!(keys_under(&etcd, "/podnet/v1/"), before);
}
