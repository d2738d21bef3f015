//! The DNS server in sandboxes: a lab whose host has two bridges and four container
//! namespaces (made with `ip`, no podnet), the server started in the host's namespace, and
//! clients (`dig`, `getent`, raw sockets) in the containers.

use podnet::dns::{Config, Listen, NameRecord, Names, NetworkNames, Server};
use podnet::testbed::thread_netns::in_netns_at;
use podnet::testbed::{describe, Lab, Sandbox};
use std::net::IpAddr;
use std::path::PathBuf;

/// Gateways: network a (dual-stack) and network b.
pub const GW_A: &str = "10.89.0.1";
pub const GW_A6: &str = "fd00:a::1";
pub const GW_B: &str = "10.89.1.1";
/// The outside machine's resolver, and an address of it that drops everything.
pub const UPSTREAM: &str = "198.18.0.2";
pub const BLACK_HOLE: &str = "198.18.0.3";

/// c1 (a, dual-stack), c2 (a, alias db), c3 (b), c4 (a and b).
const TOPOLOGY: &str = r#"
set -e
bridge() { ip link add $1 type bridge && ip link set $1 up; }
bridge br-a; bridge br-b
ip addr add 10.89.0.1/24 dev br-a
ip addr add fd00:a::1/64 dev br-a nodad
ip addr add 10.89.1.1/24 dev br-b
port() { # netns ifname bridge addr gw
  ip link add v-$1-$2 type veth peer name $2 netns $1
  ip link set v-$1-$2 master $3 up
  ip -n $1 addr add $4 dev $2
  ip -n $1 link set $2 up
}
for c in c1 c2 c3 c4; do ip netns add $c; ip -n $c link set lo up; done
port c1 eth0 br-a 10.89.0.2/24; ip -n c1 addr add fd00:a::2/64 dev eth0 nodad
port c2 eth0 br-a 10.89.0.3/24
port c3 eth0 br-b 10.89.1.2/24
port c4 eth0 br-a 10.89.0.4/24; port c4 eth1 br-b 10.89.1.4/24
ip -n c1 route add default via 10.89.0.1
ip -n c2 route add default via 10.89.0.1
ip -n c3 route add default via 10.89.1.1
ip -n c4 route add default via 10.89.0.1
"#;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rec(owner: &str, names: &[&str], addrs: &[&str]) -> NameRecord {
    NameRecord {
        owner: owner.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        addrs: addrs.iter().map(|a| ip(a)).collect(),
    }
}

/// The names of the topology, plus the service `web` (VIP 10.96.0.10) on a.
pub fn names() -> Names {
    Names {
        zone: Some("dns.podnet".into()),
        networks: vec![
            NetworkNames {
                name: "a".into(),
                gateways: vec![ip(GW_A), ip(GW_A6)],
                subnets: vec![
                    "10.89.0.0/24".parse().unwrap(),
                    "fd00:a::/64".parse().unwrap(),
                ],
                records: vec![
                    rec("id1", &["c1"], &["10.89.0.2", "fd00:a::2"]),
                    rec("id2", &["c2", "db"], &["10.89.0.3"]),
                    rec("id4", &["c4"], &["10.89.0.4"]),
                    rec("", &["web"], &["10.96.0.10"]),
                ],
            },
            NetworkNames {
                name: "b".into(),
                gateways: vec![ip(GW_B)],
                subnets: vec!["10.89.1.0/24".parse().unwrap()],
                records: vec![
                    rec("id3", &["c3"], &["10.89.1.2"]),
                    rec("id4", &["c4"], &["10.89.1.4"]),
                ],
            },
        ],
    }
}

/// The gateways, each pinned to its bridge.
pub fn listen() -> Vec<Listen> {
    [(GW_A, "br-a"), (GW_A6, "br-a"), (GW_B, "br-b")]
        .iter()
        .map(|(a, d)| Listen {
            addr: ip(a),
            device: Some(d.to_string()),
        })
        .collect()
}

/// A lab with the topology on its host; the outside machine has a second address that
/// drops every packet (a dead resolver).
pub fn dns_lab() -> Lab {
    let lab = super::lab();
    lab.host.sh_ok(TOPOLOGY).unwrap_or_else(|e| panic!("{e}"));
    black_hole(&lab);
    lab
}

