//! Issue 7, item 16: commands that do not create anything never create a state directory or
//! database under a mistyped root; they say there is no podnet state there. Listings show an
//! empty list (exit 0) with that note on stderr; commands about a named object are bad input
//! (exit 2, one line).

mod common;

use common::*;
use podnet::testbed::{describe, stderr, stdout};

const ROOT: &str = "/run/mistyped/podnet-state";

/// Whether anything exists at the mistyped root (or its parent) inside the sandbox.
fn root_made(sb: &podnet::testbed::Sandbox) -> bool {
    sb.host_path("/run/mistyped").exists()
}

#[test]
fn listings_under_a_mistyped_root_are_empty_and_say_so() {
    let sb = sandbox();
    // State elsewhere (the real root) must not show through.
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "real", "--", "sleep", "infinity"],
    );
    let cases: &[(&[&str], &str)] = &[
        (&["ps"], "NAME"),
        (&["network", "ls"], "NAME"),
        (&["service", "ls"], "NAME"),
        (&["ps", "--format", "json"], "[]"),
        (&["network", "ls", "--format", "json"], "[]"),
        (&["service", "ls", "--format", "json"], "[]"),
    ];
    for (args, first) in cases {
        let mut all = vec!["--root", ROOT];
        all.extend(args.iter());
        let what = format!("podnet {}", all.join(" "));
        let out = sb.podnet(&all);
        assert_eq!(out.status.code(), Some(0), "{what}\n{}", describe(&out));
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "{what}: an empty list\n{text}");
        assert!(text.starts_with(first), "{what}: {text}");
        let err = stderr(&out);
        assert!(
            err.starts_with("podnet: no podnet state at /run/mistyped/podnet-state")
                && err.lines().count() == 1,
            "{what}: {err}"
        );
        assert!(!root_made(&sb), "{what} created the root");
    }
}

#[test]
fn commands_about_a_name_under_a_mistyped_root_are_bad_input() {
    let sb = sandbox();
    let cases: &[&[&str]] = &[
        &["inspect", "x"],
        &["ports", "x"],
        &["exec", "x", "--", "true"],
        &["stop", "x"],
        &["rm", "x"],
        &["rm", "-f", "x", "y"],
        &["detach", "x"],
        &["label", "x", "a=b"],
        &["network", "inspect", "x"],
        &["network", "rm", "x"],
        &["network", "prune"],
        &["service", "inspect", "x"],
        &["service", "rm", "x"],
    ];
    for args in cases {
        let mut all = vec!["--root", ROOT];
        all.extend(args.iter());
        let what = format!("podnet {}", all.join(" "));
        let out = sb.podnet(&all);
        // `rm x y` reports once per name: every line says there is no state.
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}\n{}", describe(&out));
        assert!(
            err.lines()
                .all(|l| l.starts_with("podnet: no podnet state at /run/mistyped/podnet-state")),
            "{what}: {err}"
        );
        assert!(!root_made(&sb), "{what} created the root");
    }
    // The environment variable is a root like any other.
    let mut c = sb.podnet_cmd(["inspect", "x"]);
    c.env("PODNET_ROOT", ROOT);
    let out = output(c);
    assert_bad_input("PODNET_ROOT=... inspect x", &out, "no podnet state");
    assert!(!root_made(&sb));
}
