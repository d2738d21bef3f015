//! Issue 11, cluster services across real nodes (`testbed::Cluster`: node namespaces on an
//! underlay switch, a 3-member etcd, an agent per node, the VXLAN overlay): a service with a
//! backend on every node answers by VIP and node port everywhere (acceptance 2); a node
//! whose agent dies takes its backends out of every node's rendering and traffic, and
//! brings them back when its agent returns (acceptance 4); a node's own processes reach a
//! cluster VIP served by other nodes. Real TCP throughout, and each node's own view of
//! `ip podnet-csvc`.

mod common;

use common::sandbox;
use podnet::testbed::cluster_setup::AGENT_ARGS;
use podnet::testbed::Cluster;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const PORT: u16 = 8080;
const VIP: &str = "10.43.0.1";
const NODE_PORT: u16 = 30080;

/// `bN` (label `app=web`, answering its own name) on each node in `on`; `cN` (a client)
/// on every node. Returns the backends' pod addresses.
fn backends(c: &Cluster, on: &[usize]) -> BTreeSet<String> {
    let mut ips = BTreeSet::new();
    for &i in on {
        let b = format!("b{i}");
        ips.insert(c.serve(i, &b, &["app=web"], PORT, &b).unwrap());
    }
    for i in 0..c.nodes().len() {
        c.sleeper(i, &format!("c{i}")).unwrap();
    }
    ips
}

/// `service create web --port 80:8080 --selector app=web --node-port 30080` on node 1.
fn create_web(c: &Cluster) {
    let out = c
        .podnet_ok(
            0,
            &[
                "service",
                "create",
                "web",
                "--port",
                &format!("80:{PORT}"),
                "--selector",
                "app=web",
                "--node-port",
                &NODE_PORT.to_string(),
            ],
        )
        .unwrap();
    assert!(out.contains(VIP), "{out}");
}

fn names(of: &[usize]) -> BTreeSet<String> {
    of.iter().map(|i| format!("b{i}")).collect()
}

fn set(replies: Vec<String>) -> BTreeSet<String> {
    replies.into_iter().collect()
}

#[test]
fn a_service_with_backends_on_three_nodes_answers_in_every_container_and_node_port() {
    let sb = sandbox();
    let c = Cluster::joined(&sb, 3).unwrap();
    let ips = backends(&c, &[0, 1, 2]);
    create_web(&c);
    c.wait_csvc_backends(&[0, 1, 2], &ips).unwrap();
    for i in 0..3 {
        let got = c.connect_from(i, &format!("c{i}"), VIP, 80, 60).unwrap();
        assert_eq!(set(got), names(&[0, 1, 2]), "c{i} -> {VIP}:80");
        let got = c.connect_outside(&c.node(i).ip, NODE_PORT, 60).unwrap();
        assert_eq!(
            set(got),
            names(&[0, 1, 2]),
            "outside -> node {i}:{NODE_PORT}"
        );
    }
}

/// Acceptance 4, the services' part: "after its lease TTL the others remove ... its service
/// endpoints".
#[test]
fn a_killed_node_s_backends_leave_every_node_and_return_with_its_agent() {
    let sb = sandbox();
    let mut c = Cluster::joined(&sb, 3).unwrap();
    let all = backends(&c, &[0, 1, 2]);
    create_web(&c);
    c.wait_csvc_backends(&[0, 1, 2], &all).unwrap();
    let b2 = c.ip_of(2, "b2").unwrap();

    c.kill_agent(2).unwrap();
    // Its endpoints were bound to its lease: they go from etcd, then from every rendering.
    let left: BTreeSet<String> = all.iter().filter(|ip| **ip != b2).cloned().collect();
    c.wait_csvc_backends(&[0, 1], &left).unwrap();
    let keys = c
        .etcd
        .etcdctl_ok(&["get", "--prefix", "--keys-only", "/podnet/v1/endpoints/"])
        .unwrap();
    assert!(!keys.contains("/node3/"), "{keys}");
    assert!(
        keys.contains("/node1/b0") && keys.contains("/node2/b1"),
        "{keys}"
    );
    // Every connection is answered, by the remaining backends only: from a container on
    // node 1, and through node 1's and node 2's node port from outside.
    let got = c.connect_from(0, "c0", VIP, 80, 40).unwrap();
    assert_eq!(set(got), names(&[0, 1]), "c0 -> {VIP}:80");
    for i in 0..2 {
        let got = c.connect_outside(&c.node(i).ip, NODE_PORT, 40).unwrap();
        assert_eq!(set(got), names(&[0, 1]), "outside -> node {i}:{NODE_PORT}");
    }

    // Node 3's agent back (its container lived on): its backend returns everywhere.
    c.join(2, AGENT_ARGS).unwrap();
    c.wait_csvc_backends(&[0, 1, 2], &all).unwrap();
    let got = c.connect_from(0, "c0", VIP, 80, 60).unwrap();
    assert_eq!(
        set(got),
        names(&[0, 1, 2]),
        "c0 -> {VIP}:80 after node 3 returned"
    );
    let got = c.connect_outside(&c.node(1).ip, NODE_PORT, 60).unwrap();
    assert_eq!(
        set(got),
        names(&[0, 1, 2]),
        "outside -> node 2 after node 3 returned"
    );
}