/// Gives the `outside` machine the address [`BLACK_HOLE`], which drops every packet (a dead
/// resolver).
pub fn black_hole(lab: &Lab) {
    lab.outside
        .sh_ok(&format!(
            "ip addr add {BLACK_HOLE}/24 dev lan0 && nft add table ip bh && \
             nft add chain ip bh in '{{ type filter hook input priority 0; }}' && \
             nft add rule ip bh in ip daddr {BLACK_HOLE} drop"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Writes a resolv.conf naming `servers` into the sandbox; its path as the test process
/// (where the server's forwarder reads it) sees it.
pub fn resolv_conf(sb: &Sandbox, file: &str, servers: &[&str]) -> PathBuf {
    let text: String = servers
        .iter()
        .map(|s| format!("nameserver {s}\n"))
        .collect();
    sb.sh_ok(&format!(
        "mkdir -p /run/testbed && printf '{text}' > /run/testbed/{file}"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    sb.host_path(format!("/run/testbed/{file}"))
}

/// Starts a server in `sb`'s network namespace serving `names` on `listen`.
pub fn serve(sb: &Sandbox, config: Config, names: Names, listen: Vec<Listen>) -> Server {
    in_netns_at(&sb.netns_path(), move || {
        let s = Server::start(config).expect("start the DNS server");
        s.update(&names);
        let failed = s.set_listen(&listen);
        assert!(failed.is_empty(), "could not listen: {failed:?}");
        s
    })
}

/// The outside machine's resolver: a second server at [`UPSTREAM`] that knows
/// `ext.example` (203.0.113.7), `big.example` (100 addresses) and forwards the rest to
/// `upstreams` (none: SERVFAIL).
pub fn upstream(lab: &Lab, upstreams: &[&str]) -> Server {
    let big: Vec<String> = (1..=100).map(|i| format!("203.0.113.{i}")).collect();
    let names = Names {
        zone: None,
        networks: vec![NetworkNames {
            name: "outside".into(),
            gateways: vec![ip(UPSTREAM)],
            subnets: vec![],
            records: vec![
                rec("", &["ext.example"], &["203.0.113.7"]),
                rec(
                    "",
                    &["big.example"],
                    &big.iter().map(String::as_str).collect::<Vec<_>>(),
                ),
            ],
        }],
    };
    let config = Config {
        resolv_conf: resolv_conf(&lab.outside, "upstream.conf", upstreams),
        stub_resolv_conf: "/nonexistent".into(),
        ..Config::default()
    };
    let listen = vec![Listen {
        addr: ip(UPSTREAM),
        device: None,
    }];
    serve(&lab.outside, config, names, listen)
}

/// What `dig` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dug {
    /// `NOERROR`, `NXDOMAIN`, ...; empty when no reply came.
    pub status: String,
    /// (ttl, type, data) of each answer.
    pub answers: Vec<(u32, String, String)>,
}

impl Dug {
    pub fn data(&self) -> Vec<String> {
        let mut v: Vec<String> = self.answers.iter().map(|a| a.2.clone()).collect();
        v.sort();
        v
    }
}

/// `dig ARGS...` from the namespace `netns` of `sb` (one try, 3 s).
pub fn dig(sb: &Sandbox, netns: &str, args: &[&str]) -> Dug {
    dig_at(sb, &format!("/run/netns/{netns}"), args)
}

/// `dig ARGS...` from the namespace pinned at `path` inside `sb` (one try, 3 s).
pub fn dig_at(sb: &Sandbox, path: &str, args: &[&str]) -> Dug {
    let out = sb
        .in_netns(path, "dig")
        .args(["+time=3", "+tries=1", "+noall", "+comments", "+answer"])
        .args(args)
        .output()
        .expect("run dig");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("")
        .to_string();
    if status.is_empty() && out.status.success() {
        panic!("dig printed no status\n{}", describe(&out));
    }
    let answers = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 5).then(|| (f[1].parse().unwrap_or(u32::MAX), f[3].into(), f[4].into()))
        })
        .collect();
    Dug { status, answers }
}

/// A DNS query for `name`/`rtype` with id `id`, as bytes.
pub fn query(id: u16, name: &str, rtype: hickory_proto::rr::RecordType) -> Vec<u8> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::Name;
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m.to_vec().unwrap()
}

/// Decodes a reply.
pub fn reply(bytes: &[u8]) -> hickory_proto::op::Message {
    hickory_proto::op::Message::from_vec(bytes).expect("a well-formed reply")
}

/// The addresses in a reply's answer section, sorted.
pub fn addrs(m: &hickory_proto::op::Message) -> Vec<IpAddr> {
    use hickory_proto::rr::RData;
    let mut v: Vec<IpAddr> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    v.sort();
    v
}
