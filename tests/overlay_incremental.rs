//! The overlay's incremental reconcile (`engine::overlay::Reconciler`, issue 11 at scale):
//! a change applies only its own entries, trusting what the reconciler applied before, and
//! the kernel is read back — and whatever someone else changed repaired — on the first
//! call, after an error, when the device was re-made, and on the periodic resync. Each test
//! in a network namespace of its own thread; the kernel's side read with `ip -j`/`bridge -j`.

use ipnet::Ipv4Net;
use podnet::engine::overlay::{self, Full, OverlayConfig, Reconciler};
use podnet::kernel::Rtnl;
use podnet::model::NodeLease;
use podnet::testbed::thread_netns::{in_netns, run};
use serde_json::Value;
use std::time::{Duration, Instant};

const DEV: &str = "podnet.1";
const RESYNC: Duration = Duration::from_secs(60);

fn lease(k: u8) -> NodeLease {
    NodeLease {
        name: format!("n{k}"),
        subnet: format!("10.244.{k}.0/24").parse().unwrap(),
        underlay: format!("192.168.60.{k}").parse().unwrap(),
        vtep_mac: format!("02:00:00:00:00:{k:02x}").parse().unwrap(),
    }
}

fn subnet() -> Ipv4Net {
    "10.244.1.0/24".parse().unwrap()
}

fn underlay() -> OverlayConfig {
    run(
        "sh",
        &[
            "-c",
            "ip link set lo up && ip link add ul type veth peer name ulp \
             && ip addr add 192.168.60.1/24 dev ul && ip link set ulp up && ip link set ul up \
             && ip link add other type bridge && ip link set other up \
             && ip addr add 172.30.0.1/24 dev other",
        ],
    );
    OverlayConfig::new(1, "192.168.60.1".parse().unwrap())
}

fn json(cmd: &str, args: &[&str]) -> Value {
    serde_json::from_str(&run(cmd, args)).unwrap()
}

/// The device's FDB entries as `MAC dst`, its routes as `dst via gw`, sorted.
fn fdb() -> Vec<String> {
    let mut v: Vec<String> = json("bridge", &["-j", "fdb", "show", "dev", DEV])
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some(format!("{} {}", e["mac"].as_str()?, e["dst"].as_str()?)))
        .collect();
    v.sort();
    v
}

fn routes() -> Vec<String> {
    let mut v: Vec<String> = json("ip", &["-j", "route", "show", "dev", DEV])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} via {}",
                r["dst"].as_str().unwrap(),
                r["gateway"].as_str().unwrap_or("-")
            )
        })
        .collect();
    v.sort();
    v
}

fn fdb_of(ks: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = ks
        .iter()
        .map(|k| format!("02:00:00:00:00:{k:02x} 192.168.60.{k}"))
        .collect();
    v.sort();
    v
}

fn routes_of(ks: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = ks
        .iter()
        .map(|k| format!("10.244.{k}.0/24 via 10.244.{k}.0"))
        .collect();
    v.sort();
    v
}

fn clean(o: &overlay::Outcome) {
    assert!(o.errors.is_empty(), "{:?}", o.errors);
}

