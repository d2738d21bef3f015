//! Kernel tests of the overlay's device and entries (issue 11), each in a network namespace
//! of its own thread, checked with `ip -j`/`bridge -j`, an independent view of the kernel.

use ipnet::Ipv4Net;
use podnet::engine::overlay::{self, OverlayConfig};
use podnet::kernel::Rtnl;
use podnet::model::NodeLease;
use podnet::testbed::thread_netns::{in_netns, run};
use serde_json::Value;

const DEV: &str = "podnet.1";

fn json(cmd: &str, args: &[&str]) -> Value {
    serde_json::from_str(&run(cmd, args)).unwrap()
}

fn lease(name: &str, subnet: &str, underlay: &str, mac: &str) -> NodeLease {
    NodeLease {
        name: name.into(),
        subnet: subnet.parse().unwrap(),
        underlay: underlay.parse().unwrap(),
        vtep_mac: mac.parse().unwrap(),
    }
}

fn b() -> NodeLease {
    lease("b", "10.244.2.0/24", "192.168.60.2", "02:00:00:00:00:0b")
}

fn c() -> NodeLease {
    lease("c", "10.244.3.0/24", "192.168.60.3", "02:00:00:00:00:0c")
}

fn subnet() -> Ipv4Net {
    "10.244.1.0/24".parse().unwrap()
}

/// An underlay (`ul`, 192.168.60.1/24, MTU 1400) and a second device (`other`) whose
/// entries the overlay must never touch.
fn underlay() -> OverlayConfig {
    run("sh", &["-c", "ip link add ul mtu 1400 type veth peer name ulp && ip addr add 192.168.60.1/24 dev ul \
        && ip link set ulp up && ip link set ul up && ip link add other type bridge && ip link set other up \
        && ip addr add 172.30.0.1/24 dev other \
        && ip route add 10.244.3.0/24 via 172.30.0.9 dev other metric 100 \
        && ip neigh replace 10.244.2.0 lladdr 02:00:00:00:00:99 dev other nud permanent"]);
    OverlayConfig::new(1, "192.168.60.1".parse().unwrap())
}

/// (routes, neighbours, fdb) of the device as `ip`/`bridge` print them, sorted.
fn entries(dev: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut routes: Vec<String> = json("ip", &["-j", "route", "show", "dev", dev])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let flags: Vec<String> = r["flags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| f.as_str().unwrap().to_string())
                .collect();
            format!(
                "{} via {} {}",
                r["dst"].as_str().unwrap(),
                r["gateway"].as_str().unwrap_or("-"),
                flags.join(",")
            )
        })
        .collect();
    let mut neigh: Vec<String> = json("ip", &["-4", "-j", "neigh", "show", "dev", dev])
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{} {} {}",
                n["dst"].as_str().unwrap(),
                n["lladdr"].as_str().unwrap_or("-"),
                n["state"][0].as_str().unwrap_or("-")
            )
        })
        .collect();
    let mut fdb: Vec<String> = json("bridge", &["-j", "fdb", "show", "dev", dev])
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["mac"].as_str().unwrap(),
                f["dst"].as_str().unwrap_or("-"),
                f["state"].as_str().unwrap_or("-")
            )
        })
        .collect();
    routes.sort();
    neigh.sort();
    fdb.sort();
    (routes, neigh, fdb)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// What `ip -d link` says of the device.
fn device(dev: &str) -> Value {
    json("ip", &["-d", "-j", "link", "show", dev])[0].clone()
}

