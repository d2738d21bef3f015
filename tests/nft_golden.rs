//! Golden tests, no kernel: the expressions rendered for podnet's rule shapes
//! must equal what nft 1.0.6 itself compiles for the same rule text. Every
//! expected block below was printed by `nft --debug=netlink -f` (nft's own
//! compiler), not by this crate.

use std::time::Duration;

use podnet::kernel::nft::*;
use Sel::*;

fn ip(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

fn golden(stmts: Vec<Stmt>, nft_debug: &str) {
    let want: String = nft_debug
        .lines()
        .map(|l| format!("  {}\n", l.trim()))
        .collect();
    assert_eq!(render_debug(&stmts), want);
}

#[test]
fn dnat_through_concat_map_with_numgen() {
    // dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 3 map @eps
    golden(
        vec![Stmt::NatMap {
            kind: NatKind::Dnat,
            key: vec![IpDaddr, L4Proto, ThDport, NumgenRandom(3)],
            map: "eps".into(),
            with_port: true,
        }],
        "[ payload load 4b @ network header + 16 => reg 1 ]
         [ meta load l4proto => reg 9 ]
         [ payload load 2b @ transport header + 2 => reg 10 ]
         [ numgen reg 11 = random mod 3 ]
         [ lookup reg 1 set eps dreg 1 ]
         [ nat dnat ip addr_min reg 1 proto_min reg 9 ]",
    );
}

#[test]
fn service_vmap_and_affinity_dnat() {
    // ip daddr . meta l4proto . th dport vmap @service_ips
    golden(
        vec![Stmt::Vmap {
            key: vec![IpDaddr, L4Proto, ThDport],
            map: "service_ips".into(),
        }],
        "[ payload load 4b @ network header + 16 => reg 1 ]
         [ meta load l4proto => reg 9 ]
         [ payload load 2b @ transport header + 2 => reg 10 ]
         [ lookup reg 1 set service_ips dreg 0 ]",
    );
    // dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity
    golden(
        vec![Stmt::NatMap {
            kind: NatKind::Dnat,
            key: vec![IpSaddr, IpDaddr, L4Proto, ThDport],
            map: "affinity".into(),
            with_port: true,
        }],
        "[ payload load 4b @ network header + 12 => reg 1 ]
         [ payload load 4b @ network header + 16 => reg 9 ]
         [ meta load l4proto => reg 10 ]
         [ payload load 2b @ transport header + 2 => reg 11 ]
         [ lookup reg 1 set affinity dreg 1 ]
         [ nat dnat ip addr_min reg 1 proto_min reg 9 ]",
    );
}

#[test]
fn affinity_learning_rule() {
    // meta l4proto tcp ct state new ct status dnat ct original ip daddr . meta l4proto
    //   . ct original proto-dst @affinity_svcs update @affinity { ip saddr
    //   . ct original ip daddr . meta l4proto . ct original proto-dst : ip daddr . th dport }
    golden(
        vec![
            Stmt::Cmp {
                sel: L4Proto,
                op: CmpOp::Eq,
                value: Value::Proto(TCP),
            },
            Stmt::AnyBits {
                sel: CtState,
                mask: ct_state::NEW,
            },
            Stmt::AnyBits {
                sel: CtStatus,
                mask: ct_status::DNAT,
            },
            Stmt::InSet {
                key: vec![CtOrigIpDaddr, L4Proto, CtOrigProtoDst],
                set: "affinity_svcs".into(),
                invert: false,
            },
            Stmt::Dynset {
                op: DynsetOp::Update,
                set: "affinity".into(),
                key: vec![IpSaddr, CtOrigIpDaddr, L4Proto, CtOrigProtoDst],
                data: vec![IpDaddr, ThDport],
                timeout: None,
            },
        ],
        "[ meta load l4proto => reg 1 ]
         [ cmp eq reg 1 0x00000006 ]
         [ ct load state => reg 1 ]
         [ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ]
         [ cmp neq reg 1 0x00000000 ]
         [ ct load status => reg 1 ]
         [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]
         [ cmp neq reg 1 0x00000000 ]
         [ ct load dst_ip => reg 1 , dir original ]
         [ meta load l4proto => reg 9 ]
         [ ct load proto_dst => reg 10 , dir original ]
         [ lookup reg 1 set affinity_svcs ]
         [ payload load 4b @ network header + 12 => reg 1 ]
         [ ct load dst_ip => reg 9 , dir original ]
         [ meta load l4proto => reg 10 ]
         [ ct load proto_dst => reg 11 , dir original ]
         [ payload load 4b @ network header + 16 => reg 2 ]
         [ payload load 2b @ transport header + 2 => reg 13 ]
         [ dynset update reg_key 1 set affinity sreg_data 2 ]",
    );
}

#[test]
fn masquerade_and_isolation() {
    // ip saddr @subnets oifname != "br0" masquerade
    golden(
        vec![
            Stmt::InSet {
                key: vec![IpSaddr],
                set: "subnets".into(),
                invert: false,
            },
            Stmt::Cmp {
                sel: OifName,
                op: CmpOp::Neq,
                value: Value::IfName("br0".into()),
            },
            Stmt::Masquerade,
        ],
        "[ payload load 4b @ network header + 12 => reg 1 ]
         [ lookup reg 1 set subnets ]
         [ meta load oifname => reg 1 ]
         [ cmp neq reg 1 0x00307262 0x00000000 0x00000000 0x00000000 ]
         [ masq ]",
    );
    // iifname "br0" oifname != "br0" ip daddr != @subnets counter drop
    golden(
        vec![
            Stmt::Cmp {
                sel: IifName,
                op: CmpOp::Eq,
                value: Value::IfName("br0".into()),
            },
            Stmt::Cmp {
                sel: OifName,
                op: CmpOp::Neq,
                value: Value::IfName("br0".into()),
            },
            Stmt::InSet {
                key: vec![IpDaddr],
                set: "subnets".into(),
                invert: true,
            },
            Stmt::Counter,
            Stmt::Verdict(Verdict::Drop),
        ],
        "[ meta load iifname => reg 1 ]
         [ cmp eq reg 1 0x00307262 0x00000000 0x00000000 0x00000000 ]
         [ meta load oifname => reg 1 ]
         [ cmp neq reg 1 0x00307262 0x00000000 0x00000000 0x00000000 ]
         [ payload load 4b @ network header + 16 => reg 1 ]
         [ lookup reg 1 set subnets 0x1 ]
         [ counter pkts 0 bytes 0 ]
         [ immediate reg 0 drop ]",
    );
    // ct state established,related accept
    golden(
        vec![
            Stmt::AnyBits {
                sel: CtState,
                mask: ct_state::ESTABLISHED | ct_state::RELATED,
            },
            Stmt::Verdict(Verdict::Accept),
        ],
        "[ ct load state => reg 1 ]
         [ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]
         [ cmp neq reg 1 0x00000000 ]
         [ immediate reg 0 accept ]",
    );
}

#[test]
fn rejects_jumps_and_fib() {
    golden(
        vec![
            Stmt::Cmp {
                sel: Mark,
                op: CmpOp::Eq,
                value: Value::Mark(0x10),
            },
            Stmt::Reject(Reject::TcpReset),
        ],
        "[ meta load mark => reg 1 ]
         [ cmp eq reg 1 0x00000010 ]
         [ reject type 1 code 0 ]",
    );
    // ip saddr 10.0.0.0/8 reject with icmp type host-unreachable
    golden(
        vec![
            Stmt::Prefix {
                sel: IpSaddr,
                addr: ip("10.0.0.0"),
                len: 8,
                negate: false,
            },
            Stmt::Reject(Reject::Icmp(1)),
        ],
        "[ payload load 1b @ network header + 12 => reg 1 ]
         [ cmp eq reg 1 0x0000000a ]
         [ reject type 0 code 1 ]",
    );
    golden(
        vec![
            Stmt::Cmp {
                sel: L4Proto,
                op: CmpOp::Eq,
                value: Value::Proto(UDP),
            },
            Stmt::Verdict(Verdict::Jump("services".into())),
        ],
        "[ meta load l4proto => reg 1 ]
         [ cmp eq reg 1 0x00000011 ]
         [ immediate reg 0 jump -> services ]",
    );
    // fib daddr type local goto services
    golden(
        vec![
            Stmt::Cmp {
                sel: FibDaddrType,
                op: CmpOp::Eq,
                value: Value::Mark(RTN_LOCAL),
            },
            Stmt::Verdict(Verdict::Goto("services".into())),
        ],
        "[ fib daddr type => reg 1 ]
         [ cmp eq reg 1 0x00000002 ]
         [ immediate reg 0 goto -> services ]",
    );
}

#[test]
fn literal_nat_prefixes_and_timeouts() {
    // ip daddr 10.1.2.3 tcp dport 80 dnat to 10.0.0.2:80
    golden(
        vec![
            Stmt::Cmp {
                sel: IpDaddr,
                op: CmpOp::Eq,
                value: Value::Ipv4(ip("10.1.2.3")),
            },
            Stmt::Cmp {
                sel: L4Proto,
                op: CmpOp::Eq,
                value: Value::Proto(TCP),
            },
            Stmt::Cmp {
                sel: ThDport,
                op: CmpOp::Eq,
                value: Value::Port(80),
            },
            Stmt::Nat {
                kind: NatKind::Dnat,
                addr: ip("10.0.0.2"),
                port: Some(80),
            },
        ],
        "[ payload load 4b @ network header + 16 => reg 1 ]
         [ cmp eq reg 1 0x0302010a ]
         [ meta load l4proto => reg 1 ]
         [ cmp eq reg 1 0x00000006 ]
         [ payload load 2b @ transport header + 2 => reg 1 ]
         [ cmp eq reg 1 0x00005000 ]
         [ immediate reg 1 0x0200000a ]
         [ immediate reg 2 0x00005000 ]
         [ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ]",
    );
    golden(
        vec![Stmt::Nat {
            kind: NatKind::Snat,
            addr: ip("10.0.0.1"),
            port: None,
        }],
        "[ immediate reg 1 0x0100000a ]
         [ nat snat ip addr_min reg 1 ]",
    );
    // ip saddr 10.88.0.0/16 accept ; ip saddr 10.88.0.0/22 accept
    golden(
        vec![
            Stmt::Prefix {
                sel: IpSaddr,
                addr: ip("10.88.0.0"),
                len: 16,
                negate: false,
            },
            Stmt::Verdict(Verdict::Accept),
        ],
        "[ payload load 2b @ network header + 12 => reg 1 ]
         [ cmp eq reg 1 0x0000580a ]
         [ immediate reg 0 accept ]",
    );
    golden(
        vec![
            Stmt::Prefix {
                sel: IpSaddr,
                addr: ip("10.88.0.0"),
                len: 22,
                negate: false,
            },
            Stmt::Verdict(Verdict::Accept),
        ],
        "[ payload load 4b @ network header + 12 => reg 1 ]
         [ bitwise reg 1 = ( reg 1 & 0x00fcffff ) ^ 0x00000000 ]
         [ cmp eq reg 1 0x0000580a ]
         [ immediate reg 0 accept ]",
    );
    // update @affinity { ip saddr . ip daddr . meta l4proto . th dport timeout 1m : ip daddr . th dport }
    golden(
        vec![Stmt::Dynset {
            op: DynsetOp::Update,
            set: "affinity".into(),
            key: vec![IpSaddr, IpDaddr, L4Proto, ThDport],
            data: vec![IpDaddr, ThDport],
            timeout: Some(Duration::from_secs(60)),
        }],
        "[ payload load 4b @ network header + 12 => reg 1 ]
         [ payload load 4b @ network header + 16 => reg 9 ]
         [ meta load l4proto => reg 10 ]
         [ payload load 2b @ transport header + 2 => reg 11 ]
         [ payload load 4b @ network header + 16 => reg 2 ]
         [ payload load 2b @ transport header + 2 => reg 13 ]
         [ dynset update reg_key 1 set affinity sreg_data 2 timeout 60000ms ]",
    );
}

/// Byte layout of a map element, compared with the bytes nft sent for
/// `elements = { 10.0.0.1 . tcp . 80 : 10.1.0.2 . 8080 }` (`nft --debug=mnl`).
#[test]
fn element_bytes_match_nft() {
    use DataType::*;
    let t = Table::new(Family::Ip, "t");
    let ports = Set::map(
        "ports",
        vec![Ipv4Addr, InetProto, InetService],
        vec![Ipv4Addr, InetService],
    );
    let e = Element::new(vec![
        Value::Ipv4(ip("10.0.0.1")),
        Value::Proto(TCP),
        Value::Port(80),
    ])
    .to_value(vec![Value::Ipv4(ip("10.1.0.2")), Value::Port(8080)]);
    let mut b = Batch::new();
    b.add_elements(&t, &ports, &[e]);
    let bytes = b.encode(1);
    #[rustfmt::skip]
    let nft_sent: &[u8] = &[
        44, 0, 3, 0x80,            // NFTA_SET_ELEM_LIST_ELEMENTS (nested)
        40, 0, 1, 0x80,            //  NFTA_LIST_ELEM
        20, 0, 1, 0x80,            //   NFTA_SET_ELEM_KEY
        16, 0, 1, 0,               //    NFTA_DATA_VALUE
        0x0a, 0, 0, 1, 6, 0, 0, 0, 0, 0x50, 0, 0,
        16, 0, 2, 0x80,            //   NFTA_SET_ELEM_DATA
        12, 0, 1, 0,               //    NFTA_DATA_VALUE
        0x0a, 1, 0, 2, 0x1f, 0x90, 0, 0,
    ];
    assert!(
        bytes.windows(nft_sent.len()).any(|w| w == nft_sent),
        "element bytes differ from nft's:\n{bytes:02x?}"
    );
}

#[test]
fn anonymous_set_lookup() {
    // meta l4proto { tcp, udp } (nft names the set __set%d; the kernel numbers it)
    golden(
        vec![Stmt::InList {
            key: vec![L4Proto],
            elements: vec![vec![Value::Proto(TCP)], vec![Value::Proto(UDP)]],
            invert: false,
        }],
        "[ meta load l4proto => reg 1 ]
         [ lookup reg 1 set __set%d ]",
    );
}

/// BEGIN and END frame the batch with NFNL_SUBSYS_NFTABLES as res_id;
/// every message in between asks for an ack and has its own sequence.
#[test]
fn batch_framing() {
    let t = Table::new(Family::Inet, "podnet");
    let mut b = Batch::new();
    b.add_table(&t);
    b.delete_table(&t);
    let bytes = b.encode(100);
    let mut msgs = vec![];
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
        let ty = u16::from_ne_bytes([rest[4], rest[5]]);
        let flags = u16::from_ne_bytes([rest[6], rest[7]]);
        let seq = u32::from_ne_bytes(rest[8..12].try_into().unwrap());
        msgs.push((
            ty,
            flags,
            seq,
            rest[16],
            u16::from_be_bytes([rest[18], rest[19]]),
        ));
        rest = &rest[len..];
    }
    assert_eq!(
        msgs,
        vec![
            (0x10, 0x1, 100, 0, 10),    // NFNL_MSG_BATCH_BEGIN
            (0x0a00, 0x405, 101, 1, 0), // NEWTABLE, REQUEST|ACK|CREATE, inet
            (0x0a02, 0x5, 102, 1, 0),   // DELTABLE, REQUEST|ACK
            (0x11, 0x1, 103, 0, 10),    // NFNL_MSG_BATCH_END
        ]
    );
}

