//! The DNS server (src/dns) in sandboxes: real queries from container namespaces (`dig`,
//! `getent`, raw sockets) to the server on the bridge gateways, an upstream resolver on the
//! `outside` machine, floods, and malformed packets.

mod common;

use common::dns::*;
use hickory_proto::rr::RecordType;
use podnet::dns::{Config, Limits, Listen, NameRecord, Timing};
use podnet::testbed::thread_netns::in_netns_at;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config_without_upstreams() -> Config {
    Config {
        resolv_conf: "/nonexistent".into(),
        stub_resolv_conf: "/nonexistent".into(),
        ..Config::default()
    }
}

/// (from, server, question, type, status, answers)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

#[test]
fn names_resolve_only_across_shared_networks() {
    let lab = dns_lab();
    let _server = serve(&lab.host, config_without_upstreams(), names(), listen());
    let cases: &[Case] = &[
        ("c1", GW_A, "c2", "A", "NOERROR", &["10.89.0.3"]),
        ("c1", GW_A, "db", "A", "NOERROR", &["10.89.0.3"]),
        ("c1", GW_A, "DB.dns.podnet", "A", "NOERROR", &["10.89.0.3"]),
        ("c1", GW_A, "web", "A", "NOERROR", &["10.96.0.10"]),
        ("c2", GW_A, "c1", "AAAA", "NOERROR", &["fd00:a::2"]),
        ("c1", GW_A6, "c1", "AAAA", "NOERROR", &["fd00:a::2"]),
        // c2 has no IPv6 address: the name exists, the answer is empty.
        ("c1", GW_A, "c2", "AAAA", "NOERROR", &[]),
        ("c1", GW_A, "c2", "MX", "NOERROR", &[]),
        // c3 shares no network with c1, and the other way round.
        ("c1", GW_A, "c3", "A", "NXDOMAIN", &[]),
        ("c3", GW_B, "c1", "A", "NXDOMAIN", &[]),
        ("c3", GW_B, "c2", "AAAA", "NXDOMAIN", &[]),
        ("c1", GW_A, "nobody.dns.podnet", "A", "NXDOMAIN", &[]),
        ("c1", GW_A, "nobody", "A", "NXDOMAIN", &[]),
        // c4 is on both: found from either, with the address of the shared network.
        ("c3", GW_B, "c4", "A", "NOERROR", &["10.89.1.4"]),
        ("c1", GW_A, "c4", "A", "NOERROR", &["10.89.0.4"]),
        // ... and it sees both networks, whichever gateway it asks.
        ("c4", GW_A, "c3", "A", "NOERROR", &["10.89.1.2"]),
        ("c4", GW_B, "c1", "A", "NOERROR", &["10.89.0.2"]),
        // PTR, scoped the same way.
        (
            "c1",
            GW_A,
            "3.0.89.10.in-addr.arpa",
            "PTR",
            "NOERROR",
            &["c2.dns.podnet."],
        ),
        ("c1", GW_A, "2.1.89.10.in-addr.arpa", "PTR", "NXDOMAIN", &[]),
        (
            "c1",
            GW_A,
            "99.0.89.10.in-addr.arpa",
            "PTR",
            "NXDOMAIN",
            &[],
        ),
        (
            "c2",
            GW_A,
            "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.a.0.0.0.0.0.d.f.ip6.arpa",
            "PTR",
            "NOERROR",
            &["c1.dns.podnet."],
        ),
    ];
    for (from, server, name, rtype, status, want) in cases {
        let got = dig(&lab.host, from, &[&format!("@{server}"), name, rtype]);
        assert_eq!(
            (got.status.as_str(), got.data()),
            (
                *status,
                want.iter().map(|s| s.to_string()).collect::<Vec<_>>()
            ),
            "{from} asking {server} for {name} {rtype}: {got:?}"
        );
        assert!(
            got.answers.iter().all(|a| a.0 == 0),
            "container names have TTL 0: {got:?}"
        );
    }
    // getent goes through the C library's resolver, with c1's resolv.conf naming the gateway.
    let out = lab
        .host
        .in_netns("/run/netns/c1", "unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "echo 'nameserver {GW_A}' > /run/testbed-c1-resolv && \
             mount --bind /run/testbed-c1-resolv /etc/resolv.conf && \
             getent hosts db; echo rc=$?; getent hosts c3; echo rc=$?"
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("10.89.0.3") && text.contains("db") && text.contains("rc=0\nrc=2"),
        "getent hosts db answers, c3 is unknown: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tcp_serves_several_queries_per_connection() {
    let lab = dns_lab();
    let _server = serve(&lab.host, config_without_upstreams(), names(), listen());
    let got = dig(&lab.host, "c1", &["+tcp", &format!("@{GW_A}"), "c2", "A"]);
    assert_eq!(got.data(), vec!["10.89.0.3".to_string()], "{got:?}");
    let c1 = lab.host.host_path("/run/netns/c1");
    let replies = in_netns_at(&c1, || {
        let mut s = TcpStream::connect((GW_A, 53)).expect("connect over TCP");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = Vec::new();
        for (i, (name, t)) in [
            ("c2", RecordType::A),
            ("c1", RecordType::AAAA),
            ("c3", RecordType::A),
        ]
        .iter()
        .enumerate()
        {
            let q = query(i as u16, name, *t);
            s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
            s.write_all(&q).unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).unwrap();
            let mut r = vec![0u8; u16::from_be_bytes(len).into()];
            s.read_exact(&mut r).unwrap();
            let m = reply(&r);
            out.push((
                m.metadata.id,
                m.metadata.response_code.to_string(),
                addrs(&m),
            ));
        }
        out
    });
    assert_eq!(
        replies,
        vec![
            (0, "No Error".to_string(), vec![ip("10.89.0.3")]),
            (1, "No Error".to_string(), vec![ip("fd00:a::2")]),
            (2, "Non-Existent Domain".to_string(), vec![]),
        ]
    );
}