/// Between resyncs a change is applied from memory: an FDB entry someone deleted by hand
/// stays missing through a change to another node (proof that no dump happened), and the
/// periodic resync puts it back.
#[test]
fn a_change_applies_only_its_entries_and_the_periodic_resync_repairs_a_manual_delete() {
    in_netns(|| {
        let cfg = underlay();
        let mut rtnl = Rtnl::open().unwrap();
        let mut r = Reconciler::new(RESYNC);
        let t0 = Instant::now();
        let o = r.reconcile_at(&mut rtnl, &cfg, subnet(), &[lease(2), lease(3)], t0);
        clean(&o);
        assert_eq!(r.last, Some(Full::First));
        assert_eq!(o.changes.len(), 6);
        run(
            "bridge",
            &[
                "fdb",
                "del",
                "02:00:00:00:00:03",
                "dev",
                DEV,
                "dst",
                "192.168.60.3",
                "self",
            ],
        );
        let all = [lease(2), lease(3), lease(4)];
        let o = r.reconcile_at(&mut rtnl, &cfg, subnet(), &all, t0 + RESYNC / 2);
        clean(&o);
        assert_eq!(r.last, None, "a delta, not a read-back");
        assert_eq!(
            overlay_lines(&o),
            "bridge fdb replace 02:00:00:00:00:04 dev podnet.1 dst 192.168.60.4 self permanent\n\
             ip neigh replace 10.244.4.0 lladdr 02:00:00:00:00:04 dev podnet.1 nud permanent\n\
             ip route add 10.244.4.0/24 via 10.244.4.0 dev podnet.1 onlink\n"
        );
        assert_eq!(
            fdb(),
            fdb_of(&[2, 4]),
            "the delta did not look at n3's entry"
        );
        assert!(r.resync_due(t0 + RESYNC));
        let o = r.reconcile_at(&mut rtnl, &cfg, subnet(), &all, t0 + RESYNC);
        clean(&o);
        assert_eq!(r.last, Some(Full::Periodic));
        assert_eq!(
            overlay_lines(&o),
            "bridge fdb replace 02:00:00:00:00:03 dev podnet.1 dst 192.168.60.3 self permanent\n"
        );
        assert_eq!(fdb(), fdb_of(&[2, 3, 4]));
        assert_eq!(routes(), routes_of(&[2, 3, 4]));
        // A node leaving is a delta too: its three entries, nothing else.
        let o = r.reconcile_at(&mut rtnl, &cfg, subnet(), &all[1..], t0 + RESYNC * 3 / 2);
        clean(&o);
        assert_eq!((r.last, o.changes.len()), (None, 3));
        assert_eq!(fdb(), fdb_of(&[3, 4]));
        assert_eq!(routes(), routes_of(&[3, 4]));
    });
}

fn overlay_lines(o: &overlay::Outcome) -> String {
    podnet::plan::overlay::describe(&o.changes, DEV)
}

/// A failed apply leaves the kernel's state unknown: the next call reads it back and
/// retries what failed, even within the resync period.
#[test]
fn after_an_apply_error_the_next_call_reads_the_kernel_back() {
    in_netns(|| {
        let cfg = underlay();
        let mut rtnl = Rtnl::open().unwrap();
        let mut r = Reconciler::new(RESYNC);
        let t0 = Instant::now();
        clean(&r.reconcile_at(&mut rtnl, &cfg, subnet(), &[lease(2)], t0));
        // Another device's route to n3's subnet: our route add is refused (EEXIST).
        run(
            "ip",
            &[
                "route",
                "add",
                "10.244.3.0/24",
                "via",
                "172.30.0.8",
                "dev",
                "other",
            ],
        );
        let all = [lease(2), lease(3)];
        let o = r.reconcile_at(&mut rtnl, &cfg, subnet(), &all, t0 + Duration::from_secs(1));
        assert_eq!(r.last, None);
        assert_eq!(o.errors.len(), 1, "{:?}", o.errors);
        run("ip", &["route", "del", "10.244.3.0/24", "dev", "other"]);
        let o = r.reconcile_at(&mut rtnl, &cfg, subnet(), &all, t0 + Duration::from_secs(2));
        clean(&o);
        assert_eq!(r.last, Some(Full::AfterError));
        assert_eq!(
            overlay_lines(&o),
            "ip route add 10.244.3.0/24 via 10.244.3.0 dev podnet.1 onlink\n"
        );
        assert_eq!(routes(), routes_of(&[2, 3]));
        assert_eq!(fdb(), fdb_of(&[2, 3]));
    });
}

/// Someone deletes the device (its entries go with it): the next call re-makes it and
/// refills it from a read-back, not from memory.
#[test]
fn a_device_deleted_by_someone_else_is_re_made_and_refilled() {
    in_netns(|| {
        let cfg = underlay();
        let mut rtnl = Rtnl::open().unwrap();
        let mut r = Reconciler::new(RESYNC);
        let t0 = Instant::now();
        let all = [lease(2), lease(3)];
        clean(&r.reconcile_at(&mut rtnl, &cfg, subnet(), &all, t0));
        run("ip", &["link", "del", DEV]);
        let o = r.reconcile_at(&mut rtnl, &cfg, subnet(), &all, t0 + Duration::from_secs(1));
        clean(&o);
        assert!(o.device.unwrap().created);
        assert_eq!((r.last, o.changes.len()), (Some(Full::Device), 6));
        assert_eq!(fdb(), fdb_of(&[2, 3]));
        assert_eq!(routes(), routes_of(&[2, 3]));
    });
}
