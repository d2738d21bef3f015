//! The service plan in a fresh lab (`services_lab.rs`), proven with real
//! TCP and UDP: even spread, ClientIP affinity, refusal without backends,
//! hairpin, backend removal, node ports, the host's own connections, count
//! changes and repair after a flush.

#[path = "services_lab.rs"]
mod svclab;

use std::collections::BTreeSet;

use podnet::plan::services as sv;
use svclab::*;

#[test]
fn nft_lists_the_table_without_errors() {
    let lab = lab();
    let s = svc("web", 10, Some(30080), Some(60));
    lab.apply(sv::full(&[(s, bes(&[C1, C2, C3]))])).unwrap();
    let out = lab.sh("host", "nft list table ip podnet-svc 2>&1; echo rc=$?");
    println!("{out}");
    // nft 1.0.6 aborts (rc 134) on rules it cannot decode; errors go to stderr.
    assert!(out.ends_with("rc=0\n"), "{out}");
    assert!(!out.contains("rror") && !out.contains("ssertion"), "{out}");
    assert!(out.contains("goto np_affinity_60s") && out.contains("numgen random mod 3"));
}

const VIP: &str = "10.43.0.10";

fn vip(port: u16) -> String {
    format!("{VIP}:{port}")
}

#[test]
fn tcp_and_udp_spread_evenly_over_three_backends() {
    let lab = lab();
    let s = svc("web", 10, None, None);
    lab.apply(sv::full(&[(s, bes(&[C1, C2, C3]))])).unwrap();
    let m = tcp_many(&lab, "c4", &vip(80), 600);
    assert_spread(&m, &["c1", "c2", "c3"], 150, 250);
    let m = udp_many(&lab, "c4", &vip(53), 600);
    assert_spread(&m, &["c1", "c2", "c3"], 150, 250);
    println!("600 TCP and 600 UDP over 3 backends: {m:?}");
}

#[test]
fn affinity_pins_each_client_on_its_own() {
    let lab = lab();
    let pinned = svc("sticky", 11, None, Some(60));
    let free = svc("free", 12, None, None);
    let b = bes(&[C1, C2, C3]);
    lab.apply(sv::full(&[(pinned.clone(), b.clone()), (free, b.clone())]))
        .unwrap();
    // c4 and the host (another client address) each stay on one backend.
    let a = tcp_many(&lab, "c4", "10.43.0.11:80", 50);
    assert_eq!(a.len(), 1, "c4 pinned: {a:?}");
    let h = tcp_many(&lab, "host", "10.43.0.11:80", 50);
    assert_eq!(h.len(), 1, "host pinned: {h:?}");
    let u = udp_many(&lab, "c4", "10.43.0.11:53", 30);
    assert_eq!(u.len(), 1, "c4 pinned over UDP: {u:?}");
    // Control: the same client to a service without affinity is spread.
    let f = tcp_many(&lab, "c4", "10.43.0.12:80", 60);
    assert_eq!(f.len(), 3, "no affinity: {f:?}");

    // The pinned backend goes: c4 is re-balanced onto the others (its first
    // SYN is dropped once, the retransmission is balanced) and pinned again.
    let gone = a.keys().next().unwrap().clone();
    let rest: Vec<_> = b
        .iter()
        .copied()
        .filter(|x| x.ip.to_string() != ip_of(&gone))
        .collect();
    let sizes = sv::bucket_sizes([&b[..]]);
    lab.apply(sv::set_backends(&pinned, &b, &rest, &sizes))
        .unwrap();
    let a2 = tcp_many(&lab, "c4", "10.43.0.11:80", 20);
    assert_eq!(a2.len(), 1, "c4 pinned again: {a2:?}");
    assert!(
        !a2.contains_key(&gone),
        "removed backend still used: {a2:?}"
    );
}

fn ip_of(name: &str) -> &'static str {
    match name {
        "c1" => C1,
        "c2" => C2,
        "c3" => C3,
        other => panic!("unknown backend {other}"),
    }
}