#[test]
fn a_name_answers_the_moment_update_returns() {
    let lab = dns_lab();
    let server = Arc::new(serve(
        &lab.host,
        config_without_upstreams(),
        names(),
        listen(),
    ));
    let c1 = lab.host.host_path("/run/netns/c1");
    let s = server.clone();
    let failures = in_netns_at(&c1, move || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock.connect((GW_A, 53)).unwrap();
        let ask = |id: u16, name: &str| {
            sock.send(&query(id, name, RecordType::A)).unwrap();
            let mut buf = [0u8; 512];
            let n = sock.recv(&mut buf).expect("a reply (no retries)");
            reply(&buf[..n])
        };
        let mut failures = Vec::new();
        for i in 0..100u16 {
            let mut n = names();
            let name = format!("new{i}");
            let addr = format!("10.89.0.{}", 100 + i);
            n.networks[0].records.push(NameRecord {
                owner: format!("id-new{i}"),
                names: vec![name.clone()],
                addrs: vec![ip(&addr)],
            });
            s.update(&n);
            let now = ask(i, &name);
            if addrs(&now) != vec![ip(&addr)] {
                failures.push(format!("{name}: {:?}", now.answers));
            }
            // The one before is gone (this update removed it).
            if i > 0 {
                let gone = ask(i + 1000, &format!("new{}", i - 1));
                if gone.metadata.response_code.to_string() != "Non-Existent Domain" {
                    failures.push(format!("new{} still answers", i - 1));
                }
            }
        }
        failures
    });
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn forwarding_uses_the_outside_resolver_even_behind_a_dead_one() {
    let lab = dns_lab();
    let _up = upstream(&lab, &[]);
    let config = Config {
        // A dead first resolver, then the live one.
        resolv_conf: resolv_conf(&lab.host, "resolv.conf", &[BLACK_HOLE, UPSTREAM]),
        stub_resolv_conf: "/nonexistent".into(),
        ..Config::default()
    };
    let _server = serve(&lab.host, config, names(), listen());
    let a = format!("@{GW_A}");
    // dig gives up after 2 s: the dead resolver may cost one slot (1 s), not the whole budget.
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "UDP",
            &["+time=2", &a, "ext.example", "A"],
            &["203.0.113.7"],
        ),
        (
            "TCP",
            &["+time=2", "+tcp", &a, "ext.example", "A"],
            &["203.0.113.7"],
        ),
        // Our names are never forwarded, nor their absence.
        ("local", &[&a, "c2", "A"], &["10.89.0.3"]),
    ];
    for (what, args, want) in cases {
        let got = dig(&lab.host, "c1", args);
        assert_eq!(got.data(), want.to_vec(), "{what}: {got:?}");
    }
    let got = dig(&lab.host, "c1", &[&a, "unknown.example", "A"]);
    assert_eq!(
        got.status, "SERVFAIL",
        "the upstream's SERVFAIL is relayed: {got:?}"
    );
}

#[test]
fn behind_a_loopback_stub_the_real_upstreams_are_used() {
    let lab = dns_lab();
    let _up = upstream(&lab, &[]);
    // The host's resolv.conf names systemd-resolved's stub, which does not run here; its
    // own file lists the real resolver.
    let config = Config {
        resolv_conf: resolv_conf(&lab.host, "resolv.conf", &["127.0.0.53"]),
        stub_resolv_conf: resolv_conf(&lab.host, "stub-resolv.conf", &[UPSTREAM]),
        ..Config::default()
    };
    let _server = serve(&lab.host, config, names(), listen());
    let got = dig(&lab.host, "c1", &[&format!("@{GW_A}"), "ext.example", "A"]);
    assert_eq!(got.data(), vec!["203.0.113.7".to_string()], "{got:?}");
}

