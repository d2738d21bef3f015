//! `kernel::conntrack` against the real kernel, each test in a fresh network namespace of
//! its own (`testbed::thread_netns::in_netns`: a new thread, never the machine's netns):
//! entries are made with ctnetlink (and with the `conntrack` tool when installed, as an independent view),
//! then deleted by selection.

use podnet::kernel::conntrack::{Conntrack, Flows};
use podnet::model::Proto;
use podnet::testbed::thread_netns::in_netns;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

type Spec = (Proto, SocketAddr, SocketAddr, SocketAddr, SocketAddr);

/// Any IPv4 address (a `ToPort` selection of every IPv4 flow to the port).
const ANY4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
/// Any IPv6 address.
const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A flow from `src` to `dst`, answered by `answered_by` (== `dst` when not NAT'ed).
fn flow(proto: Proto, src: &str, dst: &str, answered_by: &str) -> Spec {
    (proto, a(src), a(dst), a(answered_by), a(src))
}

fn udp(src: &str, dst: &str, answered_by: &str) -> Spec {
    flow(Proto::Udp, src, dst, answered_by)
}

fn tcp(src: &str, dst: &str, answered_by: &str) -> Spec {
    flow(Proto::Tcp, src, dst, answered_by)
}

fn sctp(src: &str, dst: &str, answered_by: &str) -> Spec {
    flow(Proto::Sctp, src, dst, answered_by)
}

/// Every `proto` flow to `port` on `to` (on any address of its family when unspecified).
fn to_port(proto: Proto, port: u16, to: IpAddr) -> Flows {
    Flows::ToPort { proto, port, to }
}

/// Every `proto` flow answered by `ip` (from `port` when given).
fn answered_by(proto: Proto, ip: IpAddr, port: Option<u16>) -> Flows {
    Flows::AnsweredBy { proto, ip, port }
}

/// `n` UDP flows unrelated to every selection the tests use: 10.200.x.y:1024+i → 192.0.2.1:53.
fn unrelated(n: usize) -> Vec<Spec> {
    (0..n)
        .map(|i| {
            let src = format!(
                "10.200.{}.{}:{}",
                (i / 250) % 250,
                i % 250 + 1,
                1024 + i % 60000
            );
            udp(&src, "192.0.2.1:53", "192.0.2.1:53")
        })
        .collect()
}

/// Original tuples of every entry, as `"PROTO SRC DST"` strings, from our own dump.
fn all(ct: &mut Conntrack) -> Vec<String> {
    let mut out = Vec::new();
    for proto in [Proto::Tcp, Proto::Udp, Proto::Sctp] {
        for port in [53u16, 80, 5353, 8080, 9090] {
            for e in ct.list(&to_port(proto, port, ANY4)).unwrap() {
                out.push(format!("{proto} {} {}", e.orig_src, e.orig_dst));
            }
        }
    }
    out.sort();
    out
}

fn conntrack_tool() -> Option<&'static str> {
    [
        "/usr/sbin/conntrack",
        "/sbin/conntrack",
        "/usr/bin/conntrack",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

const NEED_TOOL: &str =
    "needs the conntrack tool (Debian package conntrack, as scripts/test.sh installs)";

/// `conntrack -L` line count in the calling thread's netns (an independent view).
fn tool_count() -> usize {
    let tool = conntrack_tool().expect(NEED_TOOL);
    let out = Command::new(tool).arg("-L").output().unwrap();
    assert!(out.status.success(), "conntrack -L: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[test]
fn to_port_deletes_flows_to_that_port_on_any_address_and_nothing_else() {
    in_netns(|| {
        let mut ct = Conntrack::open().unwrap();
        ct.create(
            &[
                // An unreplied flow to a host port that is not yet published.
                udp("198.18.0.2:40000", "198.18.0.1:8080", "198.18.0.1:8080"),
                // Same port, another host address, DNAT'ed.
                udp("198.18.0.3:40001", "10.0.0.1:8080", "10.77.0.10:80"),
                // Kept: TCP to the port, UDP to another port, UDP *from* the port.
                tcp("198.18.0.2:40000", "198.18.0.1:8080", "198.18.0.1:8080"),
                udp("198.18.0.2:40000", "198.18.0.1:9090", "198.18.0.1:9090"),
                udp("198.18.0.2:8080", "198.18.0.1:53", "198.18.0.1:53"),
            ],
            60,
        )
        .unwrap();
        let before = tool_count();
        let flows = to_port(Proto::Udp, 8080, ANY4);
        let listed = ct.list(&flows).unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        let done = ct.delete(&flows).unwrap();
        assert_eq!(done.deleted, 2);
        assert_eq!(done.dumped, 2, "the kernel filtered the dump");
        assert_eq!(
            all(&mut ct),
            vec![
                "tcp 198.18.0.2:40000 198.18.0.1:8080",
                "udp 198.18.0.2:40000 198.18.0.1:9090",
                "udp 198.18.0.2:8080 198.18.0.1:53",
            ]
        );
        assert_eq!(
            (before, tool_count()),
            (5, 3),
            "conntrack -L before and after"
        );
        // Nothing left to delete: a no-op.
        assert_eq!(ct.delete(&flows).unwrap().deleted, 0);
        // On one host address only.
        ct.create(
            &[
                udp("198.18.0.2:1", "198.18.0.1:8080", "10.77.0.10:80"),
                udp("198.18.0.2:1", "10.0.0.1:8080", "10.77.0.11:80"),
            ],
            60,
        )
        .unwrap();
        let on = to_port(Proto::Udp, 8080, "10.0.0.1".parse().unwrap());
        let d = ct.delete(&on).unwrap();
        assert_eq!((d.dumped, d.deleted), (1, 1));
        assert_eq!(ct.list(&flows).unwrap().len(), 1);
    });
}

/// IPv6 flows are found and deleted by IPv6 selections (the dump and the deletes carry the
/// IPv6 family), and an IPv4 selection never touches them, nor the reverse.
#[test]
fn ipv6_flows_are_deleted_by_ipv6_selections_only() {
    in_netns(|| {
        let mut ct = Conntrack::open().unwrap();
        ct.create(
            &[
                // A published port's flow and a service flow, both DNAT'ed to fd00:77::a.
                udp("[fd00:18::2]:40000", "[fd00:18::1]:8080", "[fd00:77::a]:80"),
                udp("[fd00:77::30]:5000", "[fd00:43::1]:53", "[fd00:77::a]:5353"),
                // Their IPv4 twins.
                udp("198.18.0.2:40000", "198.18.0.1:8080", "10.77.0.10:80"),
                udp("10.77.0.30:5000", "10.43.0.1:53", "10.77.0.10:5353"),
            ],
            60,
        )
        .unwrap();
        assert_eq!(tool_count(), 4);
        let to6 = to_port(Proto::Udp, 8080, ANY6);
        let listed = ct.list(&to6).unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].reply_src, a("[fd00:77::a]:80"));
        let d = ct.delete(&to6).unwrap();
        assert_eq!(
            (d.dumped, d.deleted),
            (1, 1),
            "the kernel filtered the dump"
        );
        let by6 = answered_by(Proto::Udp, "fd00:77::a".parse().unwrap(), None);
        let d = ct.delete(&by6).unwrap();
        assert_eq!((d.dumped, d.deleted), (1, 1));
        // The IPv4 twins are all that is left, and an IPv4 selection finds them.
        assert_eq!(tool_count(), 2);
        let to4 = to_port(Proto::Udp, 8080, ANY4);
        assert_eq!(ct.delete(&to4).unwrap().deleted, 1);
        assert_eq!(tool_count(), 1);
    });
}

#[test]
fn answered_by_deletes_flows_to_that_backend_and_port() {
    in_netns(|| {
        let mut ct = Conntrack::open().unwrap();
        ct.create(
            &[
                // Published port and service VIP, both DNAT'ed to 10.77.0.10.
                udp("198.18.0.2:40001", "198.18.0.1:8080", "10.77.0.10:80"),
                udp("10.77.0.30:5000", "10.43.0.1:53", "10.77.0.10:5353"),
                // Kept: another backend, TCP to the same one, the backend's own outgoing flow.
                udp("10.77.0.30:5001", "10.43.0.1:53", "10.77.0.20:5353"),
                tcp("10.77.0.30:5002", "10.43.0.1:80", "10.77.0.10:8080"),
                udp("10.77.0.10:5003", "198.18.0.2:53", "198.18.0.2:53"),
            ],
            60,
        )
        .unwrap();
        let ip = "10.77.0.10".parse().unwrap();
        // With a port: only the service flow.
        let svc = answered_by(Proto::Udp, ip, Some(5353));
        assert_eq!(ct.delete(&svc).unwrap().deleted, 1);
        let any = answered_by(Proto::Udp, ip, None);
        let done = ct.delete(&any).unwrap();
        assert_eq!((done.dumped, done.deleted), (1, 1));
        assert_eq!(
            all(&mut ct),
            vec![
                "tcp 10.77.0.30:5002 10.43.0.1:80",
                "udp 10.77.0.10:5003 198.18.0.2:53",
                "udp 10.77.0.30:5001 10.43.0.1:53",
            ]
        );
    });
}

/// SCTP flows are selected by port too (the kernel filters SCTP by protocol only, 6.18: its
/// port match covers TCP and UDP; the rest is checked here).
#[test]
fn sctp_flows_are_selected_by_port_too() {
    in_netns(|| {
        let mut ct = Conntrack::open().unwrap();
        ct.create(
            &[
                sctp("198.18.0.2:40000", "198.18.0.1:8080", "10.77.0.10:80"),
                sctp("198.18.0.2:40000", "198.18.0.1:9090", "10.77.0.11:80"),
            ],
            60,
        )
        .unwrap();
        let d = ct.delete(&to_port(Proto::Sctp, 8080, ANY4)).unwrap();
        assert_eq!(d.deleted, 1);
        let d = ct
            .delete(&answered_by(
                Proto::Sctp,
                "10.77.0.11".parse().unwrap(),
                Some(80),
            ))
            .unwrap();
        assert_eq!(d.deleted, 1);
        assert_eq!(all(&mut ct), Vec::<String>::new());
    });
}

/// An entry made by the `conntrack` tool (not by our own encoder) is found and deleted.
#[test]
fn entries_made_by_the_conntrack_tool_are_deleted() {
    let tool = conntrack_tool().expect(NEED_TOOL);
    in_netns(move || {
        let out = Command::new(tool)
            .args([
                "-I",
                "-p",
                "udp",
                "-s",
                "198.18.0.2",
                "-d",
                "198.18.0.1",
                "--sport",
                "40000",
                "--dport",
                "8080",
                "-t",
                "60",
                "-u",
                "SEEN_REPLY",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "conntrack -I: {out:?}");
        assert_eq!(tool_count(), 1);
        let mut ct = Conntrack::open().unwrap();
        let d = ct.delete(&to_port(Proto::Udp, 8080, ANY4)).unwrap();
        assert_eq!(d.deleted, 1);
        assert_eq!(tool_count(), 0);
    });
}

/// The figure for the decision record: cost of a delete that finds nothing, with 0, 1 and
/// 10,000 unrelated entries, kernel-filtered and not. Bounds are loose (CI noise); the
/// figures are printed.
#[test]
fn nothing_to_delete_costs_little_with_10000_unrelated_entries() {
    in_netns(|| {
        let mut ct = Conntrack::open().unwrap();
        let flows = [
            to_port(Proto::Udp, 8080, ANY4),
            answered_by(Proto::Udp, "10.77.0.10".parse().unwrap(), None),
        ];
        let time = |ct: &mut Conntrack, f: &Flows| {
            let runs = 20;
            let t = Instant::now();
            for _ in 0..runs {
                let d = ct.delete(f).unwrap();
                assert_eq!(d.deleted, 0);
            }
            t.elapsed() / runs
        };
        let empty: Vec<Duration> = flows.iter().map(|f| time(&mut ct, f)).collect();
        ct.create(&unrelated(1), 600).unwrap();
        let one: Vec<Duration> = flows.iter().map(|f| time(&mut ct, f)).collect();
        let t = Instant::now();
        ct.create(&unrelated(10_000)[1..], 600).unwrap();
        let made = t.elapsed();
        let full: Vec<Duration> = flows.iter().map(|f| time(&mut ct, f)).collect();
        let mut plain = Conntrack::open().unwrap();
        plain.without_kernel_filter();
        let unfiltered: Vec<Duration> = flows.iter().map(|f| time(&mut plain, f)).collect();
        eprintln!(
            "conntrack delete, nothing to delete (mean of 20): 0 entries {empty:?}; \
             1 unrelated entry {one:?}; 10,000 unrelated entries (made in {made:?}): kernel-filtered {full:?}, \
             unfiltered dump {unfiltered:?}"
        );
        for d in &full {
            assert!(*d < Duration::from_millis(100), "{full:?}");
        }
        // And with a match among them, exactly it goes.
        ct.create(
            &[udp("198.18.0.2:40000", "198.18.0.1:8080", "10.77.0.10:80")],
            600,
        )
        .unwrap();
        let t = Instant::now();
        let d = ct.delete(&flows[0]).unwrap();
        eprintln!("one match among 10,001: {:?}", t.elapsed());
        assert_eq!((d.dumped, d.deleted), (1, 1));
    });
}