#[test]
fn zero_backends_are_refused_at_once() {
    let lab = lab();
    let s = svc("empty", 13, Some(30090), None);
    lab.apply(sv::full(&[(s, vec![])])).unwrap();
    for from in ["c4", "host"] {
        let m = tcp_many(&lab, from, "10.43.0.13:80", 3);
        assert_eq!(m.get("error: ConnectionRefused"), Some(&3), "{from}: {m:?}");
        // UDP: containers get the ICMP port unreachable (ECONNREFUSED on a
        // connected socket); on the host the reject in the output hook
        // fails the send itself (EPERM). Either way at once.
        let want = if from == "host" {
            "error: PermissionDenied"
        } else {
            "error: ConnectionRefused"
        };
        let m = udp_many(&lab, from, "10.43.0.13:53", 3);
        assert_eq!(m.get(want), Some(&3), "{from} udp: {m:?}");
    }
    let m = tcp_many(&lab, "out", &format!("{HOST_LAN}:30090"), 3);
    assert_eq!(
        m.get("error: ConnectionRefused"),
        Some(&3),
        "node port: {m:?}"
    );
}

#[test]
fn hairpin_backend_reaches_its_own_service() {
    let lab = lab();
    let s = svc("self", 14, None, None);
    lab.apply(sv::full(&[(s, bes(&[C1]))])).unwrap();
    let m = tcp_many(&lab, "c1", "10.43.0.14:80", 5);
    assert_eq!(m.get("c1"), Some(&5), "{m:?}");
    let m = udp_many(&lab, "c1", "10.43.0.14:53", 5);
    assert_eq!(m.get("c1"), Some(&5), "{m:?}");
    // A neighbour on the same bridge (reply would bypass the host unless masqueraded).
    let s2 = svc("self2", 15, None, None);
    lab.apply(sv::add_service(&s2, &bes(&[C1]), &BTreeSet::from([1])))
        .unwrap();
    let m = tcp_many(&lab, "c2", "10.43.0.15:80", 5);
    assert_eq!(m.get("c1"), Some(&5), "{m:?}");
}