#[test]
fn a_truncated_upstream_reply_is_fetched_again_over_tcp() {
    let lab = dns_lab();
    let _up = upstream(&lab, &[]);
    let config = Config {
        resolv_conf: resolv_conf(&lab.host, "resolv.conf", &[UPSTREAM]),
        stub_resolv_conf: "/nonexistent".into(),
        ..Config::default()
    };
    let _server = serve(&lab.host, config, names(), listen());
    // The upstream cuts 100 addresses (1.6 kB) at 1232 bytes; this client takes 4 kB over
    // UDP and does not retry over TCP itself (+ignore): all 100 arrive only if the server
    // fetched them over TCP.
    let got = dig(
        &lab.host,
        "c1",
        &[
            "+bufsize=4096",
            "+ignore",
            &format!("@{GW_A}"),
            "big.example",
            "A",
        ],
    );
    assert_eq!(got.answers.len(), 100, "{got:?}");
}

#[test]
fn the_port_is_closed_to_everything_but_the_bridges() {
    let lab = dns_lab();
    let _server = serve(&lab.host, config_without_upstreams(), names(), listen());
    lab.outside
        .sh_ok("ip route add 10.89.0.0/16 via 198.18.0.1")
        .unwrap();
    for target in [GW_A, GW_B, "198.18.0.1"] {
        for proto in ["+notcp", "+tcp"] {
            let out = lab
                .outside
                .cmd("dig")
                .args(["+time=1", "+tries=1", proto, &format!("@{target}"), "c2"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                !text.contains("status:"),
                "{target} {proto} answered the LAN: {text}"
            );
        }
    }
    // The same gateway answers on its bridge.
    let got = dig(&lab.host, "c1", &[&format!("@{GW_A}"), "c2"]);
    assert_eq!(got.data(), vec!["10.89.0.3".to_string()]);
}

#[test]
fn a_tcp_flood_from_one_client_does_not_stop_the_others() {
    let lab = dns_lab();
    let config = Config {
        limits: Limits {
            tcp_per_client: 4,
            tcp_total: 16,
            ..Limits::default()
        },
        ..config_without_upstreams()
    };
    let _server = serve(&lab.host, config, names(), listen());
    let stop = Arc::new(AtomicBool::new(false));
    let c2 = lab.host.host_path("/run/netns/c2");
    let flood_stop = stop.clone();
    // c2 opens connections as fast as it can and never finishes a query on them (one byte
    // of a length prefix: the slow-client attack), keeping up to 200 open.
    let flooder = std::thread::spawn(move || {
        in_netns_at(&c2, move || {
            let mut open = Vec::new();
            let end = Instant::now() + Duration::from_secs(30);
            while !flood_stop.load(Ordering::SeqCst) && Instant::now() < end {
                if let Ok(mut s) = TcpStream::connect_timeout(
                    &SocketAddr::new(ip(GW_A), 53),
                    Duration::from_millis(200),
                ) {
                    let _ = s.write_all(&[0]);
                    open.push(s);
                }
                if open.len() > 200 {
                    open.remove(0);
                }
            }
            open.len()
        })
    });
    std::thread::sleep(Duration::from_millis(300));
    let a = format!("@{GW_A}");
    let mut failures = Vec::new();
    for i in 0..10 {
        for proto in ["+notcp", "+tcp"] {
            let got = dig(&lab.host, "c1", &[proto, &a, "c2"]);
            if got.data() != vec!["10.89.0.3".to_string()] {
                failures.push(format!("{i} {proto}: {got:?}"));
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    let held = flooder.join().unwrap();
    assert!(held > 16, "the flood held only {held} connections");
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn a_udp_flood_of_forwarded_queries_does_not_stop_the_others() {
    let lab = dns_lab();
    // The outside resolver answers ext.example itself and forwards the rest into the black
    // hole: every flood query waits out the whole budget.
    let _up = upstream(&lab, &[BLACK_HOLE]);
    let config = Config {
        resolv_conf: resolv_conf(&lab.host, "resolv.conf", &[UPSTREAM]),
        stub_resolv_conf: "/nonexistent".into(),
        limits: Limits {
            udp_per_client: 16,
            udp_total: 64,
            ..Limits::default()
        },
        timing: Timing {
            budget: Duration::from_secs(4),
            ..Timing::default()
        },
        ..Config::default()
    };
    let _server = serve(&lab.host, config, names(), listen());
    let stop = Arc::new(AtomicBool::new(false));
    let c2 = lab.host.host_path("/run/netns/c2");
    let flood_stop = stop.clone();
    let flooder = std::thread::spawn(move || {
        in_netns_at(&c2, move || {
            let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
            let end = Instant::now() + Duration::from_secs(30);
            let mut sent = 0u32;
            while !flood_stop.load(Ordering::SeqCst) && Instant::now() < end {
                let q = query(
                    sent as u16,
                    &format!("f{sent}.flood.example"),
                    RecordType::A,
                );
                let _ = sock.send_to(&q, (GW_A, 53));
                sent += 1;
                if sent.is_multiple_of(64) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            sent
        })
    });
    std::thread::sleep(Duration::from_millis(500));
    let a = format!("@{GW_A}");
    let mut failures = Vec::new();
    for i in 0..5 {
        for (name, want) in [("ext.example", "203.0.113.7"), ("c2", "10.89.0.3")] {
            let got = dig(&lab.host, "c1", &[&a, name]);
            if got.data() != vec![want.to_string()] {
                failures.push(format!("{i} {name}: {got:?}"));
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    let sent = flooder.join().unwrap();
    assert!(sent > 1000, "the flood sent only {sent} queries");
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn malformed_packets_get_no_answer_and_break_nothing() {
    let lab = dns_lab();
    let _server = serve(&lab.host, config_without_upstreams(), names(), listen());
    let good = query(7, "c2", RecordType::A);
    let mut response = good.clone();
    response[2] |= 0x80;
    let mut pointer_loop = good[..12].to_vec();
    pointer_loop.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
    let mut long_label = good[..12].to_vec();
    long_label.extend_from_slice(&[63; 300]);
    let mut two_questions = good.clone();
    two_questions[5] = 2;
    let mut no_question = good[..12].to_vec();
    no_question[5] = 1;
    let garbage: Vec<u8> = (0..512u32).map(|i| (i * 7 + 3) as u8).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("one byte", vec![0]),
        ("short header", good[..11].to_vec()),
        ("header, question missing", no_question),
        ("a response", response),
        ("compression loop", pointer_loop),
        ("labels past the end", long_label),
        ("two questions", two_questions),
        ("garbage", garbage),
        ("4000 zeros", vec![0; 4000]),
        ("truncated question", good[..good.len() - 2].to_vec()),
    ];
    let c1 = lab.host.host_path("/run/netns/c1");
    let failures = in_netns_at(&c1, move || {
        let mut failures = Vec::new();
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.connect((GW_A, 53)).unwrap();
        for (what, bad) in &cases {
            let mut bad = bad.clone();
            if bad.len() >= 2 {
                bad[..2].copy_from_slice(&[0x0B, 0xAD]);
            }
            let _ = sock.send(&bad);
            // Over TCP too, length-prefixed as it claims.
            if let Ok(mut s) = TcpStream::connect((GW_A, 53)) {
                let _ = s.write_all(&(bad.len() as u16).to_be_bytes());
                let _ = s.write_all(&bad);
            }
            // Whatever it got (nothing, FORMERR), the server still answers a good query.
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            sock.send(&good).unwrap();
            let mut buf = [0u8; 4096];
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) if buf[..2] == [0, 7] && n > 12 => {
                        let m = reply(&buf[..n]);
                        if addrs(&m) != vec![ip("10.89.0.3")] {
                            failures.push(format!("{what}: then {:?}", m.answers));
                        }
                        break;
                    }
                    Ok(n) => {
                        // A reply to the bad packet: only an error code, never an answer.
                        if n < 12 || buf[3] & 0x0F == 0 {
                            failures.push(format!("{what}: replied {:?}", &buf[..n.min(16)]));
                        }
                    }
                    Err(e) => {
                        failures.push(format!("{what}: no answer to the good query after it: {e}"));
                        break;
                    }
                }
            }
        }
        failures
    });
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn listen_addresses_follow_set_listen() {
    let lab = dns_lab();
    let server = serve(&lab.host, config_without_upstreams(), names(), listen());
    let only_b: Vec<Listen> = listen()
        .into_iter()
        .filter(|l| l.addr == ip(GW_B))
        .collect();
    let ns = lab.host.netns_path();
    let (server, failed) = in_netns_at(&ns, move || {
        let failed = server.set_listen(&only_b);
        (server, failed.len())
    });
    assert_eq!(failed, 0);
    assert_eq!(server.listening().len(), 1);
    let got = dig(&lab.host, "c1", &[&format!("@{GW_A}"), "c2"]);
    assert_eq!(got.status, "", "a closed gateway is silent: {got:?}");
    let got = dig(&lab.host, "c3", &[&format!("@{GW_B}"), "c4"]);
    assert_eq!(got.data(), vec!["10.89.1.4".to_string()]);
}
