//! Kernel tests: each runs in its own network namespace and checks what was
//! programmed against nft's independent view of the kernel state.

#[path = "nft_sandbox.rs"]
mod sandbox;

use std::time::Duration;

use podnet::kernel::nft::*;
use sandbox::{in_netns, nft_list, run};
use DataType::{InetProto, InetService, Ipv4Addr};
use Sel::*;

fn ip(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

fn apply(b: &Batch) {
    NftSocket::open().expect("open").apply(b).expect("apply");
}

/// The layout of DESIGN.md §3: published ports, services in bucket chains,
/// ClientIP affinity, masquerade and forward isolation.
fn podnet_tables() -> (TableDef, TableDef) {
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
                vec![dnat_map(
                    vec![IpSaddr, IpDaddr, L4Proto, ThDport],
                    "affinity",
                )],
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
const PODNET_LISTING: &str = r#"table ip podnet-nat {
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
		dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity
		jump services
	}

	chain output {
		type nat hook output priority -100; policy accept;
		dnat ip to ip daddr . meta l4proto . th dport map @ports
		dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @affinity
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

#[test]
fn podnet_ruleset_as_nft_sees_it() {
    let (listing, again) = in_netns(|| {
        let (nat, filter) = podnet_tables();
        let rs = Ruleset {
            tables: vec![nat, filter],
        };
        apply(&rs.replace_batch());
        let first = nft_list();
        // Re-applying replaces the tables atomically instead of failing or duplicating.
        apply(&rs.replace_batch());
        (first, nft_list())
    });
    assert_eq!(listing, PODNET_LISTING);
    assert_eq!(again, PODNET_LISTING);
}

/// The kernel's copy of each rule, printed by nft, is exactly what `render` produced.
#[test]
fn kernel_holds_the_rendered_expressions() {
    let (nat, filter) = podnet_tables();
    let debug = in_netns(move || {
        let rs = Ruleset {
            tables: vec![nat, filter],
        };
        apply(&rs.replace_batch());
        run("nft", &["--debug=netlink", "list", "ruleset"])
    });
    // The kernel always dumps lookup flags and dynset timeouts; nft prints
    // the zero values that we never sent.
    let debug = debug
        .replace(" 0x0 ]", " ]")
        .replace(" timeout 0ms ]", " ]");
    let (nat, filter) = podnet_tables();
    let mut checked = 0;
    for rule in nat.rules.iter().chain(&filter.rules) {
        let exprs = render(&rule.stmts);
        // The kernel fills in NAT flags and ranges on dump; compare the rest.
        if exprs.iter().any(|e| matches!(e, Expr::Nat { .. })) {
            continue;
        }
        let text = render_debug(&rule.stmts);
        assert!(
            debug.contains(&text),
            "rule in {} not found as:\n{text}\nin:\n{debug}",
            rule.chain
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} rules compared");
}

/// A batch with one bad message is refused whole, and the error names it.
#[test]
fn failed_batch_applies_nothing() {
    let (err, listing) = in_netns(|| {
        let t = Table::new(Family::Ip, "podnet-nat");
        let ports = Set::map(
            "ports",
            vec![Ipv4Addr, InetProto, InetService],
            vec![Ipv4Addr, InetService],
        );
        let mut b = Batch::new();
        b.add_table(&t);
        b.add_chain(&t, &Chain::regular("services"));
        b.add_set(&t, &ports);
        b.add_rule(
            &t,
            &Rule::new(
                "services",
                vec![Stmt::Verdict(Verdict::Jump("missing".into()))],
            ),
        );
        let err = NftSocket::open().unwrap().apply(&b).unwrap_err();
        (err, nft_list())
    });
    assert_eq!(listing, "", "a refused batch must leave nothing behind");
    match err {
        NftError::Rejected(errs) => {
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert_eq!(errs[0].index, 3);
            assert_eq!(errs[0].errno, libc::ENOENT);
            assert!(
                errs[0].what.contains("add rule to chain services"),
                "{}",
                errs[0]
            );
        }
        other => panic!("expected Rejected, got {other}"),
    }
}

/// A service change as DESIGN.md lays it out: one vmap element and its slot
/// elements added, later replaced, all in one transaction each.
#[test]
fn elements_add_and_delete_in_one_batch() {
    let (nat, _) = podnet_tables();
    let listing = in_netns(move || {
        let t = nat.table.clone();
        let mut sock = NftSocket::open().unwrap();
        sock.apply(
            &Ruleset {
                tables: vec![nat.clone()],
            }
            .replace_batch(),
        )
        .unwrap();
        let vip = |port| {
            vec![
                Value::Ipv4(ip("10.96.0.10")),
                Value::Proto(TCP),
                Value::Port(port),
            ]
        };
        let slot = |n| {
            let mut k = vip(80);
            k.push(Value::Mark(n));
            k
        };
        let backend = |a: &str| vec![Value::Ipv4(ip(a)), Value::Port(8080)];
        let (vmap, eps) = (nat.set("service_ips").unwrap(), nat.set("eps").unwrap());
        let aff = nat.set("affinity").unwrap();

        let mut add = Batch::new();
        add.add_elements(
            &t,
            vmap,
            &[Element::new(vip(80)).to_verdict(Verdict::Goto("bucket_2".into()))],
        );
        add.add_elements(
            &t,
            eps,
            &[
                Element::new(slot(0)).to_value(backend("10.90.0.2")),
                Element::new(slot(1)).to_value(backend("10.90.0.3")),
            ],
        );
        add.add_elements(
            &t,
            aff,
            &[Element::new(vec![
                Value::Ipv4(ip("10.90.0.9")),
                Value::Ipv4(ip("10.96.0.10")),
                Value::Proto(TCP),
                Value::Port(80),
            ])
            .to_value(backend("10.90.0.3"))
            .timeout(Duration::from_secs(600))],
        );
        sock.apply(&add).unwrap();

        // Endpoint 10.90.0.3 goes away: its slot and affinity entries change together.
        let mut change = Batch::new();
        change.delete_elements(&t, eps, &[Element::new(slot(1))]);
        change.add_elements(
            &t,
            eps,
            &[Element::new(slot(1)).to_value(backend("10.90.0.4"))],
        );
        change.flush_set(&t, "affinity");
        sock.apply(&change).unwrap();
        run("nft", &["list", "map", "ip", "podnet-nat", "eps"])
            + &run("nft", &["list", "map", "ip", "podnet-nat", "service_ips"])
            + &run("nft", &["list", "map", "ip", "podnet-nat", "affinity"])
    });
    assert!(
        listing.contains(
            "elements = { 10.96.0.10 . tcp . 80 . 0x00000000 : 10.90.0.2 . 8080,\n\t\t\t     10.96.0.10 . tcp . 80 . 0x00000001 : 10.90.0.4 . 8080 }"
        ),
        "{listing}"
    );
    assert!(
        listing.contains("elements = { 10.96.0.10 . tcp . 80 : goto bucket_2 }"),
        "{listing}"
    );
    assert!(!listing.contains("10.90.0.9"), "{listing}");
}

/// Per-element timeouts and interval ranges reach the kernel as nft reads them.
#[test]
fn timeouts_and_intervals() {
    let listing = in_netns(|| {
        let t = Table::new(Family::Inet, "podnet-t");
        let seen = Set::plain("seen", vec![Ipv4Addr]).with_timeouts();
        let nets = Set::plain("nets", vec![Ipv4Addr]).interval();
        let pairs = Set::plain("pairs", vec![Ipv4Addr, InetService]).interval();
        let mut b = Batch::new();
        b.add_table(&t);
        for s in [&seen, &nets, &pairs] {
            b.add_set(&t, s);
        }
        let e = |a: &str| Element::new(vec![Value::Ipv4(ip(a))]);
        b.add_elements(
            &t,
            &seen,
            &[
                e("10.0.0.1").timeout(Duration::from_secs(3600)),
                e("10.0.0.2"),
            ],
        );
        b.add_elements(
            &t,
            &nets,
            &[
                Element::ipv4_net("10.90.0.0/24".parse().unwrap()),
                Element::ipv4_net("10.91.0.0/16".parse().unwrap()),
                e("192.0.2.7"),
                Element::range(
                    vec![Value::Ipv4(ip("192.0.2.100"))],
                    vec![Value::Ipv4(ip("192.0.2.120"))],
                ),
            ],
        );
        b.add_elements(
            &t,
            &pairs,
            &[Element::range(
                vec![Value::Ipv4(ip("10.1.0.0")), Value::Port(1000)],
                vec![Value::Ipv4(ip("10.1.0.255")), Value::Port(2000)],
            )],
        );
        apply(&b);
        nft_list()
    });
    assert!(listing.contains("10.0.0.1 timeout 1h expires"), "{listing}");
    assert!(
        listing.contains("10.0.0.2 }") || listing.contains("10.0.0.2,"),
        "{listing}"
    );
    assert!(
        listing.contains("elements = { 10.90.0.0/24, 10.91.0.0/16,\n\t\t\t     192.0.2.7, 192.0.2.100-192.0.2.120 }"),
        "{listing}"
    );
    assert!(
        listing.contains("elements = { 10.1.0.0/24 . 1000-2000 }"),
        "{listing}"
    );
}