#[test]
fn anti_spoofing_lookups_in_the_bridge_family() {
    // iifname != @ports accept
    golden(
        vec![
            Stmt::InSet {
                key: vec![IifName],
                set: "ports".into(),
                invert: true,
            },
            Stmt::Verdict(Verdict::Accept),
        ],
        "[ meta load iifname => reg 1 ]
         [ lookup reg 1 set ports 0x1 ]
         [ immediate reg 0 accept ]",
    );
    // meta protocol ip iifname . ether saddr . ip saddr @eps accept
    golden(
        vec![
            Stmt::Cmp {
                sel: Protocol,
                op: CmpOp::Eq,
                value: Value::Port(0x0800),
            },
            Stmt::InSet {
                key: vec![IifName, EtherSaddr, IpSaddr],
                set: "eps".into(),
                invert: false,
            },
            Stmt::Verdict(Verdict::Accept),
        ],
        "[ meta load protocol => reg 1 ]
         [ cmp eq reg 1 0x00000008 ]
         [ meta load iifname => reg 1 ]
         [ payload load 6b @ link header + 6 => reg 2 ]
         [ payload load 4b @ network header + 12 => reg 14 ]
         [ lookup reg 1 set eps ]
         [ immediate reg 0 accept ]",
    );
    // meta protocol arp @nh,0,48 0x000108000604
    //   iifname . ether saddr . arp saddr ip @eps
    //   iifname . arp saddr ether . arp saddr ip @eps accept
    // (nft lists the raw match as `arp htype 1 arp ptype ip arp hlen 6 arp plen 4`)
    golden(
        vec![
            Stmt::Cmp {
                sel: Protocol,
                op: CmpOp::Eq,
                value: Value::Port(0x0806),
            },
            Stmt::RawEq {
                sel: ArpFormat,
                data: ARP_ETHERNET_IPV4.to_vec(),
            },
            Stmt::InSet {
                key: vec![IifName, EtherSaddr, ArpSpa],
                set: "eps".into(),
                invert: false,
            },
            Stmt::InSet {
                key: vec![IifName, ArpSha, ArpSpa],
                set: "eps".into(),
                invert: false,
            },
            Stmt::Verdict(Verdict::Accept),
        ],
        "[ meta load protocol => reg 1 ]
         [ cmp eq reg 1 0x00000608 ]
         [ payload load 6b @ network header + 0 => reg 1 ]
         [ cmp eq reg 1 0x00080100 0x00000406 ]
         [ meta load iifname => reg 1 ]
         [ payload load 6b @ link header + 6 => reg 2 ]
         [ payload load 4b @ network header + 14 => reg 14 ]
         [ lookup reg 1 set eps ]
         [ meta load iifname => reg 1 ]
         [ payload load 6b @ network header + 8 => reg 2 ]
         [ payload load 4b @ network header + 14 => reg 14 ]
         [ lookup reg 1 set eps ]
         [ immediate reg 0 accept ]",
    );
}

