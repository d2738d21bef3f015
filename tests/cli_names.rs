//! Docker's listing and multi-name habits: `ps` shows running containers (and attached ones,
//! and those being made or removed) and `-a` adds exited ones; `-q` prints names; `--filter`
//! by name, network, label and status; `stop`, `rm` and `inspect` take several names and
//! report each one that fails.

mod common;

use common::*;
use podnet::testbed::Sandbox;
use std::time::Duration;

/// Names `podnet ps ARGS... -q` prints, one per line, sorted.
fn ps_q(sb: &Sandbox, args: &[&str]) -> Vec<String> {
    let mut all = vec!["ps", "-q"];
    all.extend(args);
    let mut names: Vec<String> = podnet_ok(sb, &all).lines().map(String::from).collect();
    names.sort();
    names
}

fn idle(sb: &Sandbox, name: &str, extra: &[&str]) {
    let mut a = vec!["run", "-d", "--name", name];
    a.extend(extra);
    a.extend(["--", "sleep", "infinity"]);
    podnet_ok(sb, &a);
}

fn wait_status(sb: &Sandbox, name: &str, status: &str) {
    sb.wait_until(&format!("{name} {status}"), Duration::from_secs(30), || {
        s(&inspect(sb, name), "status") == status
    })
    .unwrap_or_else(|e| panic!("{e}: {}", inspect(sb, name)));
}

/// Whether process `pid` exists in the sandbox (`kill -0`, an independent view).
fn alive(sb: &Sandbox, pid: u64) -> bool {
    sb.sh(&format!("kill -0 {pid}")).status.success()
}

#[test]
fn ps_lists_running_by_default_and_filters_like_docker() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "lab", "--subnet", "10.90.0.0/24"],
    );
    idle(&sb, "web1", &["--network", "lab", "-l", "app=web"]);
    idle(&sb, "web2", &["-l", "app=web", "-l", "tier=front"]);
    idle(&sb, "db", &["--network", "lab", "-l", "app=db"]);
    idle(&sb, "h", &["--network", "host"]);
    ok("ip netns add spare", sb.sh("ip netns add spare"));
    podnet_ok(
        &sb,
        &[
            "attach",
            "--netns",
            "/run/netns/spare",
            "--name",
            "att",
            "--network",
            "lab",
        ],
    );
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "brief",
            "--network",
            "lab",
            "--",
            "true",
        ],
    );
    wait_status(&sb, "brief", "exited");

    let v = |names: &[&str]| -> Vec<String> { names.iter().map(|n| n.to_string()).collect() };
    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (vec![], v(&["att", "db", "h", "web1", "web2"])),
        (vec!["-a"], v(&["att", "brief", "db", "h", "web1", "web2"])),
        (vec!["--filter", "status=exited"], v(&["brief"])),
        (
            vec!["-a", "--filter", "status=running"],
            v(&["db", "h", "web1", "web2"]),
        ),
        (vec!["--filter", "status=attached"], v(&["att"])),
        (vec!["--filter", "label=app=web"], v(&["web1", "web2"])),
        (vec!["--filter", "label=tier"], v(&["web2"])),
        (
            vec!["--filter", "label=app", "--filter", "label=tier=front"],
            v(&["web2"]),
        ),
        (vec!["--filter", "network=lab"], v(&["att", "db", "web1"])),
        (
            vec!["-a", "--filter", "network=lab"],
            v(&["att", "brief", "db", "web1"]),
        ),
        (vec!["--filter", "network=bridge"], v(&["web2"])),
        (vec!["--filter", "network=host"], v(&["h"])),
        (vec!["--filter", "name=web"], v(&["web1", "web2"])),
        (
            vec!["--filter", "name=web1", "--filter", "name=db"],
            v(&["db", "web1"]),
        ),
        (
            vec!["--filter", "name=web", "--filter", "network=lab"],
            v(&["web1"]),
        ),
        (vec!["--filter", "name=nosuch"], v(&[])),
    ];
    for (args, want) in cases {
        assert_eq!(ps_q(&sb, &args), want, "ps -q {args:?}");
        // The JSON listing shows the same containers.
        let mut json_args = vec!["ps"];
        json_args.extend(&args);
        let mut names: Vec<String> = as_list(podnet_json(&sb, &json_args))
            .iter()
            .map(|r| s(r, "name").to_string())
            .collect();
        names.sort();
        assert_eq!(names, want, "ps {args:?} --format json");
    }
    let table = podnet_ok(&sb, &["ps"]);
    assert!(
        table.starts_with("NAME") && !table.contains("brief"),
        "{table}"
    );
}

#[test]
fn stop_rm_and_inspect_take_several_names() {
    let sb = sandbox();
    for n in ["a", "b", "c"] {
        idle(&sb, n, &[]);
    }
    let pid = |n: &str| inspect(&sb, n)["pid"].as_u64().unwrap();
    let (pa, pb) = (pid("a"), pid("b"));

    // inspect: an array for several names, in the order given; a table row each.
    let both = as_list(podnet_json(&sb, &["inspect", "b", "a"]));
    let names: Vec<&str> = both.iter().map(|r| s(r, "name")).collect();
    assert_eq!(names, ["b", "a"]);
    let table = podnet_ok(&sb, &["inspect", "a", "b"]);
    assert_eq!(table.lines().count(), 3, "header and two rows:\n{table}");
    let out = sb.podnet(["inspect", "a", "ghost", "--format", "json"]);
    assert!(!out.status.success());
    assert!(podnet::testbed::stderr(&out).contains("'ghost'"));
    let shown = as_list(parse("inspect a ghost", &podnet::testbed::stdout(&out)));
    assert_eq!(shown.len(), 1, "the container that exists is still shown");

    // stop: both stopped (their processes are gone), the missing name reported.
    let out = sb.podnet(["stop", "a", "ghost", "b"]);
    assert!(!out.status.success(), "{}", podnet::testbed::describe(&out));
    let err = podnet::testbed::stderr(&out);
    assert!(err.contains("'ghost'") && err.lines().count() == 1, "{err}");
    for (n, p) in [("a", pa), ("b", pb)] {
        assert_eq!(s(&inspect(&sb, n), "status"), "exited", "{n}");
        assert!(!alive(&sb, p), "{n}'s process {p} still runs");
    }
    assert_eq!(s(&inspect(&sb, "c"), "status"), "running");

    // rm: both removed, the missing one reported.
    let out = sb.podnet(["rm", "a", "nope", "b"]);
    assert!(!out.status.success());
    assert!(podnet::testbed::stderr(&out).contains("'nope'"));
    let left: Vec<String> = ps(&sb).iter().map(|r| s(r, "name").to_string()).collect();
    assert_eq!(left, ["c"]);
}
