//! Forwarding through the agent (issue 10, acceptance 3): the agent the CLI starts reads the
//! host's resolv.conf like any resolver on the host, and a container's question for a name
//! only the host's upstream knows is answered through it, even when the first upstream there
//! is dead. The upstream runs on the lab's `outside` machine; the host's resolv.conf is the
//! lab host's own (bind-mounted in its mount namespace: the machine's file is untouched).

mod common;

use common::agent::dig_from;
use common::dns::{black_hole, resolv_conf, upstream, BLACK_HOLE, UPSTREAM};
use common::*;

const GW: &str = "10.77.0.1";

#[test]
fn the_agent_forwards_to_the_live_upstream_behind_a_dead_one() {
    let lab = lab();
    black_hole(&lab);
    let _up = upstream(&lab, &[]);
    let host = &lab.host;
    // What the agent reads: a dead first resolver, then the live one.
    resolv_conf(host, "host-resolv.conf", &[BLACK_HOLE, UPSTREAM]);
    ok(
        "the host's resolv.conf",
        host.sh(
            "mount --bind /run/testbed/host-resolv.conf /etc/resolv.conf && cat /etc/resolv.conf",
        ),
    );
    podnet_ok(
        host,
        &["network", "create", "app", "--subnet", "10.77.0.0/24"],
    );
    podnet_ok(
        host,
        &[
            "run",
            "-d",
            "--name",
            "client",
            "--network",
            "app",
            "--",
            "sleep",
            "infinity",
        ],
    );
    // One try with dig's 2 s budget: the dead resolver may cost a slot of it, not all of it.
    let budget = ["+time=2", "+tries=1"];
    // (what, dig's flags, question)
    let cases: &[(&str, &[&str], &str)] = &[
        ("UDP", &[], "ext.example"),
        ("TCP", &["+tcp"], "ext.example"),
    ];
    for (what, flags, name) in cases {
        let mut args: Vec<&str> = budget.to_vec();
        args.extend(flags.iter().copied());
        args.extend([*name, "A"]);
        let got = dig_from(host, "client", GW, &args);
        assert_eq!(
            got.status, "NOERROR",
            "{what}: a reply came in time (no status: dig timed out): {got:?}"
        );
        assert_eq!(
            got.data(),
            vec!["203.0.113.7".to_string()],
            "{what}: {got:?}"
        );
    }
}
