//! The etcd test bed, the etcd client against a real etcd, and `podnet cluster init`
//! (issue 11's control plane). Every etcd runs in the test's sandbox and dies with it.

mod common;

use common::cluster::{keys, podnet_as};
use common::{assert_error, sandbox};
use podnet::cluster::etcd::{Compare, Etcd as Client, Op, WatchMsg};
use podnet::testbed::{self, Etcd, Sandbox};

/// Runs `f` on a thread inside the sandbox's network namespace (where its etcd listens).
fn in_net<T: Send + 'static>(sb: &Sandbox, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = std::fs::File::open(sb.netns_path()).expect("open netns");
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("thread")
}

#[test]
fn etcd_testbed_survives_a_killed_member_and_a_full_restart() {
    let sb = sandbox();
    let mut etcd = Etcd::start(&sb, 3).unwrap();
    etcd.etcdctl_ok(&["put", "/t/k", "v1"]).unwrap();
    let pid = etcd.pid(0).unwrap();
    etcd.kill(0).unwrap();
    assert!(
        !sb.sh(&format!("kill -0 {pid}")).status.success(),
        "member 1 still runs"
    );
    // Two of three keep the quorum: writes go on, once they have elected a leader if the
    // killed member was it (an election timeout, longer on a loaded machine).
    sb.wait_until(
        "a write accepted by the two members left",
        std::time::Duration::from_secs(20),
        || etcd.etcdctl_ok(&["put", "/t/k", "v2"]).is_ok(),
    )
    .unwrap();
    etcd.stop_all().unwrap();
    assert!(
        !etcd.etcdctl(&["get", "/t/k"]).status.success(),
        "etcd answers with every member dead"
    );
    etcd.start_all().unwrap();
    let v = etcd
        .etcdctl_ok(&["get", "--print-value-only", "/t/k"])
        .unwrap();
    assert_eq!(v.trim(), "v2", "data kept across the restart");
}

#[test]
fn client_kv_txn_lease_and_watch_against_real_etcd() {
    let sb = sandbox();
    let mut etcd = Etcd::start(&sb, 3).unwrap();
    let urls = etcd.urls();
    let (lease, ttl_left, rev0) = in_net(&sb, move || {
        let c = Client::new(&urls).unwrap();
        let r = c.txn(
            &[Compare::Absent("/t/a".into())],
            &[Op::Put {
                key: "/t/a".into(),
                value: b"1".to_vec(),
                lease: 0,
            }],
            &[Op::Get("/t/a".into())],
        );
        assert!(r.unwrap().succeeded);
        let r = c
            .txn(
                &[Compare::Absent("/t/a".into())],
                &[Op::Put {
                    key: "/t/a".into(),
                    value: b"2".to_vec(),
                    lease: 0,
                }],
                &[Op::Get("/t/a".into())],
            )
            .unwrap();
        assert!(!r.succeeded, "create-only put overwrote");
        assert_eq!(r.gets[0][0].value, b"1");
        let lease = c.grant(30).unwrap();
        c.put("/t/b", b"x", lease).unwrap();
        let (kvs, rev) = c.list("/t/").unwrap();
        assert_eq!(
            kvs.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
            ["/t/a", "/t/b"]
        );
        assert_eq!(kvs[1].lease, lease);
        (lease, c.keepalive(lease).unwrap(), rev)
    });
    assert!(ttl_left > 0);
    let out = etcd.etcdctl_ok(&["lease", "list"]).unwrap();
    assert!(
        out.contains(&format!("{lease:x}")),
        "etcdctl sees no lease {lease:x}: {out}"
    );
    // Kill the member the client used first: calls move to the others.
    etcd.kill(0).unwrap();
    let urls = etcd.urls();
    let (events, compacted) = in_net(&sb, move || {
        let c = Client::new(&urls).unwrap();
        let mut w = c.watch("/t/", rev0 + 1).unwrap();
        c.revoke(lease).unwrap();
        let events = w.next_msg().unwrap();
        // A watch from a compacted revision is told so (and must list again).
        c.put("/t/c", b"y", 0).unwrap();
        let rev = c.put("/t/c", b"z", 0).unwrap();
        c.compact(rev).unwrap();
        let compacted = c.watch("/t/", rev0).unwrap().next_msg().unwrap();
        (events, compacted)
    });
    match events {
        WatchMsg::Events { events, .. } => assert_eq!(
            events,
            vec![podnet::cluster::etcd::Event::Delete("/t/b".into())],
            "revoking the lease deletes its key"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(compacted, WatchMsg::Compacted { .. }),
        "{compacted:?}"
    );
    let v = etcd
        .etcdctl_ok(&["get", "--prefix", "--keys-only", "/t/"])
        .unwrap();
    assert!(!v.contains("/t/b"), "{v}");
}

#[test]
fn cluster_init_is_create_only_and_remembers_etcd() {
    let sb = sandbox();
    let etcd = Etcd::start(&sb, 1).unwrap();
    let eps = etcd.endpoints();
    let init = |cidr: &str| {
        podnet_as(
            &sb,
            "a",
            &[
                "cluster",
                "init",
                "--etcd",
                &eps,
                "--pod-cidr",
                cidr,
                "--vni",
                "7",
            ],
        )
    };
    let out = init("10.244.0.0/16");
    assert!(out.status.success(), "{}", testbed::describe(&out));
    let cfg = etcd
        .etcdctl_ok(&["get", "--print-value-only", "/podnet/v1/config"])
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(cfg.trim()).unwrap();
    assert_eq!(v["pod_cidr"], "10.244.0.0/16");
    assert_eq!(v["node_prefix"], 24);
    assert_eq!(v["vni"], 7);
    let rev = etcd
        .etcdctl_ok(&["get", "/podnet/v1/config", "-w", "json"])
        .unwrap();
    // Same values: success, nothing rewritten.
    let out = init("10.244.0.0/16");
    assert!(out.status.success(), "{}", testbed::describe(&out));
    let mod_rev = |s: &str| {
        serde_json::from_str::<serde_json::Value>(s).unwrap()["kvs"][0]["mod_revision"].clone()
    };
    assert_eq!(
        mod_rev(
            &etcd
                .etcdctl_ok(&["get", "/podnet/v1/config", "-w", "json"])
                .unwrap()
        ),
        mod_rev(&rev)
    );
    // Other values: a one-line conflict, config unchanged.
    let out = init("10.96.0.0/16");
    assert_eq!(out.status.code(), Some(2), "{}", testbed::describe(&out));
    let err = testbed::stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("already has pod CIDR 10.244.0.0/16"), "{err}");
    let cfg2 = etcd
        .etcdctl_ok(&["get", "--print-value-only", "/podnet/v1/config"])
        .unwrap();
    assert_eq!(cfg, cfg2);
    // The node remembers where etcd is: `node ls` needs no flag.
    let out = podnet_as(&sb, "a", &["node", "ls"]);
    assert!(out.status.success(), "{}", testbed::describe(&out));
    assert!(
        testbed::stdout(&out).starts_with("NAME"),
        "{}",
        testbed::describe(&out)
    );
}

