//! The bytes of every kind of nf_tables message podnet sends, pinned: a change to how batches
//! are encoded (buffers, chunking of element lists) must send exactly what it sent before.
//! Each case is the whole encoded transaction's length and FNV-1a 64 digest, recorded from
//! the encoder that `nft --debug=mnl` and the kernel tests validated (the typed
//! netlink-packet-netfilter encoder, before the single-buffer one). No kernel needed.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

#[path = "common/nf_facts.rs"]
mod facts;

use facts::{guard, net, ports};
use podnet::kernel::nft::*;
use podnet::model::service::{parse_service_port, with_node_port, NODE_PORT_RANGE};
use podnet::model::{BackendOf, ServiceOf};
use podnet::plan::netfilter as nf;
use podnet::plan::services as sv;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn svc<A>(name: &str, vip: A, affinity: Option<u32>, node_port: Option<u16>) -> ServiceOf<A> {
    let mut ports = vec![
        parse_service_port("80:8080/tcp").unwrap(),
        parse_service_port("53/udp").unwrap(),
    ];
    if let Some(np) = node_port {
        with_node_port(&mut ports, np, &NODE_PORT_RANGE).unwrap();
    }
    ServiceOf {
        name: name.into(),
        vip,
        ports,
        affinity_timeout: affinity,
    }
}

fn v4(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a2b_0000 + i)
}

fn v6(i: u32) -> Ipv6Addr {
    Ipv6Addr::from(0xfd00_0043_0000_0000_0000_0000_0000_0000u128 + u128::from(i))
}

type Svcs<A> = Vec<(ServiceOf<A>, Vec<BackendOf<A>>)>;

/// Two services with affinity and node ports, one without backends, and `n` plain ones with
/// three backends (enough, at 3,000, for every element list to span several messages).
fn services<A: Copy>(addr: fn(u32) -> A, n: u32) -> Svcs<A> {
    let be = |i: u32| BackendOf::new(addr(0x1_0000 + i));
    let mut with_port = be(9);
    with_port.port = Some(9090);
    let mut out = vec![
        (
            svc("web", addr(1), Some(10800), Some(30080)),
            vec![be(3), be(2), be(2)],
        ),
        (svc("api", addr(2), Some(60), Some(30081)), vec![be(4)]),
        (svc("empty", addr(3), None, None), vec![]),
    ];
    out.extend((0..n).map(|i| {
        let mut s = svc(&format!("s{i}"), addr(100 + i), None, None);
        s.ports.truncate(1);
        (s, vec![be(1), be(2), with_port])
    }));
    out
}

fn services_cases<A: sv::SvcAddr>(addr: fn(u32) -> A) -> Vec<(&'static str, Batch)> {
    let all = services(addr, 3000);
    let (web, web_be) = &all[0];
    let mut full = sv::full(&all);
    full.stamp_tables(&udata::comment("podnet:abcd /var/lib/podnet"), true);
    let none = Default::default();
    let be = |i: u32| BackendOf::new(addr(0x1_0000 + i));
    vec![
        ("full", full),
        (
            "set_backends",
            sv::set_backends(web, web_be, &[be(2), be(5), be(6), be(7)], &none),
        ),
        ("remove_service", sv::remove_service(web, web_be)),
        ("add_service", sv::add_service(web, web_be, &none)),
        ("delete_all", sv::delete_all_of::<A>()),
    ]
}

fn netfilter_cases() -> Vec<(&'static str, Batch)> {
    let nets = [
        net("pn0", "10.88.0.0/24", Some("fd00:88::/64"), false, true),
        net("pn1", "10.89.0.0/24", None, true, false),
    ];
    let guards = [
        guard("pnv1", "10.88.0.2", Some("fd00:88::2")),
        guard("pnv2", "10.89.0.3", None),
    ];
    let mut p = ports("10.88.0.2", Some("fd00:88::2"), "8080-8082:80-82/udp");
    p.extend(ports("10.88.0.2", Some("fd00:88::2"), "127.0.0.1:9000:90"));
    p.extend(ports("10.89.0.3", None, "8443:443"));
    let mut genid = nf::add_endpoint(&guards[0], &p);
    genid.set_genid(0x1234_5678);
    vec![
        ("nf full", nf::full(&nets, &guards, &p)),
        ("nf endpoint", genid),
        ("nf remove endpoint", nf::remove_endpoint(&guards[1], &p)),
        ("nf add network", nf::add_network(&nets[0])),
        ("nf delete", nf::delete_all()),
    ]
}

