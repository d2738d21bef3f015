//! The IPv6 twin of the service plan (`ip6 podnet-svc`) in a fresh lab, proven with real
//! IPv6 TCP and UDP: even spread over three backends, a node port from the LAN, refusal
//! without backends, ClientIP affinity, `nft list` reading every rule back, and the IPv4
//! table working beside it unchanged.
//!
//! The netfilter lab of `services_lab.rs`, with IPv6 added by hand (the engine's networks
//! do that for real services):
//! ```text
//!  out fd00:50::2 ── lan0 fd00:50::1 ── host ── pn0 fd00:88::1: c1 ::2, c2 ::3
//!                                            └─ pn1 fd00:89::1: c3 ::2, c4 ::3
//! ```
//! c4 → VIP → c3 crosses back into pn1, so a hairpin masquerade stands in for `ip6 podnet`'s.

#[path = "services_lab.rs"]
mod svclab;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use podnet::model::{Backend6, Proto, Service6, ServicePort};
use podnet::plan::services as sv;
use svclab::*;

const C6: [(&str, &str); 4] = [
    ("c1", "fd00:88::2"),
    ("c2", "fd00:88::3"),
    ("c3", "fd00:89::2"),
    ("c4", "fd00:89::3"),
];
const HOST6: &str = "fd00:50::1";
const OUT6: &str = "fd00:50::2";

fn ip6(c: &str) -> &'static str {
    C6.iter().find(|(n, _)| *n == c).map(|(_, a)| *a).unwrap()
}

fn be6(c: &str) -> Backend6 {
    Backend6::new(ip6(c).parse().unwrap())
}

/// VIP fd00:43::`n`, tcp 80 → 8080 and udp 53 → 5353.
fn svc6(name: &str, n: u16, node_port: Option<u16>, affinity: Option<u32>) -> Service6 {
    let port = |port, target_port, proto| ServicePort {
        port,
        target_port,
        proto,
        node_port,
    };
    Service6 {
        name: name.into(),
        vip: Ipv6Addr::new(0xfd00, 0x43, 0, 0, 0, 0, 0, n),
        ports: vec![
            port(80, TARGET, Proto::Tcp),
            port(53, UDP_TARGET, Proto::Udp),
        ],
        affinity_timeout: affinity,
    }
}

/// Servers on the container's IPv6 address (the lab's IPv4 ones hold `0.0.0.0`) answering
/// "<name> <peer>" over TCP 8080 and UDP 5353.
fn serve6(lab: &Lab, ns: &'static str) {
    let addr: Ipv6Addr = ip6(ns).parse().unwrap();
    lab.run(ns, move || {
        let t = TcpListener::bind((addr, TARGET)).expect("bind tcp6");
        let u = UdpSocket::bind((addr, UDP_TARGET)).expect("bind udp6");
        std::thread::spawn(move || {
            for c in t.incoming().flatten() {
                let peer = c
                    .peer_addr()
                    .map(|p| p.ip().to_string())
                    .unwrap_or_default();
                let _ = (&c).write_all_str(&format!("{ns} {peer}"));
            }
        });
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((_, peer)) = u.recv_from(&mut buf) {
                let _ = u.send_to(format!("{ns} {}", peer.ip()).as_bytes(), peer);
            }
        });
    })
}

trait WriteStr {
    fn write_all_str(self, s: &str) -> std::io::Result<()>;
}

impl WriteStr for &TcpStream {
    fn write_all_str(self, s: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut w = self;
        w.write_all(s.as_bytes())
    }
}