/// Byte layout of a `ifname . ether_addr . ipv4_addr` element (the MAC padded to 8 bytes),
/// compared with what nft sent for `type ifname . ether_addr . ipv4_addr; elements =
/// { "pnv1" . 02:50:0a:58:00:02 . 10.88.0.2 }` (`nft --debug=mnl`): key type 0x29247, 28 bytes.
#[test]
fn ether_concat_element_bytes_match_nft() {
    use DataType::*;
    let key = vec![IfName, EtherAddr, Ipv4Addr];
    assert_eq!(types::concat_type(&key), 0x29247);
    assert_eq!(types::concat_len(&key), 28);
    let t = Table::new(Family::Bridge, "t");
    let set = Set::plain("eps", key);
    let e = Element::new(vec![
        Value::IfName("pnv1".into()),
        Value::Ether([0x02, 0x50, 0x0a, 0x58, 0x00, 0x02]),
        Value::Ipv4(ip("10.88.0.2")),
    ]);
    let mut b = Batch::new();
    b.add_elements(&t, &set, &[e]);
    let bytes = b.encode(1);
    #[rustfmt::skip]
    let nft_sent: &[u8] = &[
        44, 0, 3, 0x80,            // NFTA_SET_ELEM_LIST_ELEMENTS (nested)
        40, 0, 1, 0x80,            //  NFTA_LIST_ELEM
        36, 0, 1, 0x80,            //   NFTA_SET_ELEM_KEY
        32, 0, 1, 0,               //    NFTA_DATA_VALUE
        b'p', b'n', b'v', b'1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x02, 0x50, 0x0a, 0x58, 0x00, 0x02, 0, 0,
        0x0a, 0x58, 0x00, 0x02,
    ];
    assert!(
        bytes.windows(nft_sent.len()).any(|w| w == nft_sent),
        "element bytes differ from nft's:\n{bytes:02x?}"
    );
}
