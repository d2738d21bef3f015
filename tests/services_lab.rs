//! Helpers for the service kernel tests (included with `#[path]`): the
//! netfilter lab (`testbed::thread_netns::ThreadLab`) with both podnet tables loaded, and
//! traffic that says which backend answered.
//!
//! ```text
//!  out 192.168.50.2 ── lan0 192.168.50.1 ── host ── pn0 10.88.0.1: c1 .2, c2 .3
//!                                                └─ pn1 10.89.0.1: c3 .2, c4 .3
//! ```
//! Backends are c1, c2, c3 (two networks), the usual client c4.

#![allow(dead_code, unused_imports)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use podnet::model::{Backend, Proto, Service, ServicePort};
use podnet::plan::netfilter::{self as nf, NetFacts};
pub use podnet::testbed::thread_netns::{ThreadLab as Lab, HOST_LAN, OUT_LAN};

pub const C1: &str = "10.88.0.2";
pub const C2: &str = "10.88.0.3";
pub const C3: &str = "10.89.0.2";
pub const C4: &str = "10.89.0.3";
pub const TARGET: u16 = 8080;
pub const UDP_TARGET: u16 = 5353;

pub fn nets() -> Vec<NetFacts> {
    let net = |bridge: &str, subnet: &str| NetFacts {
        bridge: bridge.into(),
        subnet: subnet.parse().unwrap(),
        internal: false,
        icc: true,
        subnet6: None,
        nat6: true,
    };
    vec![net("pn0", "10.88.0.0/24"), net("pn1", "10.89.0.0/24")]
}

pub fn be(ip: &str) -> Backend {
    Backend::new(ip.parse().unwrap())
}

pub fn bes(ips: &[&str]) -> Vec<Backend> {
    ips.iter().map(|i| be(i)).collect()
}

/// `name`: VIP 10.43.0.`n`, tcp 80 → 8080 and udp 53 → 5353.
pub fn svc(name: &str, n: u8, node_port: Option<u16>, affinity: Option<u32>) -> Service {
    let port = |port, target_port, proto, np: Option<u16>| ServicePort {
        port,
        target_port,
        proto,
        node_port: np,
    };
    Service {
        name: name.into(),
        vip: std::net::Ipv4Addr::new(10, 43, 0, n),
        ports: vec![
            port(80, TARGET, Proto::Tcp, node_port),
            port(53, UDP_TARGET, Proto::Udp, node_port),
        ],
        affinity_timeout: affinity,
    }
}

/// A lab with `ip podnet` (both networks), TCP and UDP servers on c1..c3
/// that answer "<name> <client ip>", and the route for the service range.
pub fn lab() -> Lab {
    let mut lab = Lab::new(true);
    lab.apply(nf::full(&nets(), &[], &[])).unwrap();
    for (c, label) in [("c1", "c1"), ("c2", "c2"), ("c3", "c3")] {
        lab.tcp_server(c, TARGET, label);
        lab.udp_server(c, UDP_TARGET, label);
    }
    lab.sh("host", "ip route replace 10.43.0.0/16 dev pn0");
    lab
}

/// `n` TCP connections from `from` to `to`: which backend answered, how often
/// (errors counted under "error: ...").
pub fn tcp_many(lab: &Lab, from: &str, to: &str, n: usize) -> BTreeMap<String, usize> {
    let to: SocketAddr = to.parse().unwrap();
    lab.run(from, move || {
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let r = (|| {
                let mut c = TcpStream::connect_timeout(&to, Duration::from_millis(1500))
                    .map_err(|e| format!("error: {:?}", e.kind()))?;
                c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut s = String::new();
                c.read_to_string(&mut s)
                    .map_err(|e| format!("error: {e}"))?;
                Ok::<_, String>(s.split_whitespace().next().unwrap_or("").to_string())
            })();
            *m.entry(r.unwrap_or_else(|e| e)).or_insert(0) += 1;
        }
        m
    })
}

/// `n` UDP exchanges, each from a new socket (a new conntrack flow) of `to`'s family.
pub fn udp_many(lab: &Lab, from: &str, to: &str, n: usize) -> BTreeMap<String, usize> {
    let to: SocketAddr = to.parse().unwrap();
    let any = if to.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
    lab.run(from, move || {
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let s = UdpSocket::bind(any).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            s.connect(to).unwrap();
            let mut buf = [0u8; 256];
            let mut r = String::from("error: no answer");
            for _ in 0..3 {
                if let Err(e) = s.send(b"hi") {
                    r = format!("error: {:?}", e.kind());
                    break;
                }
                match s.recv(&mut buf) {
                    Ok(k) => {
                        let t = String::from_utf8_lossy(&buf[..k]).into_owned();
                        r = t.split_whitespace().next().unwrap_or("").to_string();
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => {
                        r = format!("error: {:?}", e.kind());
                        break;
                    }
                }
            }
            *m.entry(r).or_insert(0) += 1;
        }
        m
    })
}

/// Every count of `m` is for one of `names` and within `lo..=hi`, and every
/// name is there.
pub fn assert_spread(m: &BTreeMap<String, usize>, names: &[&str], lo: usize, hi: usize) {
    let got: BTreeSet<&str> = m.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(got, want, "answers: {m:?}");
    for (k, v) in m {
        assert!(
            (lo..=hi).contains(v),
            "{k} answered {v} times, want {lo}..={hi}: {m:?}"
        );
    }
}

/// An echo server on `port` in `ns` that first says its name, then echoes
/// every line; lives until the process ends or `secs` pass.
pub fn echo_server(lab: &Lab, ns: &str, port: u16, name: &'static str, secs: u64) {
    lab.run(ns, move || {
        let l = TcpListener::bind(("0.0.0.0", port)).expect("bind echo");
        // Threads started here stay in this namespace.
        std::thread::spawn(move || {
            l.set_nonblocking(true).unwrap();
            let end = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < end {
                match l.accept() {
                    Ok((mut c, _)) => {
                        std::thread::spawn(move || {
                            c.set_nonblocking(false).unwrap();
                            let _ = c.write_all(format!("{name}\n").as_bytes());
                            let mut buf = [0u8; 512];
                            while let Ok(n) = c.read(&mut buf) {
                                if n == 0 || c.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
    })
}

/// A TCP connection opened from inside `ns` (its socket keeps the
/// namespace it was made in).
pub fn connect_from(lab: &Lab, ns: &str, to: &str) -> std::io::Result<TcpStream> {
    let to: SocketAddr = to.parse().unwrap();
    lab.run(ns, move || {
        let c = TcpStream::connect_timeout(&to, Duration::from_millis(1500))?;
        c.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(c)
    })
}

/// Reads one line from `c`.
pub fn line(c: &mut TcpStream) -> String {
    let mut out = vec![];
    let mut b = [0u8; 1];
    while let Ok(1) = c.read(&mut b) {
        if b[0] == b'\n' {
            break;
        }
        out.push(b[0]);
    }
    String::from_utf8_lossy(&out).into_owned()
}