/// What no plan above sends but the batch API offers.
fn hand_built() -> Batch {
    use DataType::{IfName, InetProto, InetService, Ipv4Addr as A4, Ipv6Addr as A6, Mark};
    let t = Table::new(Family::Inet, "misc");
    let dev = Table::new(Family::Netdev, "dev");
    let mut b = Batch::new();
    b.add_table(&t);
    b.add_chain(&t, &Chain::regular("c"));
    b.add_chain(&t, &Chain::base("in", ChainType::Filter, Hook::Input, -150));
    b.add_table(&dev);
    b.add_chain(&dev, &Chain::ingress("ing", "pn0", -500));
    let ranges = Set::plain("ranges", vec![A4]).interval();
    let cat = Set::plain("cat", vec![A6, InetService]).interval();
    let dynamic = Set::map("dyn", vec![A4, InetProto], vec![A4, InetService])
        .dynamic()
        .default_timeout(Duration::from_secs(30))
        .size(4096);
    let vm = Set::vmap("vm", vec![IfName]);
    let marks = Set::plain("marks", vec![Mark]).with_timeouts();
    for s in [&ranges, &cat, &dynamic, &vm, &marks] {
        b.add_set(&t, s);
    }
    let ip = |s: &str| Value::Ipv4(s.parse().unwrap());
    let ip6 = |s: &str| Value::Ipv6(s.parse().unwrap());
    b.add_elements(
        &t,
        &ranges,
        &[
            Element::ipv4_net("10.0.0.0/8".parse().unwrap()),
            Element::new(vec![ip("192.0.2.1")]),
            // Runs to the end: no end element after it.
            Element::range(vec![ip("250.0.0.0")], vec![ip("255.255.255.255")]),
        ],
    );
    b.add_elements(
        &t,
        &cat,
        &[
            Element::range(
                vec![ip6("fd00::"), Value::Port(1)],
                vec![ip6("fd00::ffff"), Value::Port(1024)],
            ),
            Element::new(vec![ip6("::1"), Value::Port(53)]),
        ],
    );
    b.add_elements(
        &t,
        &dynamic,
        &[Element::new(vec![ip("10.0.0.1"), Value::Proto(TCP)])
            .to_value(vec![ip("10.0.0.2"), Value::Port(80)])
            .timeout(Duration::from_millis(1500))],
    );
    b.add_elements(
        &t,
        &vm,
        &[
            Element::new(vec![Value::IfName("pn0".into())]).to_verdict(Verdict::Jump("c".into())),
            Element::new(vec![Value::IfName("pn1".into())]).to_verdict(Verdict::Drop),
        ],
    );
    b.add_elements(
        &t,
        &marks,
        &[Element::new(vec![Value::Mark(7)]).timeout(Duration::from_secs(5))],
    );
    b.delete_elements(&t, &cat, &[Element::new(vec![ip6("::1"), Value::Port(53)])]);
    b.delete_elements(
        &t,
        &ranges,
        &[Element::ipv4_net("10.0.0.0/8".parse().unwrap())],
    );
    let in_list = Stmt::InList {
        key: vec![Sel::L4Proto, Sel::ThDport],
        elements: vec![
            vec![Value::Proto(TCP), Value::Port(22)],
            vec![Value::Proto(UDP), Value::Port(53)],
        ],
        invert: false,
    };
    b.add_rule(
        &t,
        &Rule::new("in", vec![in_list.clone(), Stmt::Verdict(Verdict::Accept)]).comment("ssh"),
    );
    b.insert_rule(
        &t,
        &Rule::new(
            "in",
            vec![
                Stmt::InSet {
                    key: vec![Sel::IpSaddr],
                    set: "ranges".into(),
                    invert: true,
                },
                Stmt::Verdict(Verdict::Drop),
            ],
        ),
    );
    b.add_rule(
        &t,
        &Rule::new(
            "c",
            vec![in_list, Stmt::Verdict(Verdict::Goto("in".into()))],
        ),
    );
    b.delete_rule(&t, "in", 42);
    b.flush_set(&t, "marks");
    b.flush_chain(&t, "c");
    b.flush_table(&t);
    b.delete_set(&t, "vm");
    b.delete_chain(&t, "c");
    b.delete_table(&dev);
    b.stamp_tables(&udata::comment("x"), false);
    b
}