/// The IPv4 lab plus IPv6 addresses, routes, forwarding, hairpin masquerade and servers.
fn lab6() -> Lab {
    let lab = lab();
    lab.sh(
        "host",
        "sysctl -qw net.ipv6.conf.all.forwarding=1 && \
         ip -6 addr add fd00:88::1/64 dev pn0 nodad && ip -6 addr add fd00:89::1/64 dev pn1 nodad && \
         ip -6 addr add fd00:50::1/64 dev lan0 nodad && \
         ip -6 route replace fd00:43::/112 dev pn0 && \
         nft -f - <<'EOF'
table ip6 lab_hairpin {
  chain post {
    type nat hook postrouting priority 100;
    ct status dnat oifname { \"pn0\", \"pn1\" } ip6 saddr { fd00:88::/64, fd00:89::/64 } masquerade
  }
}
EOF",
    );
    for (c, a) in C6 {
        let gw = if a.starts_with("fd00:88") {
            "fd00:88::1"
        } else {
            "fd00:89::1"
        };
        lab.sh(
            c,
            &format!("ip -6 addr add {a}/64 dev eth0 nodad && ip -6 route add default via {gw}"),
        );
    }
    lab.sh("out", &format!("ip -6 addr add {OUT6}/64 dev lan nodad"));
    for c in ["c1", "c2", "c3"] {
        serve6(&lab, c);
    }
    settle(&lab);
    lab
}

/// Waits until no address in the lab is tentative. The link-local addresses the kernel gives
/// every new link run DAD for ~1 s, and until then a first forwarded packet can be lost to
/// neighbour discovery (seen here: the LAN neighbour's first SYN retransmitted after 1 s).
fn settle(lab: &Lab) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for ns in ["host", "out", "c1", "c2", "c3", "c4"] {
        while !lab.sh(ns, "ip -6 addr show tentative").trim().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "addresses in {ns} still tentative after 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn at(vip: Ipv6Addr, port: u16) -> String {
    SocketAddr::from((vip, port)).to_string()
}

/// One TCP exchange: the answering backend's reply, or the error kind.
fn tcp1(lab: &Lab, from: &str, to: &str) -> Result<String, std::io::ErrorKind> {
    let to: SocketAddr = to.parse().unwrap();
    lab.run(from, move || {
        let mut c =
            TcpStream::connect_timeout(&to, Duration::from_millis(1500)).map_err(|e| e.kind())?;
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).map_err(|e| e.kind())?;
        Ok(s)
    })
}