#[test]
fn the_device_is_flannel_shaped_and_holds_one_entry_of_each_kind_per_remote() {
    in_netns(|| {
        let cfg = underlay();
        let mut rtnl = Rtnl::open().unwrap();
        let out = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b(), c()]);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let d = device(DEV);
        let info = &d["linkinfo"]["info_data"];
        assert_eq!(d["linkinfo"]["info_kind"], "vxlan");
        assert_eq!(info["id"], 1);
        assert_eq!(info["local"], "192.168.60.1");
        assert_eq!(info["link"], "ul");
        assert_eq!(info["port"], 4789);
        assert_eq!(info["learning"], false);
        assert!(
            info.get("group").is_none() && info.get("remote").is_none(),
            "{info}"
        );
        assert_eq!(d["mtu"], 1350, "underlay MTU 1400 - 50");
        assert_eq!(d["ifalias"], overlay::ALIAS);
        assert!(d["flags"].as_array().unwrap().iter().any(|f| f == "UP"));
        let dev = out.device.unwrap();
        assert_eq!(
            d["address"],
            dev.mac.to_string(),
            "the MAC read back is the device's"
        );
        let addrs = json("ip", &["-j", "addr", "show", "dev", DEV]);
        let a: Vec<String> = addrs[0]["addr_info"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{} {}/{}",
                    a["family"].as_str().unwrap(),
                    a["local"].as_str().unwrap(),
                    a["prefixlen"]
                )
            })
            .collect();
        assert_eq!(
            a,
            strs(&["inet 10.244.1.0/32"]),
            "no IPv6 link-local either"
        );
        assert_eq!(
            entries(DEV),
            (
                strs(&[
                    "10.244.2.0/24 via 10.244.2.0 onlink",
                    "10.244.3.0/24 via 10.244.3.0 onlink"
                ]),
                strs(&[
                    "10.244.2.0 02:00:00:00:00:0b PERMANENT",
                    "10.244.3.0 02:00:00:00:00:0c PERMANENT"
                ]),
                strs(&[
                    "02:00:00:00:00:0b 192.168.60.2 permanent",
                    "02:00:00:00:00:0c 192.168.60.3 permanent"
                ]),
            )
        );
        // Idempotent: nothing left to do, nothing re-made.
        let again = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[c(), b()]);
        assert!(
            again.errors.is_empty() && again.changes.is_empty(),
            "{again:?}"
        );
        assert!(!again.device.unwrap().created);
        // The other device's route and neighbour (same keys as the overlay's!) are untouched.
        let (r, n, _) = entries("other");
        assert!(
            r.iter()
                .any(|x| x.starts_with("10.244.3.0/24 via 172.30.0.9 ")),
            "{r:?}"
        );
        assert_eq!(n, strs(&["10.244.2.0 02:00:00:00:00:99 PERMANENT"]));
    });
}

#[test]
fn removed_changed_and_re_added_nodes_leave_nothing_stale() {
    in_netns(|| {
        let cfg = underlay();
        let mut rtnl = Rtnl::open().unwrap();
        let ok = |rtnl: &mut Rtnl, leases: &[NodeLease]| {
            let o = overlay::reconcile(rtnl, &cfg, subnet(), leases);
            assert!(o.errors.is_empty(), "{:?}", o.errors);
        };
        ok(&mut rtnl, &[b(), c()]);
        ok(&mut rtnl, &[b()]);
        assert_eq!(
            entries(DEV),
            (
                strs(&["10.244.2.0/24 via 10.244.2.0 onlink"]),
                strs(&["10.244.2.0 02:00:00:00:00:0b PERMANENT"]),
                strs(&["02:00:00:00:00:0b 192.168.60.2 permanent"]),
            ),
            "node c removed"
        );
        // b re-created with a new MAC and moved, c back with a new MAC without this node
        // ever seeing it go.
        let mut b2 = b();
        b2.vtep_mac = "02:00:00:00:01:0b".parse().unwrap();
        b2.underlay = "192.168.60.12".parse().unwrap();
        let mut c2 = c();
        c2.vtep_mac = "02:00:00:00:01:0c".parse().unwrap();
        ok(&mut rtnl, &[b(), c()]);
        ok(&mut rtnl, &[b2, c2]);
        assert_eq!(
            entries(DEV),
            (
                strs(&[
                    "10.244.2.0/24 via 10.244.2.0 onlink",
                    "10.244.3.0/24 via 10.244.3.0 onlink"
                ]),
                strs(&[
                    "10.244.2.0 02:00:00:00:01:0b PERMANENT",
                    "10.244.3.0 02:00:00:00:01:0c PERMANENT"
                ]),
                strs(&[
                    "02:00:00:00:01:0b 192.168.60.12 permanent",
                    "02:00:00:00:01:0c 192.168.60.3 permanent"
                ]),
            )
        );
    });
}