#[test]
fn removed_backend_keeps_open_connections_and_gets_no_new_ones() {
    let lab = lab();
    for (c, name) in [("c1", "c1"), ("c2", "c2"), ("c3", "c3")] {
        echo_server(&lab, c, 9000, name, 60);
    }
    let mut s = svc("echo", 16, None, None);
    s.ports.truncate(1);
    s.ports[0].target_port = 9000;
    let all = bes(&[C1, C2, C3]);
    lab.apply(sv::full(&[(s.clone(), all.clone())])).unwrap();
    let mut c = connect_from(&lab, "c4", "10.43.0.16:80").unwrap();
    let victim = line(&mut c);
    let rest: Vec<_> = all
        .iter()
        .copied()
        .filter(|b| b.ip.to_string() != ip_of(&victim))
        .collect();
    lab.apply(sv::set_backends(&s, &all, &rest, &BTreeSet::from([3])))
        .unwrap();
    use std::io::Write;
    for i in 0..5 {
        c.write_all(format!("ping {i}\n").as_bytes()).unwrap();
        assert_eq!(
            line(&mut c),
            format!("ping {i}"),
            "open connection to {victim}"
        );
    }
    let mut seen = BTreeSet::new();
    for _ in 0..100 {
        let mut n = connect_from(&lab, "c4", "10.43.0.16:80").unwrap();
        seen.insert(line(&mut n));
    }
    assert!(
        !seen.contains(&victim),
        "{victim} got new connections: {seen:?}"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn node_port_from_outside_and_from_the_host() {
    let lab = lab();
    let s = svc("np", 17, Some(30080), None);
    lab.apply(sv::full(&[(s, bes(&[C1, C2, C3]))])).unwrap();
    let to = format!("{HOST_LAN}:30080");
    let m = tcp_many(&lab, "out", &to, 300);
    assert_spread(&m, &["c1", "c2", "c3"], 60, 140);
    let m = udp_many(&lab, "out", &to, 60);
    assert_eq!(m.keys().filter(|k| k.starts_with('c')).count(), 3, "{m:?}");
    assert_eq!(m.values().sum::<usize>(), 60);
    let m = tcp_many(&lab, "host", &to, 30);
    assert!(
        m.keys().all(|k| k.starts_with('c')),
        "host → own node port: {m:?}"
    );
    // A container reaches it through its gateway (a host address) too.
    let m = tcp_many(&lab, "c4", "10.89.0.1:30080", 30);
    assert!(
        m.keys().all(|k| k.starts_with('c')),
        "c4 → gateway node port: {m:?}"
    );
    // The VIP is not exposed outside (no route to it there), the node port is.
    // Node ports with affinity pin too.
    let sa = svc("npa", 18, Some(30081), Some(60));
    lab.apply(sv::add_service(
        &sa,
        &bes(&[C1, C2, C3]),
        &BTreeSet::from([3]),
    ))
    .unwrap();
    let m = tcp_many(&lab, "out", &format!("{HOST_LAN}:30081"), 30);
    assert_eq!(m.len(), 1, "node port affinity: {m:?}");
}

#[test]
fn host_reaches_a_vip_only_with_the_route() {
    let lab = lab();
    let s = svc("h", 19, None, None);
    lab.apply(sv::full(&[(s, bes(&[C1, C2, C3]))])).unwrap();
    lab.sh("host", "ip route del 10.43.0.0/16");
    let m = tcp_many(&lab, "host", "10.43.0.19:80", 2);
    assert!(
        m.keys().all(|k| k.starts_with("error")),
        "without a route: {m:?}"
    );
    lab.sh("host", "ip route replace 10.43.0.0/16 dev pn0");
    let m = tcp_many(&lab, "host", "10.43.0.19:80", 60);
    assert_eq!(m.len(), 3, "with the route: {m:?}");
    // Containers need no route on the host (DNAT precedes routing).
    lab.sh("host", "ip route del 10.43.0.0/16");
    let m = tcp_many(&lab, "c4", "10.43.0.19:80", 30);
    assert_eq!(m.len(), 3, "c4 without the host route: {m:?}");
}

#[test]
fn set_backends_through_every_count() {
    let lab = lab();
    let s = svc("grow", 20, Some(30082), None);
    lab.apply(sv::full(&[(s.clone(), bes(&[C1]))])).unwrap();
    let mut sizes = BTreeSet::from([1]);
    let steps: [&[&str]; 6] = [&[C1, C2, C3], &[C2, C3], &[], &[C3], &[C1, C2], &[C1, C3]];
    let mut old = bes(&[C1]);
    for step in steps {
        let new = bes(step);
        lab.apply(sv::set_backends(&s, &old, &new, &sizes))
            .unwrap_or_else(|e| panic!("{old:?} -> {new:?}: {e}"));
        if !new.is_empty() {
            sizes.insert(new.len());
        }
        let want: BTreeSet<String> = step
            .iter()
            .map(|ip| {
                ["c1", "c2", "c3"][[C1, C2, C3].iter().position(|x| x == ip).unwrap()].to_string()
            })
            .collect();
        for to in ["10.43.0.20:80".to_string(), format!("{HOST_LAN}:30082")] {
            let from = if to.starts_with("10.43") { "c4" } else { "out" };
            let m = tcp_many(&lab, from, &to, 40);
            let got: BTreeSet<String> = m.keys().cloned().collect();
            if want.is_empty() {
                assert_eq!(m.get("error: ConnectionRefused"), Some(&40), "{to}: {m:?}");
            } else {
                assert_eq!(got, want, "{to} after {step:?}: {m:?}");
            }
        }
        old = new;
    }
    // Same set in another order: nothing to send.
    assert!(sv::set_backends(&s, &bes(&[C3, C1]), &bes(&[C1, C3]), &sizes).is_empty());
}

#[test]
fn full_restores_after_a_flush_and_tables_are_independent() {
    let lab = lab();
    let s = svc("r", 21, None, None);
    let list = [(s, bes(&[C1, C2]))];
    lab.apply(sv::full(&list)).unwrap();
    // Re-creating `ip podnet` leaves services alone, and vice versa.
    lab.apply(podnet::plan::netfilter::full(&nets(), &[], &[]))
        .unwrap();
    assert_eq!(tcp_many(&lab, "c4", "10.43.0.21:80", 20).len(), 2);
    lab.apply(sv::full(&list)).unwrap();
    assert_eq!(tcp_many(&lab, "c4", "10.43.0.21:80", 20).len(), 2);
    lab.sh("host", "nft flush ruleset");
    let m = tcp_many(&lab, "c4", "10.43.0.21:80", 2);
    assert!(
        m.keys().all(|k| k.starts_with("error")),
        "after flush: {m:?}"
    );
    // An element batch now fails whole; the engine falls back to full().
    let s2 = svc("r2", 22, None, None);
    assert!(lab
        .apply(sv::add_service(&s2, &bes(&[C1]), &BTreeSet::from([2])))
        .is_err());
    lab.apply(podnet::plan::netfilter::full(&nets(), &[], &[]))
        .unwrap();
    lab.apply(sv::full(&list)).unwrap();
    assert_eq!(tcp_many(&lab, "c4", "10.43.0.21:80", 20).len(), 2);
    lab.apply(sv::delete_all()).unwrap();
    lab.apply(sv::delete_all()).unwrap();
}