fn names(m: &BTreeMap<String, usize>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

/// Acceptance 5: 600 new IPv6 connections (and 600 UDP datagrams) land 150–250 times on each
/// of three backends on two networks.
#[test]
fn ipv6_tcp_and_udp_spread_evenly_over_three_backends() {
    let lab = lab6();
    let s = svc6("web", 10, None, None);
    let vip = s.vip;
    lab.apply(sv::full(&[(s, vec![be6("c1"), be6("c2"), be6("c3")])]))
        .unwrap();
    let m = tcp_many(&lab, "c4", &at(vip, 80), 600);
    assert_spread(&m, &["c1", "c2", "c3"], 150, 250);
    let u = udp_many(&lab, "c4", &at(vip, 53), 600);
    assert_spread(&u, &["c1", "c2", "c3"], 150, 250);
    println!("600 TCP {m:?} and 600 UDP {u:?} over IPv6");
}

/// A node port answers the LAN neighbour at the host's IPv6 address; the backend sees the
/// neighbour's own address.
#[test]
fn ipv6_node_port_answers_the_lan() {
    let lab = lab6();
    let s = svc6("web", 10, Some(30080), None);
    lab.apply(sv::full(&[(s, vec![be6("c1"), be6("c2"), be6("c3")])]))
        .unwrap();
    let to = format!("[{HOST6}]:30080");
    let m = tcp_many(&lab, "out", &to, 30);
    assert!(
        m.keys().all(|k| ["c1", "c2", "c3"].contains(&k.as_str())) && m.len() >= 2,
        "30 connections from the LAN to node port {to}: {m:?}"
    );
    let reply = tcp1(&lab, "out", &to).unwrap();
    assert!(reply.ends_with(&format!(" {OUT6}")), "backend saw {reply}");
    let u = udp_many(&lab, "out", &to, 10);
    assert!(
        !names(&u).iter().any(|k| k.starts_with("error")),
        "UDP node port: {u:?}"
    );
}

/// No backend: TCP is refused at once (RST) and UDP gets ICMPv6 port unreachable.
#[test]
fn ipv6_empty_service_refuses_at_once() {
    let lab = lab6();
    let s = svc6("empty", 11, Some(30081), None);
    let vip = s.vip;
    lab.apply(sv::full(&[(s, vec![])])).unwrap();
    for (from, to) in [
        ("c4", at(vip, 80)),
        ("host", at(vip, 80)),
        ("out", format!("[{HOST6}]:30081")),
    ] {
        assert_eq!(
            tcp1(&lab, from, &to),
            Err(std::io::ErrorKind::ConnectionRefused),
            "TCP from {from} to {to}"
        );
    }
    let u = udp_many(&lab, "c4", &at(vip, 53), 3);
    assert_eq!(
        names(&u),
        ["error: ConnectionRefused"],
        "UDP to the empty VIP: {u:?}"
    );
}

/// ClientIP affinity over IPv6 (40-byte keys): a client stays on one backend, another
/// client is pinned on its own, and a service without affinity still spreads.
#[test]
fn ipv6_affinity_pins_each_client() {
    let lab = lab6();
    let pinned = svc6("sticky", 12, Some(30082), Some(60));
    let free = svc6("free", 13, None, None);
    let b = vec![be6("c1"), be6("c2"), be6("c3")];
    lab.apply(sv::full(&[(pinned.clone(), b.clone()), (free.clone(), b)]))
        .unwrap();
    let a = tcp_many(&lab, "c4", &at(pinned.vip, 80), 40);
    assert_eq!(a.len(), 1, "c4 pinned: {a:?}");
    let o = tcp_many(&lab, "out", &format!("[{HOST6}]:30082"), 40);
    assert_eq!(
        o.len(),
        1,
        "the LAN client pinned through the node port: {o:?}"
    );
    let f = tcp_many(&lab, "c4", &at(free.vip, 80), 60);
    assert!(f.len() >= 2, "no affinity: spread {f:?}");
    let listed = lab.sh("host", "nft list map ip6 podnet-svc affinity 2>&1 || true");
    assert!(listed.contains(ip6("c4")), "c4's entry learned: {listed}");
}

/// `nft list ruleset` reads every rule of both tables back (nft 1.0.6 aborts on rules it
/// cannot decode; the IPv6 affinity dynset is one nft cannot compile itself).
#[test]
fn nft_lists_both_tables_and_ipv4_still_works() {
    let lab = lab6();
    let b6 = vec![be6("c1"), be6("c2"), be6("c3")];
    lab.apply(sv::full(&[(svc6("web", 10, Some(30080), Some(60)), b6)]))
        .unwrap();
    let v4 = svc("web", 10, Some(30080), Some(60));
    lab.apply(sv::full(&[(v4, bes(&[C1, C2, C3]))])).unwrap();
    let out = lab.sh("host", "nft list ruleset 2>&1; echo rc=$?");
    println!("{out}");
    assert!(out.ends_with("rc=0\n"), "{out}");
    assert!(!out.contains("rror") && !out.contains("ssertion"), "{out}");
    for want in [
        "table ip6 podnet-svc",
        "table ip podnet-svc",
        "dnat ip6 to ip6 daddr . meta l4proto . th dport . numgen random mod 3 map @eps",
        "update @affinity { ip6 saddr . ct original ip6 daddr . meta l4proto . ct original proto-dst timeout 1m : ip6 daddr . tcp dport }",
    ] {
        assert!(out.contains(want), "missing {want:?}");
    }
    // The IPv4 service answers beside the IPv6 one.
    let m = tcp_many(&lab, "c4", "10.43.0.10:80", 30);
    assert!(
        m.keys().all(|k| ["c1", "c2", "c3"].contains(&k.as_str())),
        "{m:?}"
    );
    let m = tcp_many(&lab, "c4", &at(svc6("web", 10, None, None).vip, 80), 30);
    assert!(
        m.keys().all(|k| ["c1", "c2", "c3"].contains(&k.as_str())),
        "{m:?}"
    );
}
