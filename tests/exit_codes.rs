//! Issue 7, item 14: exit codes that tell the truth. Several names where some were done exit
//! 3 (not 2, "nothing changed") and report every failure; `run`/`exec` of a command that
//! cannot start exit 127 (not found) or 126 (not executable), as shells and Docker do, never a
//! small code the command itself could have returned.

mod common;

use common::*;
use podnet::testbed::{describe, stderr};

/// The error lines of an output (non-empty stderr lines).
fn error_lines(out: &std::process::Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn rm_of_several_names_reports_each_failure_and_says_some_were_done() {
    let sb = sandbox();
    for n in ["a", "b", "c", "d"] {
        let cmd = if n == "b" || n == "d" {
            "infinity"
        } else {
            "0"
        };
        podnet_ok(&sb, &["run", "-d", "--name", n, "--", "sleep", cmd]);
    }
    // a and c exit at once; b and d keep running.
    sb.wait_until("a and c exited", std::time::Duration::from_secs(20), || {
        ps(&sb).iter().filter(|c| c["status"] == "exited").count() == 2
    })
    .unwrap();
    let out = sb.podnet(["rm", "a", "b", "nosuch", "c", "d"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "some names were removed: not 'nothing changed'\n{}",
        describe(&out)
    );
    let lines = error_lines(&out);
    assert_eq!(lines.len(), 3, "one line per failure: {lines:?}");
    for (line, name) in lines.iter().zip(["'b'", "'nosuch'", "'d'"]) {
        assert!(
            line.starts_with("podnet: ") && line.contains(name),
            "{line}"
        );
    }
    let left: Vec<String> = ps(&sb).iter().map(|c| s(c, "name").to_string()).collect();
    assert_eq!(left, vec!["b", "d"]);

    // Nothing done, every failure bad input: 2, and still one line per name.
    let out = sb.podnet(["rm", "b", "nosuch"]);
    assert_bad_input_lines(&out, 2);
    // The same for stop and inspect: some done is 3, with a line for each name that failed.
    let out = sb.podnet(["stop", "-t", "0", "b", "ghost"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(error_lines(&out).len(), 1, "{}", describe(&out));
    let out = sb.podnet(["inspect", "d", "ghost", "--format", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(error_lines(&out).len(), 1, "{}", describe(&out));
    // Every name done: 0.
    let out = sb.podnet(["rm", "-f", "b", "d"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(ps(&sb).is_empty());
}

fn assert_bad_input_lines(out: &std::process::Output, n: usize) {
    assert_eq!(out.status.code(), Some(2), "{}", describe(out));
    assert_eq!(error_lines(out).len(), n, "{}", describe(out));
}

#[test]
fn network_and_service_rm_of_several_names_say_some_were_done() {
    let sb = sandbox();
    for (n, subnet) in [("n1", "10.241.0.0/24"), ("n2", "10.242.0.0/24")] {
        podnet_ok(&sb, &["network", "create", n, "--subnet", subnet]);
    }
    let out = sb.podnet(["network", "rm", "n1", "ghost", "n2"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(error_lines(&out).len(), 1, "{}", describe(&out));
    assert!(networks(&sb)
        .iter()
        .all(|n| n["name"] != "n1" && n["name"] != "n2"));

    podnet_ok(
        &sb,
        &["run", "-d", "--name", "w", "--", "sleep", "infinity"],
    );
    podnet_ok(
        &sb,
        &["service", "create", "s1", "--port", "80", "--backend", "w"],
    );
    let out = sb.podnet(["service", "rm", "s1", "ghost"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let out = sb.podnet(["service", "rm", "ghost", "ghost2"]);
    assert_bad_input_lines(&out, 2);
}

#[test]
fn a_command_that_cannot_start_exits_127_or_126_and_leaves_nothing() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "side", "--subnet", "10.240.0.0/24"],
    );
    let base = link_names(&sb);
    ok(
        "make files",
        sb.sh("printf 'x' > /run/testbed/plain && chmod 644 /run/testbed/plain && mkdir -p /run/testbed/dir"),
    );
    // (command, exit code, what the one error line names)
    let cases: &[(&[&str], i32, &str)] = &[
        (&["nosuchcmd"], 127, "nosuchcmd"),
        (&["/nonexistent/cmd", "arg"], 127, "/nonexistent/cmd"),
        (&["/run/testbed/plain"], 126, "/run/testbed/plain"),
        (&["/run/testbed/dir"], 126, "/run/testbed/dir"),
    ];
    for detach in [false, true] {
        for (argv, code, needle) in cases {
            let mut args = vec!["run", "--network", "side"];
            if detach {
                args.push("-d");
            }
            args.push("--");
            args.extend(argv.iter());
            let what = format!("podnet {}", args.join(" "));
            let out = sb.podnet(&args);
            assert_eq!(out.status.code(), Some(*code), "{what}\n{}", describe(&out));
            let lines = error_lines(&out);
            assert_eq!(lines.len(), 1, "{what}: {lines:?}");
            assert!(
                lines[0].starts_with("podnet: ") && lines[0].contains(needle),
                "{what}: {}",
                lines[0]
            );
            assert_clean(&sb, &what, "side", &base);
        }
    }
    // exec into a running container: the same codes.
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "up", "--", "sleep", "infinity"],
    );
    for (argv, code, needle) in cases {
        let mut args = vec!["exec", "up", "--"];
        args.extend(argv.iter());
        let out = sb.podnet(&args);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?}\n{}",
            describe(&out)
        );
        assert!(stderr(&out).contains(needle), "{}", describe(&out));
    }
}
