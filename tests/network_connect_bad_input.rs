//! Issue 10, acceptance 9: bad input to several networks per container and to the /etc
//! flags — one table, each refused with a one-line error naming the input, exit 2, and
//! nothing changed (containers, networks, links, the ruleset, files in the run dir).

mod common;

use common::*;

fn snapshot(sb: &podnet::testbed::Sandbox) -> String {
    let mut links = link_names(sb);
    links.sort();
    format!(
        "{}\n{}\n{links:?}\n{}\n{}",
        podnet_ok(sb, &["--format", "json", "ps", "-a"]),
        podnet_ok(sb, &["--format", "json", "network", "ls"]),
        ok("nft", sb.sh("nft list ruleset")),
        ok("etc", sb.sh("ls -AR /run/podnet/etc 2>/dev/null || true")),
    )
}

#[test]
fn bad_input_is_refused_with_one_line_and_changes_nothing() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "neta", "--subnet", "10.81.0.0/24"],
    );
    podnet_ok(
        &sb,
        &["network", "create", "netb", "--subnet", "10.82.0.0/24"],
    );
    for (name, net) in [("web", "neta"), ("solo", "neta")] {
        podnet_ok(
            &sb,
            &[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                net,
                "--",
                "sleep",
                "infinity",
            ],
        );
    }
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "hostc",
            "--network",
            "host",
            "--",
            "sleep",
            "infinity",
        ],
    );
    podnet_ok(&sb, &["network", "connect", "netb", "web"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "--network-alias", "bad name", "--", "true"],
            "--network-alias",
        ),
        (
            &["run", "--network-alias", "a/b", "--", "true"],
            "--network-alias",
        ),
        (
            &["run", "--network-alias=-x", "--", "true"],
            "--network-alias",
        ),
        (
            &["network", "connect", "netb", "solo", "--alias", "bad!"],
            "alias",
        ),
        (&["network", "connect", "netb", "web"], "already on network"),
        (&["network", "connect", "neta", "web"], "already on network"),
        (&["network", "connect", "nosuch", "solo"], "nosuch"),
        (&["network", "connect", "netb", "nosuch"], "nosuch"),
        (
            &["network", "connect", "netb", "solo", "--ip", "10.81.0.9"],
            "--ip",
        ),
        (&["network", "connect", "netb", "hostc"], "bridge networks"),
        (&["network", "connect", "netb", "web:netb"], "web:netb"),
        (&["network", "disconnect", "neta", "solo"], "only network"),
        (&["network", "disconnect", "neta", "web"], "first network"),
        (&["network", "disconnect", "netb", "solo"], "not on network"),
        (&["network", "disconnect", "netb", "nosuch"], "nosuch"),
        (
            &[
                "run",
                "--network",
                "neta",
                "--network",
                "neta",
                "--",
                "true",
            ],
            "twice",
        ),
        (
            &[
                "run",
                "--network",
                "neta",
                "--network",
                "nosuch",
                "--",
                "true",
            ],
            "nosuch",
        ),
        (
            &[
                "run",
                "--network",
                "host",
                "--network",
                "neta",
                "--",
                "true",
            ],
            "--network",
        ),
        (
            &["run", "--add-host", "gw.local", "--", "true"],
            "--add-host",
        ),
        (
            &["run", "--add-host", "gw.local:300.1.1.1", "--", "true"],
            "--add-host",
        ),
        (
            &["run", "--add-host", "bad name:10.0.0.1", "--", "true"],
            "--add-host",
        ),
        (&["run", "--dns", "nine", "--", "true"], "--dns"),
        (
            &["run", "--dns-search", "a..b", "--", "true"],
            "--dns-search",
        ),
        (&["run", "--hostname", "a b", "--", "true"], "--hostname"),
        (
            &["run", "--network", "host", "--hostname", "h", "--", "true"],
            "--hostname",
        ),
    ];
    for (args, needle) in cases {
        let before = snapshot(&sb);
        let out = sb.podnet(*args);
        assert_bad_input(&args.join(" "), &out, needle);
        assert_eq!(
            snapshot(&sb),
            before,
            "{}: something changed",
            args.join(" ")
        );
    }
}