/// A reconcile after a crash at any point converges: the device left down without its
/// address, half the entries, a stale entry of a node gone meanwhile, a wrong neighbour.
#[test]
fn a_reconcile_after_a_crash_converges() {
    in_netns(|| {
        let cfg = underlay();
        let mut rtnl = Rtnl::open().unwrap();
        let o = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b(), c()]);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let want = entries(DEV);
        run(
            "sh",
            &[
                "-c",
                &format!(
                    "ip link set {DEV} down && ip addr flush dev {DEV} \
            && ip route del 10.244.3.0/24 dev {DEV} 2>/dev/null; \
            ip neigh replace 10.244.2.0 lladdr 02:00:00:00:00:77 dev {DEV} nud permanent \
            && bridge fdb del 02:00:00:00:00:0c dev {DEV} dst 192.168.60.3 self \
            && bridge fdb append 02:00:00:00:00:55 dev {DEV} dst 192.168.60.5 self permanent \
            && ip neigh replace 10.244.5.0 lladdr 02:00:00:00:00:55 dev {DEV} nud permanent"
                ),
            ],
        );
        let o = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b(), c()]);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        assert!(
            !o.device.unwrap().created,
            "the device is repaired, not re-made"
        );
        assert_eq!(entries(DEV), want);
        let d = device(DEV);
        assert!(d["flags"].as_array().unwrap().iter().any(|f| f == "UP"));
        let addrs = json("ip", &["-4", "-j", "addr", "show", "dev", DEV]);
        assert_eq!(addrs[0]["addr_info"][0]["local"], "10.244.1.0");
    });
}

/// A device that differs in what cannot change in place (VNI, port) is re-created, with a
/// new MAC to publish; one of that name that is not podnet's is refused and left alone.
#[test]
fn a_device_of_another_shape_is_re_created_and_a_foreign_one_refused() {
    in_netns(|| {
        let mut cfg = underlay();
        let mut rtnl = Rtnl::open().unwrap();
        let first = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b()])
            .device
            .unwrap();
        cfg.port = 8472;
        let o = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b()]);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let second = o.device.unwrap();
        assert!(second.created && second.index != first.index);
        assert_eq!(device(DEV)["linkinfo"]["info_data"]["port"], 8472);
        assert_eq!(
            entries(DEV).2,
            strs(&["02:00:00:00:00:0b 192.168.60.2 permanent"])
        );
        run(
            "sh",
            &[
                "-c",
                "ip link add pn-foreign type vxlan id 9 dstport 4789 local 192.168.60.1",
            ],
        );
        let mut foreign = cfg.clone();
        foreign.device = "pn-foreign".into();
        let o = overlay::reconcile(&mut rtnl, &foreign, subnet(), &[b()]);
        let e = o
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        assert!(e.contains("not podnet's overlay device"), "{e}");
        assert_eq!(device("pn-foreign")["linkinfo"]["info_data"]["id"], 9);
        assert!(overlay::remove(&mut rtnl, &foreign).is_err());
        assert!(overlay::remove(&mut rtnl, &cfg).unwrap());
        assert!(!overlay::remove(&mut rtnl, &cfg).unwrap(), "idempotent");
    });
}

