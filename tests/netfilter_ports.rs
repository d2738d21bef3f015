//! `-p` and `--expose` parsing: every accepted form and every error (no kernel).

use podnet::model::{
    parse_expose, parse_publish, publish_exposed, Error, HostPort, PortRequest, Proto,
};

fn r(ip: Option<&str>, host: HostPort, cont: u16, proto: Proto) -> PortRequest {
    PortRequest {
        host_ip: ip.map(|s| s.parse().unwrap()),
        host,
        container_port: cont,
        proto,
    }
}

fn m(ip: Option<&str>, host: u16, cont: u16, proto: Proto) -> PortRequest {
    r(ip, HostPort::Fixed(host), cont, proto)
}

#[test]
fn accepted_forms() {
    use HostPort::{Any, FirstFree};
    use Proto::*;
    let cases: Vec<(&str, Vec<PortRequest>)> = vec![
        ("8080:80", vec![m(None, 8080, 80, Tcp)]),
        ("8080:80/tcp", vec![m(None, 8080, 80, Tcp)]),
        ("53:53/udp", vec![m(None, 53, 53, Udp)]),
        ("9:9/SCTP", vec![m(None, 9, 9, Sctp)]),
        (
            "127.0.0.1:8080:80",
            vec![m(Some("127.0.0.1"), 8080, 80, Tcp)],
        ),
        (
            "192.0.2.7:1:65535/udp",
            vec![m(Some("192.0.2.7"), 1, 65535, Udp)],
        ),
        // 0.0.0.0 is every IPv4 address: kept, so that a dual-stack container's port stays
        // IPv4-only (on an IPv4-only network it is recorded as no address, as before).
        ("0.0.0.0:8080:80", vec![m(Some("0.0.0.0"), 8080, 80, Tcp)]),
        (
            "8000-8002:9000-9002/udp",
            vec![
                m(None, 8000, 9000, Udp),
                m(None, 8001, 9001, Udp),
                m(None, 8002, 9002, Udp),
            ],
        ),
        ("7-7:8-8", vec![m(None, 7, 8, Tcp)]),
        // No host port: a free one per container port, as Docker.
        ("80", vec![r(None, Any, 80, Tcp)]),
        ("53/udp", vec![r(None, Any, 53, Udp)]),
        (":80", vec![r(None, Any, 80, Tcp)]),
        ("127.0.0.1::80", vec![r(Some("127.0.0.1"), Any, 80, Tcp)]),
        ("0.0.0.0::80/udp", vec![r(Some("0.0.0.0"), Any, 80, Udp)]),
        (
            "8000-8001",
            vec![r(None, Any, 8000, Tcp), r(None, Any, 8001, Tcp)],
        ),
        // A host range for one container port: the first free one of the range.
        (
            "8000-8010:80",
            vec![r(None, FirstFree(8000, 8010), 80, Tcp)],
        ),
        // Link-local and loopback addresses are the host's own.
        (
            "169.254.1.1:80:80",
            vec![m(Some("169.254.1.1"), 80, 80, Tcp)],
        ),
        // IPv6 host addresses go in brackets: IPv6 only.
        ("[::1]:8080:80", vec![m(Some("::1"), 8080, 80, Tcp)]),
        ("[::]:8080:80/udp", vec![m(Some("::"), 8080, 80, Udp)]),
        (
            "[2001:db8::7]:8000-8001:80-81",
            vec![
                m(Some("2001:db8::7"), 8000, 80, Tcp),
                m(Some("2001:db8::7"), 8001, 81, Tcp),
            ],
        ),
        ("[::1]::80", vec![r(Some("::1"), Any, 80, Tcp)]),
        (
            "[fd00:90::1]:8000-8010:80/sctp",
            vec![r(Some("fd00:90::1"), FirstFree(8000, 8010), 80, Sctp)],
        ),
    ];
    for (spec, want) in cases {
        let got = parse_publish(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(got, want, "{spec}");
    }
}

#[test]
fn every_error_is_input_and_names_the_spec() {
    let cases = [
        ("", "expected [[HOSTIP:][HOSTPORT[-END]]:]CONTAINERPORT"),
        (
            "8080:80 ",
            "expected [[HOSTIP:][HOSTPORT[-END]]:]CONTAINERPORT",
        ),
        ("a:80", "host port \"a\" is not a number"),
        ("8080:", "container port \"\" is not a number"),
        ("1.2.3.4::", "container port \"\" is not a number"),
        ("0:80", "host port 0 is out of range; use 1-65535"),
        ("8080:0", "container port 0 is out of range"),
        ("65536:80", "host port 65536 is out of range"),
        (
            "8080:99999999999",
            "container port 99999999999 is out of range",
        ),
        ("+80:80", "host port \"+80\" is not a number"),
        (
            "8000-8002:80-81",
            "host range has 3 ports but container range has 2",
        ),
        (
            "80:8000-8001",
            "host range has 1 ports but container range has 2",
        ),
        (
            "8002-8000:80-82",
            "host range 8002-8000 is reversed; write 8000-8002",
        ),
        ("80-82:82-80", "container range 82-80 is reversed"),
        ("8000-:80", "host port \"\" is not a number"),
        (
            "8080:80/icmp",
            "unknown protocol \"icmp\"; use tcp, udp or sctp",
        ),
        ("8080:80/", "unknown protocol \"\""),
        (
            "1.2.3:8080:80",
            "host address \"1.2.3\" is not an IPv4 address",
        ),
        (
            "localhost:8080:80",
            "host address \"localhost\" is not an IPv4 address",
        ),
        (
            "010.1.2.3:8080:80",
            "part \"010\" has a leading zero, which some tools read as octal",
        ),
        ("224.0.0.1:8080:80", "host address 224.0.0.1 is multicast"),
        (
            "255.255.255.255:8080:80",
            "host address 255.255.255.255 is reserved",
        ),
        (
            "0.1.2.3:8080:80",
            "host address 0.1.2.3 is \"this network\"",
        ),
        (
            "::1:8080:80",
            "an IPv6 host address goes in brackets, like [::1]:8080:80",
        ),
        (
            "fe80::1:8080:80/udp",
            "an IPv6 host address goes in brackets",
        ),
        ("[::1:8080:80", "IPv6 host address has no closing ']'"),
        ("[::1]8080:80", "expected ':' after [::1]"),
        (
            "[::1]:80",
            "expected [[HOSTIP:][HOSTPORT[-END]]:]CONTAINERPORT",
        ),
        (
            "[::1]:1:2:3",
            "expected [[HOSTIP:][HOSTPORT[-END]]:]CONTAINERPORT",
        ),
        ("[]:8080:80", "host address [] is not an IPv6 address"),
        (
            "[1.2.3.4]:8080:80",
            "host address [1.2.3.4] is not an IPv6 address: IPv4 addresses go without brackets",
        ),
        ("[fd00::1%eth0]:8080:80", "a zone (%IFACE) is not supported"),
        ("[fd00::g]:8080:80", "write it like [::1] or [2001:db8::1]"),
        ("[ff02::1]:8080:80", "host address ff02::1 is multicast"),
        ("[fe80::1]:8080:80", "host address fe80::1 is link-local"),
        (
            "[::ffff:10.0.0.1]:8080:80",
            "IPv4-mapped IPv6 address: write 10.0.0.1 without brackets",
        ),
        ("[::1]:0:80", "host port 0 is out of range"),
        ("[::1]:8080:80/icmp", "unknown protocol \"icmp\""),
    ];
    for (spec, want) in cases {
        match parse_publish(spec) {
            Err(Error::Input { msg, .. }) => {
                assert!(msg.contains(want), "{spec:?}: {msg:?} lacks {want:?}");
                assert!(
                    msg.starts_with(&format!("invalid -p {spec:?}: ")),
                    "{spec:?}: {msg:?} does not name the spec"
                );
                assert!(!msg.contains('\n'), "{spec:?}: {msg:?} is not one line");
            }
            other => panic!("{spec:?}: expected an input error, got {other:?}"),
        }
    }
}

#[test]
fn proto_display_and_number() {
    assert_eq!(
        [Proto::Tcp, Proto::Udp, Proto::Sctp].map(|p| (p.to_string(), p.number())),
        [
            ("tcp".to_string(), 6),
            ("udp".to_string(), 17),
            ("sctp".to_string(), 132)
        ]
    );
    let all = parse_publish("127.0.0.1:8080:80/udp").unwrap();
    assert_eq!(all[0].fixed().unwrap().to_string(), "127.0.0.1:8080:80/udp");
    let v6 = parse_publish("[::1]:8080:80").unwrap();
    assert_eq!(v6[0].fixed().unwrap().to_string(), "[::1]:8080:80/tcp");
}

/// Which mappings catch the same packets: no address meets every one; `0.0.0.0` and `::`
/// meet their own family only.
#[test]
fn overlapping_host_addresses() {
    let m = |spec: &str| parse_publish(spec).unwrap()[0].fixed().unwrap();
    let cases = [
        ("8080:80", "127.0.0.1:8080:81", true),
        ("8080:80", "[::1]:8080:81", true),
        ("0.0.0.0:8080:80", "127.0.0.1:8080:81", true),
        ("0.0.0.0:8080:80", "[::1]:8080:81", false),
        ("0.0.0.0:8080:80", "[::]:8080:81", false),
        ("[::]:8080:80", "[::1]:8080:81", true),
        ("[::1]:8080:80", "[::1]:8080:81", true),
        ("[::1]:8080:80", "127.0.0.1:8080:81", false),
        ("[::1]:8080:80", "[::1]:8081:80", false),
        ("[::1]:8080:80", "[::1]:8080:80/udp", false),
    ];
    for (a, b, want) in cases {
        assert_eq!(m(a).overlaps(&m(b)), want, "{a} vs {b}");
        assert_eq!(m(b).overlaps(&m(a)), want, "{b} vs {a}");
    }
}

#[test]
fn expose_and_publish_all() {
    use HostPort::Any;
    use Proto::*;
    let exposed: Vec<PortRequest> = ["80", "53/udp", "9000-9001/tcp", "80"]
        .iter()
        .flat_map(|e| parse_expose(e).unwrap_or_else(|err| panic!("{e}: {err}")))
        .collect();
    // -p 8080:80 already publishes 80/tcp; the rest go on free host ports, each once.
    let all = publish_exposed(parse_publish("8080:80").unwrap(), &exposed);
    assert_eq!(
        all,
        vec![
            m(None, 8080, 80, Tcp),
            r(None, Any, 53, Udp),
            r(None, Any, 9000, Tcp),
            r(None, Any, 9001, Tcp),
        ]
    );
    for (bad, why) in [
        ("8080:80", "use -p HOSTPORT:PORT"),
        ("0", "out of range"),
        ("http", "not a number"),
        ("80/icmp", "unknown protocol"),
    ] {
        let e = parse_expose(bad).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("invalid --expose {bad:?}: ")) && e.contains(why),
            "{bad}: {e}"
        );
    }
}
