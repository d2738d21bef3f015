//! Kernel tests: each runs in its own network namespace and checks what was
//! programmed against nft's independent view of the kernel state.

#[path = "nft_layout.rs"]
mod layout;
use std::time::Duration;

use layout::{podnet_tables, PODNET_LISTING};
use podnet::kernel::nft::*;
use podnet::testbed::thread_netns::{in_netns, nft_list, run};
use DataType::{InetProto, InetService, Ipv4Addr};

fn ip(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

fn apply(b: &Batch) {
    NftSocket::open().expect("open").apply(b).expect("apply");
}

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
