//! Issue 9, acceptance 7 (IPv6 part): bad IPv6 input — malformed, multicast, link-local,
//! loopback, unspecified, IPv4-mapped, overlapping a network or a host route, a prefix longer
//! than /120, an address outside its subnet or taken, IPv6 on an IPv4-only network, an
//! IPv6-only network — gets a one-line error naming the input (exit 2) and changes nothing:
//! links, addresses, routes, mounts, `ps`, `network ls`, the host's IPv6 settings and its
//! nftables ruleset are as before.

mod common;

use common::state::{setup, snapshot};
use common::v6::ipv6_conf;
use common::*;
use podnet::testbed::Sandbox;
use std::time::Duration;

/// The bad-input setup (netA, c1, a host LAN) plus a dual-stack network `net6`
/// (fd00:90::/64) with `c6` at fd00:90::10, and a host IPv6 route fd00:231::/64.
fn setup6() -> Sandbox {
    let sb = setup();
    ok(
        "host IPv6 route",
        sb.sh("ip -6 addr add fd00:231::1/64 dev hostlan0 nodad"),
    );
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "net6",
            "--subnet",
            "10.211.0.0/24",
            "--subnet",
            "fd00:90::/64",
        ],
    );
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "c6",
            "--network",
            "net6",
            "--ip6",
            "fd00:90::10",
            "--",
            "sleep",
            "infinity",
        ],
    );
    // net6's bridge gets its link-local once c6 gives it a carrier: wait for it (and the end
    // of every DAD) so that it does not appear between two snapshots.
    sb.wait_until("IPv6 settled", Duration::from_secs(30), || {
        let tentative = as_list(ip_json(&sb, &["-6", "addr", "show", "tentative"]));
        let ll = ip_json(
            &sb,
            &["-6", "addr", "show", "dev", "pn-net6", "scope", "link"],
        );
        tentative.is_empty()
            && as_list(ll)
                .iter()
                .any(|l| !as_list(l["addr_info"].clone()).is_empty())
    })
    .unwrap_or_else(|e| panic!("{e}: {}", ip_json(&sb, &["-6", "addr"])));
    sb
}

fn ruleset(sb: &Sandbox) -> String {
    ok("nft list ruleset", sb.sh("nft list ruleset"))
}

#[test]
fn bad_ipv6_input_is_refused_in_one_line_and_changes_nothing() {
    let sb = setup6();
    let create = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["network", "create", "x", "--ipv6"];
        v.extend_from_slice(extra);
        v
    };
    let run = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["run", "-d", "--name", "y"];
        v.extend_from_slice(extra);
        v.extend_from_slice(&["--", "sleep", "infinity"]);
        v
    };
    let table: Vec<(Vec<&str>, &[&str])> = vec![
        (
            create(&["--subnet", "fd00:91::/129"]),
            &["--subnet 'fd00:91::/129'", "0 to 128"],
        ),
        (
            create(&["--subnet", "fd00:9g::/64"]),
            &["--subnet 'fd00:9g::/64'", "hexadecimal"],
        ),
        (
            create(&["--subnet", "fd00:91:::/64"]),
            &["fd00:91:::/64", "hexadecimal"],
        ),
        (
            create(&["--subnet", "fd00:91::"]),
            &["fd00:91::", "prefix length"],
        ),
        (
            create(&["--subnet", "[fd00:91::]/64"]),
            &["[fd00:91::]/64", "brackets"],
        ),
        (
            create(&["--subnet", "ff02::/64"]),
            &["ff02::/64", "multicast"],
        ),
        (
            create(&["--subnet", "fe80::/64"]),
            &["fe80::/64", "link-local"],
        ),
        (create(&["--subnet", "::1/128"]), &["::1/128", "loopback"]),
        (create(&["--subnet", "::/0"]), &["::/0", "unspecified"]),
        (
            create(&["--subnet", "::ffff:0:0/96"]),
            &["--subnet ::ffff:", "IPv4-mapped"],
        ),
        (
            create(&["--subnet", "fd00:91::/121"]),
            &["fd00:91::/121", "/120 or shorter"],
        ),
        (
            create(&["--subnet", "fd00:91::1/64"]),
            &["fd00:91::1/64", "host bits", "fd00:91::/64"],
        ),
        (
            create(&["--subnet", "fd00:90::/56"]),
            &["fd00:90::/56", "overlaps network 'net6'"],
        ),
        (
            create(&["--subnet", "fd00:90::8000/120"]),
            &["fd00:90::8000/120", "net6"],
        ),
        (
            create(&["--subnet", "fd00:231::/64"]),
            &["fd00:231::/64", "host route"],
        ),
        (
            create(&["--subnet", "fd00:91::/64", "--subnet", "fd00:92::/64"]),
            &["fd00:92::/64", "at most one IPv6 subnet"],
        ),
        (
            create(&["--ipv6-pool", "fe80::/48"]),
            &["--ipv6-pool", "link-local"],
        ),
        (
            vec!["network", "create", "x", "--ipv6-nat=false"],
            &["--ipv6", "needs IPv6"],
        ),
        (
            vec!["network", "create", "x", "--ipv6", "--ipv4=false"],
            &["IPv6-only", "always has IPv4"],
        ),
        (
            run(&["--network", "net6", "--ip6", "fd00:91::5"]),
            &["--ip6 fd00:91::5", "fd00:90::/64"],
        ),
        (
            run(&["--network", "net6", "--ip6", "fd00:90::1"]),
            &["--ip6 fd00:90::1", "gateway"],
        ),
        (
            run(&["--network", "net6", "--ip6", "fd00:90::10"]),
            &["--ip6 fd00:90::10", "taken"],
        ),
        (
            run(&["--network", "net6", "--ip6", "fd00:90::"]),
            &["--ip6 fd00:90::", "usable"],
        ),
        (
            run(&["--network", "net6", "--ip6", "fe80::5"]),
            &["--ip6 fe80::5", "link-local"],
        ),
        (
            run(&["--network", "net6", "--ip6", "ff02::5"]),
            &["--ip6 ff02::5", "multicast"],
        ),
        (
            run(&["--network", "net6", "--ip6", "10.211.0.5"]),
            &["--ip6 '10.211.0.5'", "colons"],
        ),
        (
            run(&["--network", "netA", "--ip6", "fd00:90::5"]),
            &["--ip6", "IPv4-only"],
        ),
        // The default network does not exist yet: refused before it is made.
        (
            run(&["--ip6", "fd00:90::5"]),
            &["--ip6", "podnet0", "IPv4-only"],
        ),
        (
            run(&["--network", "host", "--ip6", "fd00:90::5"]),
            &["--ip6", "bridge network"],
        ),
    ];
    for (args, says) in table {
        let what = format!("podnet {}", args.join(" "));
        let before = snapshot(&sb);
        let conf = ipv6_conf(&sb);
        let rules = ruleset(&sb);
        let out = sb.podnet(&args);
        for needle in says {
            assert_bad_input(&what, &out, needle);
        }
        let after = snapshot(&sb);
        for key in ["links", "addrs", "routes", "netns", "ps", "networks"] {
            assert_eq!(before[key], after[key], "{what} changed {key}");
        }
        assert_eq!(conf, ipv6_conf(&sb), "{what} changed IPv6 settings");
        assert_eq!(rules, ruleset(&sb), "{what} changed the ruleset");
    }
    // Control: the same network written well is made.
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "x",
            "--ipv6",
            "--subnet",
            "fd00:91::/64",
        ],
    );
}