#[test]
fn cluster_init_bad_input_writes_nothing() {
    let sb = sandbox();
    let etcd = Etcd::start(&sb, 1).unwrap();
    // A host route inside 10.250.0.0/16 (a LAN this host is on).
    sb.add_stub_link("lan0", "10.250.3.1/24").unwrap();
    let eps = etcd.endpoints();
    // (etcd URLs, pod CIDR, extra args, exit code, text in the error)
    let table: [(&str, &str, &[&str], i32, &str); 9] = [
        // Nothing listens there: refused at once.
        ("http://127.0.0.1:1", "10.244.0.0/16", &[], 1, "unreachable"),
        // No route to it in the sandbox.
        (
            "http://10.9.9.9:2379",
            "10.244.0.0/16",
            &[],
            1,
            "unreachable",
        ),
        ("127.0.0.1:2379", "10.244.0.0/16", &[], 2, "http://"),
        (
            "http://127.0.0.1:2379/v3",
            "10.244.0.0/16",
            &[],
            2,
            "--etcd",
        ),
        (&eps, "10.244.0.0", &[], 2, "--pod-cidr"),
        (&eps, "10.244.0.0/40", &[], 2, "--pod-cidr"),
        (&eps, "10.244.0.0/24", &[], 2, "too small"),
        (
            &eps,
            "10.244.0.0/16",
            &["--node-prefix", "16"],
            2,
            "too small",
        ),
        (
            &eps,
            "10.250.0.0/16",
            &[],
            2,
            "overlaps this host's route to 10.250.3.0/24",
        ),
    ];
    for (urls, cidr, extra, code, text) in table {
        let mut args = vec!["cluster", "init", "--etcd", urls, "--pod-cidr", cidr];
        args.extend_from_slice(extra);
        let out = podnet_as(&sb, "bad", &args);
        assert_error(&format!("{args:?}"), &out, code, text);
        assert_eq!(keys(&etcd), Vec::<String>::new(), "{args:?} wrote to etcd");
        let rec = sb.sh("test -e /run/nodes/bad/root/cluster.json");
        assert!(!rec.status.success(), "{args:?} left a cluster record");
    }
}
