use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rec(owner: &str, names: &[&str], addrs: &[&str]) -> NameRecord {
    NameRecord {
        owner: owner.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        addrs: addrs.iter().map(|a| ip(a)).collect(),
    }
}

/// Network a (10.89.0.0/24, dual-stack): c1, c2 (alias db), c4, service web → 10.96.0.10.
/// Network b (10.89.1.0/24): c3, c4.
fn names() -> Names {
    Names {
        zone: Some("dns.podnet".into()),
        networks: vec![
            NetworkNames {
                name: "a".into(),
                gateways: vec![ip("10.89.0.1"), ip("fd00:a::1")],
                subnets: vec!["10.89.0.0/24".parse().unwrap()],
                records: vec![
                    rec("id1", &["c1"], &["10.89.0.2", "fd00:a::2"]),
                    rec("id2", &["c2", "DB"], &["10.89.0.3"]),
                    rec("id4", &["c4"], &["10.89.0.4"]),
                    rec("", &["web"], &["10.96.0.10"]),
                ],
            },
            NetworkNames {
                name: "b".into(),
                gateways: vec![ip("10.89.1.1")],
                subnets: vec!["10.89.1.0/24".parse().unwrap()],
                records: vec![
                    rec("id3", &["c3"], &["10.89.1.2"]),
                    rec("id4", &["c4"], &["10.89.1.4"]),
                ],
            },
        ],
    }
}

#[test]
fn lookups_are_scoped_by_the_asker() {
    let t = Table::build(&names());
    let (ga, gb) = (ip("10.89.0.1"), ip("10.89.1.1"));
    let addrs = |v: &[&str]| Lookup::Addrs(v.iter().map(|a| ip(a)).collect());
    // (question, kind, arrived at, from) → answer
    let cases: Vec<(&str, Kind, IpAddr, &str, Lookup)> = vec![
        ("c2", Kind::A, ga, "10.89.0.2", addrs(&["10.89.0.3"])),
        ("db.", Kind::A, ga, "10.89.0.2", addrs(&["10.89.0.3"])),
        (
            "Db.Dns.Podnet.",
            Kind::A,
            ga,
            "10.89.0.2",
            addrs(&["10.89.0.3"]),
        ),
        ("c1", Kind::Aaaa, ga, "10.89.0.3", addrs(&["fd00:a::2"])),
        ("c2", Kind::Aaaa, ga, "10.89.0.2", Lookup::NoData),
        ("c2", Kind::Other, ga, "10.89.0.2", Lookup::NoData),
        ("web", Kind::A, ga, "10.89.0.2", addrs(&["10.96.0.10"])),
        // c3 is on b only: not visible from a, and a's names not from b.
        ("c3", Kind::A, ga, "10.89.0.2", Lookup::NxDomain),
        ("c1", Kind::A, gb, "10.89.1.2", Lookup::NxDomain),
        // c4 is on both: seen from b with its b address only; it sees both networks.
        ("c4", Kind::A, gb, "10.89.1.2", addrs(&["10.89.1.4"])),
        ("c1", Kind::A, gb, "10.89.1.4", addrs(&["10.89.0.2"])),
        ("c3", Kind::A, ga, "10.89.0.4", addrs(&["10.89.1.2"])),
        // Unknown names: under the zone or plain NXDOMAIN, others forwarded.
        (
            "nope.dns.podnet",
            Kind::A,
            ga,
            "10.89.0.2",
            Lookup::NxDomain,
        ),
        ("nobody", Kind::A, ga, "10.89.0.2", Lookup::NxDomain),
        ("example.com", Kind::A, ga, "10.89.0.2", Lookup::Forward),
        // An address that is no gateway sees nothing of ours.
        (
            "c2",
            Kind::A,
            ip("198.18.0.1"),
            "10.89.0.2",
            Lookup::NxDomain,
        ),
    ];
    for (name, kind, local, src, want) in cases {
        assert_eq!(
            t.lookup(name, kind, local, ip(src)),
            want,
            "{name} {kind:?} at {local} from {src}"
        );
    }
}

#[test]
fn reverse_lookups() {
    let t = Table::build(&names());
    let ga = ip("10.89.0.1");
    let from = ip("10.89.0.2");
    let ptr = |v: &[&str]| Lookup::Ptr(v.iter().map(|s| s.to_string()).collect());
    let cases = [
        ("3.0.89.10.in-addr.arpa", ptr(&["c2.dns.podnet."])),
        ("2.1.89.10.in-addr.arpa.", Lookup::NxDomain), // c3: other network
        ("99.0.89.10.in-addr.arpa", Lookup::NxDomain), // our subnet, nobody there
        ("1.1.168.192.in-addr.arpa", Lookup::Forward), // not ours
        (
            "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.a.0.0.0.0.0.d.f.ip6.arpa",
            ptr(&["c1.dns.podnet."]),
        ),
    ];
    for (name, want) in cases {
        assert_eq!(t.lookup(name, Kind::Ptr, ga, from), want, "{name}");
    }
}

#[test]
fn reverse_names_parse_only_when_canonical() {
    let cases = [
        ("4.3.2.1.in-addr.arpa", Some("1.2.3.4")),
        ("04.3.2.1.in-addr.arpa", None),
        ("3.2.1.in-addr.arpa", None),
        ("256.3.2.1.in-addr.arpa", None),
        ("x.3.2.1.in-addr.arpa", None),
        (
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
            Some("::1"),
        ),
        ("1.0.ip6.arpa", None),
        (
            "10.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
            None,
        ),
    ];
    for (name, want) in cases {
        assert_eq!(parse_reverse(name), want.map(ip), "{name}");
    }
}
