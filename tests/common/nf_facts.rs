//! Facts and checks shared by the netfilter plan tests, IPv4 and IPv6 alike (included with
//! `#[path]`: these tests need no sandbox helpers). `None` for an IPv6 argument: IPv4 only.
#![allow(dead_code)]

use podnet::kernel::nft::Batch;
use podnet::model::{parse_publish, Mac};
use podnet::plan::netfilter::{GuardFacts, NetFacts, PortFacts};
use podnet::testbed::thread_netns::ThreadLab;

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
