//! Acceptance 4 (network commands): every bad input exits 2 with one clear `podnet: ` line
//! on stderr naming the input, and changes nothing: links, addresses, routes, namespace mounts, `ps` and
//! `network ls` are the same before and after.

mod common;

use common::state::{check, setup};

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
