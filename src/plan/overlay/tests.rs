//! Golden tests of the overlay plan: each case is a starting kernel state and a set of
//! remote leases, and the exact `ip`/`bridge` commands the diff must come to.

use super::*;
use crate::kernel::fdb::FdbEntry;
use crate::kernel::neigh::Neighbour;
use crate::kernel::route::Route;

const VX: u32 = 7;
const LOCAL: &str = "10.244.1.0/24";

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

fn local() -> Ipv4Net {
    LOCAL.parse().unwrap()
}

/// The kernel as it would be after applying `changes` to `cur` (what the engine does, as
/// data): lets a sequence of reconciles be followed without a kernel.
fn applied(cur: &Current, ch: &Changes) -> Current {
    let mut e = cur.0.clone();
    for d in &ch.del_routes {
        e.routes.remove(d);
    }
    for n in &ch.del_neighbours {
        e.neighbours.remove(n);
    }
    for f in &ch.del_fdb {
        e.fdb.remove(f);
    }
    for (m, u) in &ch.set_fdb {
        // `bridge fdb replace`: the MAC goes to this VTEP only.
        e.fdb.retain(|(m2, _)| m2 != m);
        e.fdb.insert((*m, *u));
    }
    for (n, m) in &ch.set_neighbours {
        e.neighbours.insert(*n, *m);
    }
    for (d, g) in ch.add_routes.iter().chain(&ch.set_routes) {
        e.routes.insert(*d, *g);
    }
    Current(e)
}

/// One reconcile from `cur` towards `remotes`: (commands, new state).
fn step(cur: &Current, remotes: &[NodeLease]) -> (String, Current) {
    let (want, refused) = desired(local(), remotes);
    assert!(refused.is_empty(), "{refused:?}");
    let ch = diff(&want, cur);
    let next = applied(cur, &ch);
    assert_eq!(
        next.0, want,
        "applying the diff must reach the desired state"
    );
    assert!(
        diff(&want, &next).is_empty(),
        "a second reconcile must be a no-op"
    );
    (describe(&ch, "podnet.1"), next)
}

#[test]
fn nodes_added_to_an_empty_device() {
    let (cmds, _) = step(&Current::default(), &[c(), b()]);
    assert_eq!(
        cmds,
        "bridge fdb replace 02:00:00:00:00:0b dev podnet.1 dst 192.168.60.2 self permanent
bridge fdb replace 02:00:00:00:00:0c dev podnet.1 dst 192.168.60.3 self permanent
ip neigh replace 10.244.2.0 lladdr 02:00:00:00:00:0b dev podnet.1 nud permanent
ip neigh replace 10.244.3.0 lladdr 02:00:00:00:00:0c dev podnet.1 nud permanent
ip route add 10.244.2.0/24 via 10.244.2.0 dev podnet.1 onlink
ip route add 10.244.3.0/24 via 10.244.3.0 dev podnet.1 onlink
"
    );
}

#[test]
fn a_node_removed_takes_its_three_entries_with_it() {
    let (_, cur) = step(&Current::default(), &[b(), c()]);
    let (cmds, _) = step(&cur, &[b()]);
    assert_eq!(
        cmds,
        "ip route del 10.244.3.0/24 dev podnet.1
ip neigh del 10.244.3.0 dev podnet.1
bridge fdb del 02:00:00:00:00:0c dev podnet.1 dst 192.168.60.3 self
"
    );
}

/// flannel#1036: a node rebooted with a new VXLAN MAC must be picked up, and the old MAC's
/// FDB entry must not linger.
#[test]
fn a_changed_mac_replaces_the_neighbour_and_deletes_the_old_fdb_entry() {
    let (_, cur) = step(&Current::default(), &[b(), c()]);
    let mut b2 = b();
    b2.vtep_mac = "02:00:00:00:01:0b".parse().unwrap();
    let (cmds, after) = step(&cur, &[b2, c()]);
    assert_eq!(
        cmds,
        "bridge fdb del 02:00:00:00:00:0b dev podnet.1 dst 192.168.60.2 self
bridge fdb replace 02:00:00:00:01:0b dev podnet.1 dst 192.168.60.2 self permanent
ip neigh replace 10.244.2.0 lladdr 02:00:00:00:01:0b dev podnet.1 nud permanent
"
    );
    assert!(!after
        .0
        .fdb
        .iter()
        .any(|(m, _)| m.to_string() == "02:00:00:00:00:0b"));
}