fn cases() -> Vec<(String, Batch)> {
    let mut out: Vec<(String, Batch)> = vec![];
    for (n, b) in services_cases::<Ipv4Addr>(v4) {
        out.push((format!("svc4 {n}"), b));
    }
    for (n, b) in services_cases::<Ipv6Addr>(v6) {
        out.push((format!("svc6 {n}"), b));
    }
    for (n, b) in netfilter_cases() {
        out.push((n.to_string(), b));
    }
    out.push(("hand-built".into(), hand_built()));
    let web = services(v4, 0).swap_remove(0);
    let mut two = sv::set_backends(&web.0, &web.1, &[], &Default::default());
    two.append(sv::remove_service(&web.0, &web.1));
    out.push(("appended".into(), two));
    out
}

/// (case, messages, encoded length, digest) as the validated encoder sent them.
const GOLDEN: &[(&str, usize, usize, u64)] = &[
    ("svc4 full", 88, 590120, 0xe76b71177f0795d1),
    ("svc4 set_backends", 18, 2920, 0x7dab0f414c080f72),
    ("svc4 remove_service", 8, 1120, 0x175294258c92bf83),
    ("svc4 add_service", 30, 10168, 0xae56aa23e6b323dd),
    ("svc4 delete_all", 2, 112, 0x9b567715dcb4c306),
    ("svc6 full", 93, 842920, 0x3bca688e034f85e0),
    ("svc6 set_backends", 18, 3496, 0xa4c4256e6068262d),
    ("svc6 remove_service", 8, 1360, 0x6764d2ed31e1288c),
    ("svc6 add_service", 30, 10504, 0x727fecb23660acfc),
    ("svc6 delete_all", 2, 112, 0x1e7355dd242b25b6),
    ("nf full", 108, 19608, 0xd2d805079bf3b559),
    ("nf endpoint", 6, 868, 0xb5fea7b796d735cc),
    ("nf remove endpoint", 5, 536, 0x8cd801c803580ff9),
    ("nf add network", 11, 1636, 0x4f6d88805625a65d),
    ("nf delete", 4, 168, 0xbb8b48da915d8e33),
    ("hand-built", 31, 2960, 0xb22d2d4f6c572dc4),
    ("appended", 16, 2332, 0x7818ac831c3b428f),
];

#[test]
fn every_message_kind_encodes_as_before() {
    let got: Vec<(String, usize, usize, u64)> = cases()
        .into_iter()
        .map(|(name, b)| {
            let bytes = b.encode(7);
            (name, b.len(), bytes.len(), fnv(&bytes))
        })
        .collect();
    let text: String = got
        .iter()
        .map(|(n, m, l, h)| format!("    (\"{n}\", {m}, {l}, {h:#018x}),\n"))
        .collect();
    let want: String = GOLDEN
        .iter()
        .map(|(n, m, l, h)| format!("    (\"{n}\", {m}, {l}, {h:#018x}),\n"))
        .collect();
    assert_eq!(text, want, "encoded batches changed; new table:\n{text}");
}
