//! Acceptance 4 (network commands): every bad input exits 2 with one clear `podnet: ` line
//! on stderr naming the input, and changes nothing: links, addresses, routes, namespace mounts, `ps` and
//! `network ls` are the same before and after.

mod common;

use common::state::{check, check_says, setup};
use common::{ok, podnet_ok};

macro_rules! bad_input {
    ($name:ident, $needle:expr, [$($arg:expr),+ $(,)?]) => {
        #[test]
        fn $name() {
            let sb = setup();
            check(&sb, &[$($arg),+], $needle);
        }
    };
}

bad_input!(
    malformed_cidr_prefix,
    "10.1.2.0/33",
    ["network", "create", "x", "--subnet", "10.1.2.0/33"]
);

bad_input!(
    malformed_cidr_text,
    "banana",
    ["network", "create", "x", "--subnet", "banana"]
);

bad_input!(
    malformed_gateway_ip,
    "10.1.2.300",
    [
        "network",
        "create",
        "x",
        "--subnet",
        "10.1.2.0/24",
        "--gateway",
        "10.1.2.300"
    ]
);

bad_input!(
    subnet_overlaps_another_network,
    "10.210.0.128/25",
    ["network", "create", "x", "--subnet", "10.210.0.128/25"]
);

bad_input!(
    subnet_overlaps_a_host_route,
    "10.231.5.0/24",
    ["network", "create", "x", "--subnet", "10.231.5.0/24"]
);

bad_input!(
    gateway_outside_subnet,
    "10.78.0.1",
    [
        "network",
        "create",
        "x",
        "--subnet",
        "10.77.0.0/24",
        "--gateway",
        "10.78.0.1"
    ]
);

bad_input!(
    mtu_not_a_number,
    "abc",
    ["network", "create", "x", "--mtu", "abc"]
);

bad_input!(
    mtu_too_small,
    "10",
    ["network", "create", "x", "--mtu", "10"]
);

bad_input!(
    bridge_name_too_long,
    "abcdefghijklmnop",
    ["network", "create", "x", "--bridge", "abcdefghijklmnop"]
);

bad_input!(network_name_empty, "name", ["network", "create", ""]);

bad_input!(
    network_name_too_long,
    "abcdefghijklmnop",
    ["network", "create", "abcdefghijklmnop"]
);

bad_input!(
    network_name_bad_chars,
    "bad:net",
    ["network", "create", "bad:net"]
);

bad_input!(
    duplicate_network_name,
    "netA",
    ["network", "create", "netA"]
);

bad_input!(network_rm_in_use, "netA", ["network", "rm", "netA"]);

/// `--bridge NAME` names the bridge podnet creates: never a link that exists and is not a
/// bridge this store made (another container's veth, a foreign bridge, the loopback, any
/// interface), nor a name podnet generates for its own links (gc would take it for its own).
/// Each is refused whole: no network left `creating`, no link deleted or adopted.
#[test]
fn bridge_names_podnet_may_not_take() {
    let sb = setup();
    ok("foreign bridge", sb.sh("ip link add br-ext type bridge"));
    let veth = common::s(&common::inspect(&sb, "c1"), "host_veth").to_string();
    assert_eq!(veth, "pnv1", "c1's host end");
    for (bridge, why) in [
        ("lo", "the loopback"),
        ("pnv1", "another container's veth"),
        ("br-ext", "a bridge podnet did not make"),
        ("hostlan0", "a host interface"),
        ("pnv99", "podnet's veth names"),
        ("pnbr3", "podnet's bridge names"),
        ("pn-x", "podnet's bridge names"),
        ("podnet7", "podnet's default bridge names"),
        ("pn-netA", "netA's bridge"),
    ] {
        eprintln!("--bridge {bridge}: {why}");
        check(&sb, &["network", "create", "x", "--bridge", bridge], bridge);
    }
    // The foreign bridge is still there, unowned.
    let links = common::link_names(&sb);
    assert!(links.contains(&"br-ext".to_string()), "{links:?}");
}

/// A name no interface has is the bridge podnet creates, and `network rm` removes it again.
#[test]
fn bridge_of_ones_own_is_created_and_removed() {
    let sb = setup();
    podnet_ok(&sb, &["network", "create", "x", "--bridge", "br-lab"]);
    let alias = common::ip_json(&sb, &["-d", "link", "show", "br-lab"])[0]["ifalias"].clone();
    let pnv1 = common::ip_json(&sb, &["-d", "link", "show", "pnv1"])[0]["ifalias"].clone();
    assert!(
        alias.as_str().is_some_and(|a| a.starts_with("podnet:")) && alias == pnv1,
        "br-lab carries this store's mark like c1's veth: {alias} / {pnv1}"
    );
    podnet_ok(&sb, &["network", "rm", "x"]);
    assert!(!common::link_names(&sb).contains(&"br-lab".to_string()));
}

/// Address space that can never be a container network, and address text that tools read in
/// different ways (leading zeros are octal to inet_aton), is refused with the reason.
#[test]
fn reserved_ranges_and_noncanonical_forms_are_refused() {
    let sb = setup();
    let subnets: &[(&str, &str)] = &[
        ("127.0.0.0/8", "loopback"),
        ("127.77.0.0/16", "loopback"),
        ("0.0.0.0/8", "\"this network\""),
        ("0.0.0.0/0", "\"this network\""),
        ("169.254.0.0/16", "link-local"),
        ("169.254.10.0/24", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("239.1.0.0/16", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("255.255.255.0/24", "reserved"),
        ("255.255.255.252/30", "reserved"),
        ("010.1.0.0/24", "leading zero"),
        ("10.01.0.0/24", "leading zero"),
        ("10.1.0.0/024", "prefix length"),
        ("10.1/16", "four parts"),
        ("0x0a.1.0.0/24", "decimal"),
        ("10.1.0.0", "prefix length"),
    ];
    for (subnet, why) in subnets {
        check_says(
            &sb,
            &["network", "create", "x", "--subnet", subnet],
            &[subnet, why],
        );
    }
    check_says(
        &sb,
        &[
            "network",
            "create",
            "x",
            "--subnet",
            "10.1.2.0/24",
            "--gateway",
            "010.1.2.1",
        ],
        &["--gateway '010.1.2.1'", "leading zero"],
    );
    // Control: the same forms written canonically in private space are fine.
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "x",
            "--subnet",
            "10.1.0.0/24",
            "--gateway",
            "10.1.0.9",
        ],
    );
}

/// The engine names an input by its field; the CLI's message names it by the flag the user
/// typed, wherever in the engine the refusal comes from (a message built there must never
/// show the engine's marker or key instead).
#[test]
fn refusals_from_the_engine_name_the_flag_typed() {
    let sb = setup();
    for (args, says) in [
        (
            &["network", "create", "x", "--gateway", "10.1.2.1"][..],
            "--gateway needs --subnet: give the subnet",
        ),
        (
            &["network", "create", "x", "--bridge", "lo"][..],
            "--bridge lo is the loopback interface: give a new name for the bridge podnet creates, e.g. --bridge br-lab",
        ),
        (
            &["network", "create", "x", "--mtu", "20"][..],
            "--mtu 20 is out of range",
        ),
        (
            &["run", "--network", "host", "--ip", "10.1.2.3", "--", "true"][..],
            "--ip needs a bridge network: drop --ip or use --network NETWORK",
        ),
        (
            &["run", "--network", "host", "-p", "8080:80", "--", "true"][..],
            "-p needs a bridge network, not --network host: drop -p",
        ),
    ] {
        check(&sb, args, says);
    }
}