/// calico#7281: deleted and re-added with a new MAC, whether or not this node saw the
/// deletion (a missed watch event), no FDB entry of the old MAC remains.
#[test]
fn a_node_re_added_with_a_new_mac_leaves_no_stale_fdb_entry() {
    let old_mac: Mac = "02:00:00:00:00:0b".parse().unwrap();
    let mut b2 = b();
    b2.vtep_mac = "02:00:00:00:02:0b".parse().unwrap();
    for saw_the_removal in [true, false] {
        let (_, mut cur) = step(&Current::default(), &[b(), c()]);
        if saw_the_removal {
            cur = step(&cur, &[c()]).1;
        }
        let (_, after) = step(&cur, &[b2.clone(), c()]);
        assert!(
            after.0.fdb.iter().all(|(m, _)| *m != old_mac),
            "saw the removal: {saw_the_removal}: {:?}",
            after.0.fdb
        );
        assert_eq!(after.0.fdb.len(), 2);
    }
}

#[test]
fn a_changed_underlay_moves_the_fdb_entry() {
    let (_, cur) = step(&Current::default(), &[b()]);
    let mut moved = b();
    moved.underlay = "192.168.61.2".parse().unwrap();
    let (cmds, _) = step(&cur, &[moved]);
    assert_eq!(
        cmds,
        "bridge fdb del 02:00:00:00:00:0b dev podnet.1 dst 192.168.60.2 self
bridge fdb replace 02:00:00:00:00:0b dev podnet.1 dst 192.168.61.2 self permanent
"
    );
}

#[test]
fn nothing_to_do_when_the_kernel_is_right() {
    let (_, cur) = step(&Current::default(), &[b(), c()]);
    assert_eq!(step(&cur, &[c(), b()]).0, "");
}

/// Entries of other devices (a bridge's FDB, the LAN's neighbours, the host's routes, even
/// to a remote node's subnet) are never read into the current state, so never changed.
#[test]
fn entries_of_other_devices_are_never_touched() {
    let mac = |x: u8| [2, 0, 0, 0, 0, x];
    let fdb = vec![
        FdbEntry {
            ifindex: 3,
            mac: mac(0xb),
            dst: Some("192.168.60.9".parse().unwrap()),
        },
        FdbEntry {
            ifindex: 4,
            mac: mac(1),
            dst: None,
        },
        FdbEntry {
            ifindex: VX,
            mac: mac(0xb),
            dst: Some("192.168.60.2".parse().unwrap()),
        },
        // The VXLAN driver's own entries without a VTEP are not ours either.
        FdbEntry {
            ifindex: VX,
            mac: mac(0xe),
            dst: None,
        },
    ];
    let neigh = vec![
        Neighbour {
            ifindex: 2,
            ip: "192.168.60.2".parse().unwrap(),
            mac: Some(mac(9)),
            permanent: false,
        },
        Neighbour {
            ifindex: 3,
            ip: "10.244.3.0".parse().unwrap(),
            mac: Some(mac(9)),
            permanent: true,
        },
        Neighbour {
            ifindex: VX,
            ip: "10.244.2.0".parse().unwrap(),
            mac: Some(mac(0xb)),
            permanent: true,
        },
    ];
    let route = |dst: &str, gw: Option<&str>, oif: u32, onlink: bool| Route {
        dst: dst.parse().unwrap(),
        gateway: gw.map(|g| g.parse().unwrap()),
        oif: Some(oif),
        onlink,
    };
    let routes = vec![
        route("10.244.3.0/24", Some("192.168.60.3"), 2, false),
        route("192.168.60.0/24", None, 2, false),
        route("10.244.2.0/24", Some("10.244.2.0"), VX, true),
    ];
    let cur = Current::of_device(VX, &fdb, &neigh, &routes);
    let (want, _) = desired(local(), &[b()]);
    assert_eq!(cur.0, want, "only the device's own entries are current");
    let (want, _) = desired(local(), &[]);
    assert_eq!(
        describe(&diff(&want, &cur), "podnet.1"),
        "ip route del 10.244.2.0/24 dev podnet.1
ip neigh del 10.244.2.0 dev podnet.1
bridge fdb del 02:00:00:00:00:0b dev podnet.1 dst 192.168.60.2 self
"
    );
}

