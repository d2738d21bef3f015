//! Overlay benchmark (issue 11): the per-node cost of installing N remote nodes' VXLAN
//! entries (one FDB entry, one permanent neighbour, one onlink route each) with
//! `engine::overlay::reconcile`, and of the reconciles that follow.
//!
//! ```sh
//! cargo bench --bench overlay -- [--nodes 100,1000] [--reps 5]
//! ```
//!
//! Each repetition runs in a fresh network namespace held by a thread of its own (never the
//! machine's): a veth pair as the underlay (192.168.60.1/16), the node's subnet 10.0.0.0/24,
//! and N synthetic leases (10.x.y.0/24 behind 192.168.x.y, MAC 02:00:00:00:x:y), as an etcd
//! watch would hand them over. Timed, per repetition:
//! - `install`: the first reconcile, from a node with no device (device made, N×3 entries);
//! - `noop`: the same leases again (three dumps and a diff, nothing to change);
//! - `one MAC`: one remote re-created with a new MAC (FDB delete + add, neighbour replace);
//! - `remove all`: every remote gone (N×3 deletes).
//!
//! Then the same node as a long-lived agent runs it, through `overlay::Reconciler` (deltas
//! against what it applied; the kernel read back only on start, errors and a periodic
//! resync), primed with the N leases:
//! - `Δ join`: one more node (3 entries, no dump);
//! - `Δ MAC`: that node re-created with a new MAC;
//! - `Δ leave`: it goes again.
//!
//! Prints the median and minimum of each, and the install's cost per remote node.

use ipnet::Ipv4Net;
use podnet::engine::overlay::{self, OverlayConfig, Reconciler};
use podnet::kernel::Rtnl;
use podnet::model::{Mac, NodeLease};
use podnet::testbed::thread_netns::{in_netns, run};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

fn lease(k: usize) -> NodeLease {
    let (x, y) = ((k / 250 + 1) as u8, (k % 250 + 1) as u8);
    NodeLease {
        name: format!("node{k}"),
        subnet: Ipv4Net::new(Ipv4Addr::new(10, x, y, 0), 24).unwrap(),
        underlay: IpAddr::V4(Ipv4Addr::new(192, 168, x, y)),
        vtep_mac: Mac([2, 0, 0, 0, x, y]),
    }
}

struct Times {
    install: Duration,
    noop: Duration,
    one_mac: Duration,
    remove_all: Duration,
    device_check: Duration,
    plan: Duration,
    delta_join: Duration,
    delta_mac: Duration,
    delta_leave: Duration,
}

fn timed(f: impl FnOnce() -> overlay::Outcome) -> (Duration, overlay::Outcome) {
    let t = Instant::now();
    let o = f();
    (t.elapsed(), o)
}

fn one_rep(n: usize) -> Times {
    in_netns(move || {
        run(
            "sh",
            &[
                "-c",
                "ip link set lo up && ip link add ul type veth peer name ulp \
            && ip addr add 192.168.60.1/16 dev ul && ip link set ulp up && ip link set ul up",
            ],
        );
        let cfg = OverlayConfig::new(1, "192.168.60.1".parse().unwrap());
        let subnet: Ipv4Net = "10.0.0.0/24".parse().unwrap();
        let mut leases: Vec<NodeLease> = (0..n).map(lease).collect();
        let mut rtnl = Rtnl::open().unwrap();
        let check = |what: &str, o: &overlay::Outcome, changes: usize| {
            assert!(o.errors.is_empty(), "{what}: {:?}", o.errors);
            assert_eq!(o.changes.len(), changes, "{what}");
        };
        let (install, o) = timed(|| overlay::reconcile(&mut rtnl, &cfg, subnet, &leases));
        check("install", &o, 3 * n);
        let (noop, o) = timed(|| overlay::reconcile(&mut rtnl, &cfg, subnet, &leases));
        check("noop", &o, 0);
        leases[n / 2].vtep_mac = Mac([2, 0, 0, 1, 0, 1]);
        let (one_mac, o) = timed(|| overlay::reconcile(&mut rtnl, &cfg, subnet, &leases));
        check("one MAC", &o, 3);
        let (remove_all, o) = timed(|| overlay::reconcile(&mut rtnl, &cfg, subnet, &[]));
        check("remove all", &o, 3 * n);
        leases[n / 2] = lease(n / 2);
        let mut r = Reconciler::default();
        let o = r.reconcile(&mut rtnl, &cfg, subnet, &leases);
        check("prime", &o, 3 * n);
        let mut more = leases.clone();
        more.push(lease(n));
        let (delta_join, o) = timed(|| r.reconcile(&mut rtnl, &cfg, subnet, &more));
        check("Δ join", &o, 3);
        assert!(r.last.is_none(), "a delta");
        more[n].vtep_mac = Mac([2, 0, 0, 1, 0, 2]);
        let (delta_mac, o) = timed(|| r.reconcile(&mut rtnl, &cfg, subnet, &more));
        check("Δ MAC", &o, 3);
        let (delta_leave, o) = timed(|| r.reconcile(&mut rtnl, &cfg, subnet, &leases));
        check("Δ leave", &o, 3);
        // Where a delta's time goes besides its 3 kernel requests: the device check and
        // the pure plan over all N leases.
        let t = Instant::now();
        overlay::ensure_device(&mut rtnl, &cfg, subnet).unwrap();
        let device_check = t.elapsed();
        let t = Instant::now();
        let (want, _) = podnet::plan::overlay::desired(subnet, &more);
        let _ = podnet::plan::overlay::diff(&want, &podnet::plan::overlay::Current(want.clone()));
        let plan = t.elapsed();
        Times {
            device_check,
            plan,
            delta_join,
            delta_mac,
            delta_leave,
            install,
            noop,
            one_mac,
            remove_all,
        }
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    (ms(v[v.len() / 2]), ms(v[0]))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let nodes: Vec<usize> = arg("--nodes")
        .unwrap_or_else(|| "100,1000".into())
        .split(',')
        .map(|s| s.parse().expect("--nodes N,M"))
        .collect();
    let reps: usize = arg("--reps")
        .map(|s| s.parse().expect("--reps N"))
        .unwrap_or(5);
    println!("overlay reconcile, {reps} repetitions (median / min, ms)");
    for n in nodes {
        let runs: Vec<Times> = (0..reps).map(|_| one_rep(n)).collect();
        let col = |f: fn(&Times) -> Duration| stats(runs.iter().map(f).collect());
        let (i, imin) = col(|t| t.install);
        let (z, zmin) = col(|t| t.noop);
        let (m, mmin) = col(|t| t.one_mac);
        let (r, rmin) = col(|t| t.remove_all);
        let (dj, djmin) = col(|t| t.delta_join);
        let (dm, dmmin) = col(|t| t.delta_mac);
        let (dl, dlmin) = col(|t| t.delta_leave);
        let (dc, _) = col(|t| t.device_check);
        let (pl, _) = col(|t| t.plan);
        println!(
            "N={n:5}  install {i:8.2} / {imin:8.2}  ({:.1} µs/node)  noop {z:7.2} / {zmin:7.2}  \
             one MAC {m:7.2} / {mmin:7.2}  remove all {r:8.2} / {rmin:8.2}",
            i * 1e3 / n as f64
        );
        println!(
            "         Reconciler: Δ join {dj:7.3} / {djmin:7.3}  Δ MAC {dm:7.3} / {dmmin:7.3}  \
             Δ leave {dl:7.3} / {dlmin:7.3}  (of which device check {dc:.3}, plan of N+1 {pl:.3})"
        );
    }
}
