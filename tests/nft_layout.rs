//! DESIGN.md §3's podnet tables as data, and what `nft list ruleset` must
//! print for them. Included by the kernel tests with `#[path]`.

#![allow(dead_code)]

use std::time::Duration;

use podnet::kernel::nft::*;
use DataType::{InetProto, InetService, Ipv4Addr};
use Sel::*;

fn ip(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

/// The layout of DESIGN.md §3: published ports, services in bucket chains,
/// ClientIP affinity, masquerade and forward isolation.
pub fn podnet_tables() -> (TableDef, TableDef) {
    let nat_t = Table::new(Family::Ip, "podnet-nat");
    let mut nat = TableDef::new(nat_t);
    let svc_key = vec![Ipv4Addr, InetProto, InetService];
    let backend = vec![Ipv4Addr, InetService];
    nat.sets = vec![
        Set::plain("subnets", vec![Ipv4Addr]).interval(),
        Set::map("ports", svc_key.clone(), backend.clone()),
        Set::vmap("service_ips", svc_key.clone()),
        Set::map(
            "eps",
            vec![Ipv4Addr, InetProto, InetService, DataType::Mark],
            backend.clone(),
        ),
        Set::map(
            "affinity",
            vec![Ipv4Addr, Ipv4Addr, InetProto, InetService],
            backend.clone(),
        )
        .dynamic()
        .default_timeout(Duration::from_secs(3 * 3600)),
        Set::plain("affinity_svcs", svc_key.clone()),
    ];
    nat.chains = vec![
        Chain::base("prerouting", ChainType::Nat, Hook::Prerouting, -100),
        Chain::base("output", ChainType::Nat, Hook::Output, -100),
        Chain::base("postrouting", ChainType::Nat, Hook::Postrouting, 100),
        Chain::base("affinity", ChainType::Filter, Hook::Prerouting, -99),
        Chain::regular("services"),
        Chain::regular("bucket_2"),
    ];
    let dnat_map = |key: Vec<Sel>, map: &str| Stmt::NatMap {
        kind: NatKind::Dnat,
        key,
        map: map.into(),
        with_port: true,
    };
    let entry = |chain: &str| {
        vec![
            Rule::new(
                chain,
                vec![dnat_map(vec![IpDaddr, L4Proto, ThDport], "ports")],
            ),
            Rule::new(
                chain,
                vec![
                    Stmt::InList {
                        key: vec![L4Proto],
                        elements: vec![vec![Value::Proto(TCP)], vec![Value::Proto(UDP)]],
                        invert: false,
                    },
                    dnat_map(vec![IpSaddr, IpDaddr, L4Proto, ThDport], "affinity"),
                ],
            ),
            Rule::new(chain, vec![Stmt::Verdict(Verdict::Jump("services".into()))]),
        ]
    };
    nat.rules = entry("prerouting");
    nat.rules.extend(entry("output"));
    nat.rules.extend([
        Rule::new(
            "services",
            vec![Stmt::Vmap {
                key: vec![IpDaddr, L4Proto, ThDport],
                map: "service_ips".into(),
            }],
        ),
        Rule::new(
            "bucket_2",
            vec![dnat_map(
                vec![IpDaddr, L4Proto, ThDport, NumgenRandom(2)],
                "eps",
            )],
        ),
        Rule::new(
            "postrouting",
            vec![
                Stmt::InSet {
                    key: vec![IpSaddr],
                    set: "subnets".into(),
                    invert: false,
                },
                Stmt::NamePrefix {
                    sel: OifName,
                    prefix: "podnet".into(),
                    negate: true,
                },
                Stmt::Masquerade,
            ],
        )
        .comment("masquerade leaving podnet"),
        Rule::new(
            "affinity",
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
        ),
    ]);
    nat.elements = vec![
        (
            "subnets".into(),
            vec![Element::ipv4_net("10.90.0.0/24".parse().unwrap())],
        ),
        (
            "ports".into(),
            vec![Element::new(vec![
                Value::Ipv4(ip("192.0.2.1")),
                Value::Proto(TCP),
                Value::Port(8080),
            ])
            .to_value(vec![Value::Ipv4(ip("10.90.0.2")), Value::Port(80)])],
        ),
    ];

    let filter_t = Table::new(Family::Inet, "podnet-filter");
    let mut filter = TableDef::new(filter_t);
    filter.sets = vec![Set::plain("bridges", vec![DataType::IfName])];
    filter.chains = vec![Chain::base("forward", ChainType::Filter, Hook::Forward, 0)];
    filter.rules = vec![
        Rule::new(
            "forward",
            vec![
                Stmt::AnyBits {
                    sel: CtState,
                    mask: ct_state::ESTABLISHED | ct_state::RELATED,
                },
                Stmt::Verdict(Verdict::Accept),
            ],
        ),
        Rule::new(
            "forward",
            vec![
                Stmt::InSet {
                    key: vec![IifName],
                    set: "bridges".into(),
                    invert: false,
                },
                Stmt::InSet {
                    key: vec![OifName],
                    set: "bridges".into(),
                    invert: false,
                },
                Stmt::Cmp {
                    sel: IifName,
                    op: CmpOp::Neq,
                    value: Value::IfName("podnet0".into()),
                },
                Stmt::Counter,
                Stmt::Reject(Reject::Icmpx(3)),
            ],
        ),
    ];
    filter.elements = vec![(
        "bridges".into(),
        vec![
            Element::new(vec![Value::IfName("podnet0".into())]),
            Element::new(vec![Value::IfName("podnet1".into())]),
        ],
    )];
    (nat, filter)
}

/// What `nft list ruleset` must print for [`podnet_tables`]: the rule text of
/// DESIGN.md §3, decompiled by nft from what the kernel holds.
pub const PODNET_LISTING: &str = r#"table ip podnet-nat {
	set subnets {
		type ipv4_addr
		flags interval
		elements = { 10.90.0.0/24 }
	}

	map ports {
		type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
		elements = { 192.0.2.1 . tcp . 8080 : 10.90.0.2 . 80 }
	}

	map service_ips {
		type ipv4_addr . inet_proto . inet_service : verdict
	}

	map eps {
		type ipv4_addr . inet_proto . inet_service . mark : ipv4_addr . inet_service
	}

	map affinity {
		type ipv4_addr . ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
		size 65535
		flags dynamic,timeout
		timeout 3h
	}

	set affinity_svcs {
		type ipv4_addr . inet_proto . inet_service
	}

	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		dnat ip to ip daddr . meta l4proto . th dport map @ports
		meta l4proto { tcp, udp } dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity
		jump services
	}

	chain output {
		type nat hook output priority -100; policy accept;
		dnat ip to ip daddr . meta l4proto . th dport map @ports
		meta l4proto { tcp, udp } dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity
		jump services
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr @subnets oifname != "podnet*" masquerade comment "masquerade leaving podnet"
	}

	chain affinity {
		type filter hook prerouting priority dstnat + 1; policy accept;
		ct state new ct status dnat ct original ip daddr . meta l4proto . ct original proto-dst @affinity_svcs update @affinity { ip saddr . ct original ip daddr . meta l4proto . ct original proto-dst : ip daddr . tcp dport }
	}

	chain services {
		ip daddr . meta l4proto . th dport vmap @service_ips
	}

	chain bucket_2 {
		dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @eps
	}
}
table inet podnet-filter {
	set bridges {
		type ifname
		elements = { "podnet0",
			     "podnet1" }
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		iifname @bridges oifname @bridges iifname != "podnet0" counter packets 0 bytes 0 reject with icmpx admin-prohibited
	}
}
"#;
