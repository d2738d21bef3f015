//! Facts and checks shared by the netfilter plan tests, IPv4 and IPv6 alike (included with
//! `#[path]`: these tests need no sandbox helpers). `None` for an IPv6 argument: IPv4 only.
#![allow(dead_code)]

use podnet::kernel::nft::Batch;
use podnet::model::{parse_publish, Mac};
use podnet::plan::netfilter::{GuardFacts, NetFacts, PortFacts};
use podnet::testbed::thread_netns::{ThreadLab, HOST_LAN, HOST_LAN6, OUT_LAN, OUT_LAN6};

/// A network with NAT66 when dual-stack.
pub fn net(
    bridge: &str,
    subnet: &str,
    subnet6: Option<&str>,
    internal: bool,
    icc: bool,
) -> NetFacts {
    NetFacts {
        bridge: bridge.into(),
        subnet: subnet.parse().unwrap(),
        internal,
        icc,
        subnet6: subnet6.map(|s| s.parse().unwrap()),
        nat6: true,
    }
}

/// The mappings of one `-p` spec, to a container at `ip` (and `ip6`).
pub fn ports(ip: &str, ip6: Option<&str>, spec: &str) -> Vec<PortFacts> {
    parse_publish(spec)
        .unwrap()
        .into_iter()
        .map(|r| PortFacts {
            container_ip: ip.parse().unwrap(),
            container_ip6: ip6.map(|a| a.parse().unwrap()),
            mapping: r.fixed().expect("a fixed host port"),
        })
        .collect()
}

/// A container's bridge port, with the MAC podnet gives a container at `ip`.
pub fn guard(port: &str, ip: &str, ip6: Option<&str>) -> GuardFacts {
    let ip = ip.parse().unwrap();
    GuardFacts {
        port: port.into(),
        mac: Mac::for_container(ip),
        ip,
        ip6: ip6.map(|a| a.parse().unwrap()),
    }
}

/// One line per message of the batch.
pub fn messages(b: &Batch) -> Vec<String> {
    (0..b.len()).map(|i| b.describe(i).to_string()).collect()
}

/// `got` is the golden text `want` (a file of tests/golden/, pinned by hand and never made by
/// the code under test); when it differs the whole new text is printed, to check and pin it.
pub fn assert_golden(got: &str, want: &str) {
    if got != want {
        println!("{got}");
    }
    assert_eq!(got, want);
}

/// The connection got through and the server answered `want`.
pub fn ok(r: Result<String, String>, want: &str, what: &str) {
    match r {
        Ok(s) => assert_eq!(s, want, "{what}"),
        Err(e) => panic!("{what}: {e}"),
    }
}

pub fn blocked(r: Result<String, String>, what: &str) {
    assert!(r.is_err(), "{what} should be blocked, got {r:?}");
}

pub fn at6(addr: &str, port: u16) -> String {
    format!("[{addr}]:{port}")
}

/// The addresses of one family in a [`ThreadLab`], for the checks both families share.
pub struct LabFamily {
    /// The host's LAN address.
    pub host: &'static str,
    /// The LAN neighbour `out`.
    pub out: &'static str,
    /// The host's loopback address.
    pub loopback: &'static str,
    /// The host's address on `pn0` (where hairpin and loopback clients are masqueraded to).
    pub gateway: &'static str,
}

pub const V4: LabFamily = LabFamily {
    host: HOST_LAN,
    out: OUT_LAN,
    loopback: "127.0.0.1",
    gateway: "10.88.0.1",
};

pub const V6: LabFamily = LabFamily {
    host: HOST_LAN6,
    out: OUT_LAN6,
    loopback: "::1",
    gateway: "fd00:88::1",
};

impl LabFamily {
    /// `ADDR:PORT` / `[ADDR]:PORT`.
    pub fn at(&self, addr: &str, port: u16) -> String {
        if addr.contains(':') {
            at6(addr, port)
        } else {
            format!("{addr}:{port}")
        }
    }
}

/// c1 (on `pn0`, serving tcp 80 and udp 53 in family `f`) publishes tcp 8080 → 80 and udp
/// 5353 → 53 on every host address of the family and tcp 8081 → 80 on the loopback address
/// only: the LAN, the host (its LAN and loopback addresses) and containers (hairpin, from
/// c1's network and another) reach it; the loopback-only port is not on the LAN address.
pub fn assert_published_ports(lab: &ThreadLab, f: &LabFamily) {
    let lan = |port| f.at(f.host, port);
    let lo = |port| f.at(f.loopback, port);
    let from_out = format!("c1 {}", f.out);
    ok(lab.tcp("out", &lan(8080)), &from_out, "outside → host:8080");
    ok(
        lab.udp("out", &lan(5353)),
        &from_out,
        "outside → host:5353/udp",
    );
    ok(
        lab.tcp("host", &lan(8080)),
        &format!("c1 {}", f.host),
        "host → own LAN address:8080",
    );
    // From the host's loopback address and from containers, the client is masqueraded to
    // the address of the bridge the packet leaves by.
    let from_gw = format!("c1 {}", f.gateway);
    ok(lab.tcp("host", &lo(8080)), &from_gw, "host → loopback:8080");
    ok(lab.tcp("host", &lo(8081)), &from_gw, "host → loopback:8081");
    ok(
        lab.udp("host", &lo(5353)),
        &from_gw,
        "host → loopback:5353/udp",
    );
    // Hairpin: the container itself, its neighbour, another network.
    for c in ["c1", "c2", "c3"] {
        ok(
            lab.tcp(c, &lan(8080)),
            &from_gw,
            &format!("{c} → host:8080"),
        );
    }
    blocked(
        lab.tcp("out", &lan(8081)),
        "outside → host:8081 (loopback only)",
    );
}

pub fn nettool() -> String {
    format!("{}/tests/helpers/nettool.py", env!("CARGO_MANIFEST_DIR"))
}

/// The packets counted so far by the rules of chain `ip6 probe in` in `ns` (a probe table a
/// test adds to see what arrives).
pub fn probe_packets(lab: &ThreadLab, ns: &str) -> u64 {
    let out = lab.sh(ns, "nft -j list chain ip6 probe in");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["rule"]["expr"].as_array())
        .flat_map(|e| e.iter())
        .filter_map(|x| x["counter"]["packets"].as_u64())
        .sum()
}