/// A process in a node's own namespace (not a pod) reaches a cluster VIP whose backends are
/// all on other nodes, on a node whose only routes are its underlay and the pod network (no
/// default route to lean on). The backends see the node's pod-network address, so their
/// answers come back through the overlay.
#[test]
fn a_node_s_own_processes_reach_a_cluster_vip_served_by_other_nodes() {
    let sb = sandbox();
    let c = Cluster::joined(&sb, 3).unwrap();
    // Backends on nodes 1 and 3 answer with their name and the address the connection
    // came from.
    for i in [0, 2] {
        let b = format!("b{i}");
        c.serve(i, &b, &["app=web"], PORT, &format!("{b} {{peer}}"))
            .unwrap();
    }
    create_web(&c);
    c.wait_until(
        "node 2 to render both backends",
        std::time::Duration::from_secs(30),
        || c.csvc_backends(1).len() == 2,
    )
    .unwrap();
    c.sh_ok(1, "ip route del default").unwrap();
    let gateway = c
        .sh_ok(
            1,
            "ip -4 -o addr show dev podnet0 | awk '{print $4}' | cut -d/ -f1",
        )
        .unwrap();
    let gateway = gateway.trim();
    let got = c.connect_on_node(1, VIP, 80, 40).unwrap();
    assert_eq!(
        set(got),
        BTreeSet::from([format!("b0 {gateway}"), format!("b2 {gateway}")]),
        "node 2 -> {VIP}:80"
    );
}

/// `etcdctl watch --prefix PREFIX` in the sandbox, each key it reports with the operation
/// and when this process read it.
struct Watch {
    seen: std::sync::mpsc::Receiver<(String, String, Instant)>,
}

impl Watch {
    fn start(c: &Cluster, prefix: &str) -> Watch {
        let mut cmd = c.sb.cmd("etcdctl");
        cmd.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", c.etcd.endpoints()))
            .args(["watch", "--prefix", prefix])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        // Dies with the sandbox (its holder's PID namespace).
        let mut child = cmd.spawn().expect("etcdctl watch");
        let out = child.stdout.take().expect("piped");
        let (tx, seen) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let _child = child;
            let mut op = String::new();
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if line == "PUT" || line == "DELETE" {
                    op = line;
                } else if line.starts_with('/') && !op.is_empty() {
                    if tx.send((op.clone(), line, Instant::now())).is_err() {
                        return;
                    }
                    op.clear();
                }
            }
        });
        // The watch is established once a write made after its start is reported.
        let probe = format!("{prefix}probe");
        let w = Watch { seen };
        let start = Instant::now();
        loop {
            c.etcd.etcdctl_ok(&["put", &probe, "{}"]).unwrap();
            if w.until("PUT", &probe, Duration::from_millis(500)).is_some() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "etcdctl watch never reported"
            );
        }
        c.etcd.etcdctl_ok(&["del", &probe]).unwrap();
        w.until("DELETE", &probe, Duration::from_secs(20))
            .expect("probe deleted");
        w
    }

    /// When `op` on `key` was reported (events before it are passed over).
    fn until(&self, op: &str, key: &str, limit: Duration) -> Option<Instant> {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left) {
                Ok((o, k, at)) if o == op && k == key => return Some(at),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

/// A container's endpoint reaches etcd after `run`, changes with `label`, leaves it after
/// `stop` and `rm` (the command tells the agent, which publishes then; its 5 s resync is the
/// safety net). Prints how long `run` and `rm` took to show, from the command's start, as
/// seen by an etcd watch; asserts only that each change came.
#[test]
fn a_container_s_endpoint_follows_run_label_stop_and_rm() {
    let sb = sandbox();
    let c = Cluster::joined(&sb, 1).unwrap();
    let prefix = "/podnet/v1/endpoints/node1/";
    let w = Watch::start(&c, prefix);
    let (mut cmd_up, mut up, mut cmd_down, mut down) = (vec![], vec![], vec![], vec![]);
    for k in 0..10 {
        let name = format!("p{k}");
        let key = format!("{prefix}{name}");
        let t0 = Instant::now();
        c.podnet_ok(
            0,
            &[
                "run", "-d", "--name", &name, "-l", "app=web", "--", "sleep", "infinity",
            ],
        )
        .unwrap();
        cmd_up.push(t0.elapsed());
        let at = w
            .until("PUT", &key, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{key} never published\n{}", c.log(0)));
        up.push(at - t0);
        let t0 = Instant::now();
        c.podnet_ok(0, &["rm", "-f", &name]).unwrap();
        cmd_down.push(t0.elapsed());
        let at = w
            .until("DELETE", &key, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{key} never unpublished\n{}", c.log(0)));
        down.push(at - t0);
    }
    // A relabelled container is published again, a stopped one taken out.
    let key = format!("{prefix}q");
    c.podnet_ok(
        0,
        &[
            "run", "-d", "--name", "q", "-l", "app=web", "--", "sleep", "infinity",
        ],
    )
    .unwrap();
    w.until("PUT", &key, Duration::from_secs(30))
        .expect("q published");
    c.podnet_ok(0, &["label", "q", "app=db"]).unwrap();
    w.until("PUT", &key, Duration::from_secs(30))
        .expect("q published again with its new label");
    let v = c
        .etcd
        .etcdctl_ok(&["get", "--print-value-only", &key])
        .unwrap();
    assert!(v.contains(r#""app":"db""#), "{v}");
    c.podnet_ok(0, &["stop", "q"]).unwrap();
    w.until("DELETE", &key, Duration::from_secs(30))
        .expect("q unpublished when stopped");
    println!(
        "endpoint in etcd after `run` starts: median {:.0} ms, max {:.0} ms (the command itself {:.0} ms); \
         gone after `rm -f` starts: median {:.0} ms, max {:.0} ms (the command itself {:.0} ms)",
        median_ms(up.clone()),
        up.iter().max().unwrap().as_secs_f64() * 1e3,
        median_ms(cmd_up),
        median_ms(down.clone()),
        down.iter().max().unwrap().as_secs_f64() * 1e3,
        median_ms(cmd_down),
    );
}