/// Someone else's entries on the device itself (a dynamic neighbour, a plain route) are
/// brought to the layout: the device is the overlay's alone.
#[test]
fn wrong_entries_on_the_device_are_replaced_or_deleted() {
    let routes = vec![
        Route {
            dst: "10.244.2.0/24".parse().unwrap(),
            gateway: None,
            oif: Some(VX),
            onlink: false,
        },
        Route {
            dst: "10.9.0.0/16".parse().unwrap(),
            gateway: None,
            oif: Some(VX),
            onlink: false,
        },
    ];
    let neigh = vec![Neighbour {
        ifindex: VX,
        ip: "10.244.2.0".parse().unwrap(),
        mac: None,
        permanent: false,
    }];
    let cur = Current::of_device(VX, &[], &neigh, &routes);
    let (want, _) = desired(local(), &[b()]);
    assert_eq!(
        describe(&diff(&want, &cur), "podnet.1"),
        "ip route del 10.9.0.0/16 dev podnet.1
bridge fdb replace 02:00:00:00:00:0b dev podnet.1 dst 192.168.60.2 self permanent
ip neigh replace 10.244.2.0 lladdr 02:00:00:00:00:0b dev podnet.1 nud permanent
ip route replace 10.244.2.0/24 via 10.244.2.0 dev podnet.1 onlink
"
    );
}

/// Leases that cannot be installed are refused one by one, with the reason; the rest are.
#[test]
fn bad_leases_are_refused_alone() {
    let table: &[(NodeLease, &str)] = &[
        (
            lease("v6", "10.244.5.0/24", "fd00::5", "02:00:00:00:00:05"),
            "underlay fd00::5 is not IPv4",
        ),
        (
            lease("wide", "10.244.0.0/16", "192.168.60.6", "02:00:00:00:00:06"),
            "its subnet 10.244.0.0/16 overlaps this node's 10.244.1.0/24",
        ),
        (
            lease(
                "z-dup",
                "10.244.2.0/25",
                "192.168.60.7",
                "02:00:00:00:00:07",
            ),
            "its subnet 10.244.2.0/25 overlaps another node's",
        ),
    ];
    let mut remotes = vec![b()];
    remotes.extend(table.iter().map(|(l, _)| l.clone()));
    let (want, refused) = desired(local(), &remotes);
    assert_eq!(want, desired(local(), &[b()]).0);
    let got: Vec<(String, String)> = refused.into_iter().map(|r| (r.node, r.reason)).collect();
    let expected: Vec<(String, String)> = table
        .iter()
        .map(|(l, r)| (l.name.clone(), r.to_string()))
        .collect();
    assert_eq!(got, expected);
}

/// The node's own lease, present in the cluster's list, installs nothing.
#[test]
fn the_local_lease_is_skipped() {
    let me = lease("a", LOCAL, "192.168.60.1", "02:00:00:00:00:0a");
    assert_eq!(desired(local(), &[me, b()]).0, desired(local(), &[b()]).0);
}

/// The two sorted-map lookups that find an overlapping node subnet agree with a walk over
/// every subnet: wider and narrower neighbours, equal networks, both sides of a boundary.
#[test]
fn overlap_lookups_agree_with_a_full_walk() {
    // A deterministic spread of prefixes 14..=30 over 10.0.0.0/8 (an LCG, no crate).
    let mut x: u32 = 12345;
    let mut next = || {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        x
    };
    let mut routes: BTreeMap<Ipv4Net, Ipv4Addr> = BTreeMap::new();
    let mut checked = 0;
    for _ in 0..4000 {
        let r = next();
        let prefix = 14 + (r % 17) as u8;
        let addr = Ipv4Addr::from(0x0a00_0000 | (next() & 0x00ff_ffff));
        let s = Ipv4Net::new(addr, prefix).unwrap().trunc();
        let walk = routes
            .keys()
            .any(|t| t.contains(&s.network()) || s.contains(&t.network()));
        assert_eq!(
            super::overlaps_any(&routes, s),
            walk,
            "{s} against {routes:?}"
        );
        checked += usize::from(walk);
        if !walk {
            routes.insert(s, s.network());
        }
    }
    assert!(checked > 100 && routes.len() > 100, "both outcomes seen");
}
