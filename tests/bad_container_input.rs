//! Acceptance 4 (container commands): every bad input exits 2 with one clear `podnet: ` line
//! on stderr naming the input, and changes nothing: links, addresses, routes, namespace mounts, `ps` and
//! `network ls` are the same before and after.

mod common;

use common::state::{check, setup};
use common::*;

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
    malformed_container_ip,
    "10.210.0.999",
    [
        "run",
        "-d",
        "--name",
        "z",
        "--network",
        "netA",
        "--ip",
        "10.210.0.999",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    ip_outside_subnet,
    "10.211.0.5",
    [
        "run",
        "-d",
        "--name",
        "z",
        "--network",
        "netA",
        "--ip",
        "10.211.0.5",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    ip_already_taken,
    "10.210.0.10",
    [
        "run",
        "-d",
        "--name",
        "z",
        "--network",
        "netA",
        "--ip",
        "10.210.0.10",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    ip_is_the_gateway,
    "10.210.0.1",
    [
        "run",
        "-d",
        "--name",
        "z",
        "--network",
        "netA",
        "--ip",
        "10.210.0.1",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    container_name_empty,
    "name",
    [
        "run",
        "-d",
        "--name",
        "",
        "--network",
        "netA",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    container_name_too_long,
    "abcdefghijklmnop",
    [
        "run",
        "-d",
        "--name",
        "abcdefghijklmnop",
        "--network",
        "netA",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    container_name_bad_chars,
    "bad/name",
    [
        "run",
        "-d",
        "--name",
        "bad/name",
        "--network",
        "netA",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    container_name_with_space,
    "a b",
    [
        "run",
        "-d",
        "--name",
        "a b",
        "--network",
        "netA",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    unknown_network,
    "nosuch",
    [
        "run",
        "-d",
        "--name",
        "z",
        "--network",
        "nosuch",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    join_missing_container,
    "ghost",
    [
        "run",
        "-d",
        "--name",
        "z",
        "--network",
        "container:ghost",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    duplicate_container_name,
    "c1",
    [
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "netA",
        "--",
        "sleep",
        "9"
    ]
);

bad_input!(
    attach_netns_not_a_namespace,
    "/run/testbed/plainfile",
    [
        "attach",
        "--netns",
        "/run/testbed/plainfile",
        "--name",
        "z",
        "--network",
        "netA"
    ]
);

bad_input!(
    attach_netns_missing,
    "/run/testbed/nope",
    [
        "attach",
        "--netns",
        "/run/testbed/nope",
        "--name",
        "z",
        "--network",
        "netA"
    ]
);

bad_input!(
    attach_netns_is_a_directory,
    "/run/testbed",
    [
        "attach",
        "--netns",
        "/run/testbed",
        "--name",
        "z",
        "--network",
        "netA"
    ]
);

#[test]
fn join_container_that_is_not_running() {
    let sb = setup();
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "dead",
            "--network",
            "netA",
            "--",
            "sleep",
            "infinity",
        ],
    );
    podnet_ok(&sb, &["stop", "dead"]);
    let c = inspect(&sb, "dead");
    assert_eq!(s(&c, "status"), "exited", "after stop: {c}");
    check(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "z",
            "--network",
            "container:dead",
            "--",
            "sleep",
            "9",
        ],
        "dead",
    );
}

// Without --network: the default network must not be made by a command that is refused.
bad_input!(
    default_network_bad_ip_makes_nothing,
    "10.0.0.300",
    [
        "run",
        "-d",
        "--name",
        "z",
        "--ip",
        "10.0.0.300",
        "--",
        "sleep",
        "9"
    ]
);
bad_input!(
    default_network_duplicate_name_makes_nothing,
    "c1",
    ["run", "-d", "--name", "c1", "--", "sleep", "9"]
);
bad_input!(
    default_network_bad_name_makes_nothing,
    "no/slash",
    ["run", "-d", "--name", "no/slash", "--", "sleep", "9"]
);
bad_input!(
    foreground_run_unknown_network,
    "nosuch",
    ["run", "--network", "nosuch", "--", "true"]
);
bad_input!(
    foreground_run_bad_name,
    "bad/name",
    ["run", "--name", "bad/name", "--", "true"]
);
bad_input!(
    exec_unknown_container,
    "ghost",
    ["exec", "ghost", "--", "true"]
);
bad_input!(detach_unknown_endpoint, "ghost", ["detach", "ghost"]);

/// `--log-max-size` and `--log-max-files` out of bounds (issue 7, item 6): bad input naming
/// the value, nothing made.
#[test]
fn log_limits_out_of_bounds() {
    let sb = setup();
    for (flag, value) in [
        ("--log-max-size", "10x"),
        ("--log-max-size", "1k"),
        ("--log-max-size", "0.5m"),
        ("--log-max-files", "0"),
        ("--log-max-files", "101"),
        ("--log-max-files", "two"),
    ] {
        check(
            &sb,
            &["run", "-d", "--name", "z", flag, value, "--", "sleep", "9"],
            value,
        );
    }
}

/// `attach --netns` of a namespace podnet must not wire: the host's own (it would get `eth0`
/// and a default route, and keep them after `detach`), whatever path names it, and any
/// namespace this store already manages under another name (a container's, or one attached
/// before). Refused by namespace identity, before anything is made.
#[test]
fn attach_netns_of_the_host_or_a_managed_namespace() {
    let sb = setup();
    ok(
        "a namespace of our own",
        sb.sh("mkdir -p /run/netns && ip netns add outside"),
    );
    podnet_ok(
        &sb,
        &[
            "attach",
            "--netns",
            "/run/netns/outside",
            "--name",
            "o1",
            "--network",
            "netA",
        ],
    );
    let c1 = inspect(&sb, "c1");
    let pid = c1["pid"].as_i64().expect("c1 has a pid");
    let c1_by_pid = format!("/proc/{pid}/ns/net");
    let c1_mount = format!("{NETNS_DIR}/c1");
    for path in [
        "/proc/1/ns/net",
        "/proc/self/ns/net",
        c1_mount.as_str(),
        c1_by_pid.as_str(),
        "/run/netns/outside",
    ] {
        check(
            &sb,
            &[
                "attach",
                "--netns",
                path,
                "--name",
                "z",
                "--network",
                "netA",
            ],
            path,
        );
    }
    // The host has no eth0 and kept its routes (check compared them), and o1 still works.
    assert!(!link_names(&sb).contains(&"eth0".to_string()));
    podnet_ok(&sb, &["detach", "o1"]);
}