/// Leases that cannot be installed are reported one by one; the others are installed.
#[test]
fn bad_leases_are_reported_and_the_rest_installed() {
    in_netns(|| {
        let cfg = underlay();
        let mut rtnl = Rtnl::open().unwrap();
        let v6 = lease("v6", "10.244.9.0/24", "fd00::9", "02:00:00:00:00:09");
        let o = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[v6, b()]);
        let e: Vec<String> = o.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            e,
            strs(&["node v6: not installed: underlay fd00::9 is not IPv4"])
        );
        assert_eq!(
            entries(DEV).0,
            strs(&["10.244.2.0/24 via 10.244.2.0 onlink"])
        );
    });
}

/// Bad configuration: one-line errors naming what to fix, and no device made.
#[test]
fn a_missing_underlay_is_refused_with_nothing_made() {
    let table: &[(Option<&str>, &str, &str)] = &[
        (
            None,
            "192.168.77.1",
            "underlay address 192.168.77.1 is on no interface of this node: give one it has",
        ),
        (
            Some("nope0"),
            "192.168.60.1",
            "underlay device nope0 does not exist: name an existing interface",
        ),
    ];
    for (dev, addr, want) in table {
        let (dev, addr, want) = (dev.map(str::to_string), addr.to_string(), want.to_string());
        in_netns(move || {
            let mut cfg = underlay();
            cfg.underlay = addr.parse().unwrap();
            cfg.underlay_dev = dev;
            let mut rtnl = Rtnl::open().unwrap();
            let o = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b()]);
            let e: Vec<String> = o.errors.iter().map(|e| e.to_string()).collect();
            assert_eq!(e, vec![want]);
            assert!(o.device.is_none());
            assert!(run("ip", &["-j", "link", "show"]).find(DEV).is_none());
        });
    }
}

/// A route of another device to a remote's subnet, with the overlay's metric, is reported
/// and left alone (a replace would have silently taken it over); the others are installed.
#[test]
fn a_conflicting_route_of_another_device_is_reported_not_taken_over() {
    in_netns(|| {
        let cfg = underlay();
        run(
            "ip",
            &[
                "route",
                "add",
                "10.244.2.0/24",
                "via",
                "172.30.0.8",
                "dev",
                "other",
            ],
        );
        let mut rtnl = Rtnl::open().unwrap();
        let o = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b(), c()]);
        let e: Vec<String> = o.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("route 10.244.2.0/24 via 10.244.2.0") && e[0].contains("exists"),
            "{e:?}"
        );
        let r = entries("other").0;
        assert!(
            r.iter()
                .any(|x| x.starts_with("10.244.2.0/24 via 172.30.0.8 ")),
            "{r:?}"
        );
        assert_eq!(
            entries(DEV).0,
            strs(&["10.244.3.0/24 via 10.244.3.0 onlink"])
        );
    });
}

#[test]
fn the_device_takes_the_node_s_vtep_mac_and_a_new_one_re_creates_it() {
    in_netns(|| {
        let mut cfg = underlay();
        cfg.mac = Some("0e:00:00:00:00:01".parse().unwrap());
        let mut rtnl = Rtnl::open().unwrap();
        let first = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b()])
            .device
            .unwrap();
        assert_eq!(device(DEV)["address"], "0e:00:00:00:00:01");
        assert_eq!(first.mac.to_string(), "0e:00:00:00:00:01");
        // Same MAC: the device stays.
        let again = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b()]);
        assert!(!again.device.unwrap().created);
        // The node's MAC changed (`--vtep-mac`): re-created with it, entries back.
        cfg.mac = Some("0e:00:00:00:00:02".parse().unwrap());
        let o = overlay::reconcile(&mut rtnl, &cfg, subnet(), &[b()]);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let second = o.device.unwrap();
        assert!(second.created && second.index != first.index);
        assert_eq!(device(DEV)["address"], "0e:00:00:00:00:02");
        assert_eq!(
            entries(DEV).2,
            strs(&["02:00:00:00:00:0b 192.168.60.2 permanent"])
        );
    });
}
