//! Issue 7, item 17: errors a user can act on. Without root, every command that changes
//! something says "podnet needs root (CAP_NET_ADMIN)" first, on one line, and changes nothing;
//! a broken store is named with its file and its cause, never with SQL.

mod common;

use common::*;
use podnet::testbed::{describe, stderr, Sandbox};

/// `podnet ARGS...` as the unprivileged user `nobody`, with state at `root`.
fn as_nobody(sb: &Sandbox, root: &str, args: &[&str]) -> std::process::Output {
    let mut c = sb.cmd("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(sb.podnet_bin())
        .args(args)
        .env("PODNET_ROOT", root);
    output(c)
}

/// One line on stderr, starting `podnet: ` and then `start`.
fn assert_one_line(what: &str, out: &std::process::Output, code: i32, start: &str) {
    assert_eq!(out.status.code(), Some(code), "{what}\n{}", describe(out));
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one line expected:\n{err}");
    assert!(
        lines[0].starts_with(&format!("podnet: {start}")),
        "{what}: expected `podnet: {start}...`, got: {}",
        lines[0]
    );
}

/// IPv4 addresses and routes of the sandbox's host namespace.
fn v4(sb: &Sandbox) -> (serde_json::Value, serde_json::Value) {
    (
        ip_json(sb, &["-4", "addr"]),
        ip_json(sb, &["-4", "route", "show", "table", "all"]),
    )
}

#[test]
fn without_root_every_change_says_podnet_needs_root_first_and_changes_nothing() {
    let sb = common::state::setup();
    // A state root the unprivileged user may write, so that the store is not what stops it.
    ok(
        "writable root",
        sb.sh("mkdir -m 0777 /run/userstate && chmod 0777 /run/podnet-state /run/podnet-state/*"),
    );
    let before = common::state::snapshot(&sb);
    let v4_before = v4(&sb);
    let cases: &[&[&str]] = &[
        &["network", "create", "x", "--subnet", "10.99.0.0/24"],
        &[
            "run",
            "-d",
            "--name",
            "z",
            "--network",
            "netA",
            "--",
            "sleep",
            "9",
        ],
        &["run", "--", "true"],
        &["run", "-d", "--network", "host", "--", "sleep", "9"],
        &["rm", "-f", "c1"],
        &["stop", "c1"],
        &["network", "rm", "netA"],
        &["network", "prune"],
        &["service", "create", "s", "--port", "80", "--backend", "c1"],
        &["gc"],
    ];
    for root in ["/run/podnet-state", "/run/userstate"] {
        for args in cases {
            let what = format!("nobody: podnet {} (root {root})", args.join(" "));
            let out = as_nobody(&sb, root, args);
            let code = if args[0] == "run" { 125 } else { 1 };
            assert_one_line(&what, &out, code, "podnet needs root (CAP_NET_ADMIN)");
        }
    }
    let after = common::state::snapshot(&sb);
    // (IPv6 is left out: the stub link's link-local address appears whenever DAD ends.)
    for key in ["links", "netns", "ps", "networks"] {
        assert_eq!(
            before[key], after[key],
            "an unprivileged command changed {key}"
        );
    }
    assert_eq!(
        v4_before,
        v4(&sb),
        "an unprivileged command changed addresses or routes"
    );
    // Reading is fine without root when the store is readable.
    let out = as_nobody(&sb, "/run/podnet-state", &["ps"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// Remount the store's file system read-only, once podnet's lingering nftables closer (a
/// child that holds the last socket reference, and the store's files, for ~0.1 s after podnet
/// exits) has let go of it.
const READ_ONLY: &str =
    "for i in $(seq 200); do mount -o remount,ro $R 2>/dev/null && exit 0; sleep 0.05; done; exit 1";

/// A store that cannot be used: (how to break it, command, exit code, the cause in words).
#[test]
fn a_broken_store_is_named_with_its_file_and_cause() {
    let cases: &[(&str, &[&str], i32, &str)] = &[
        (
            "dd if=/dev/urandom of=$R/podnet.db bs=1k count=64 2>/dev/null; rm $R/podnet.db-*",
            &["ps"],
            1,
            "it is not a podnet database or it is corrupt",
        ),
        (
            "printf 'not a database at all, just text' > $R/podnet.db; rm $R/podnet.db-*",
            &["network", "create", "n", "--subnet", "10.98.0.0/24"],
            1,
            "it is not a podnet database or it is corrupt",
        ),
        (
            READ_ONLY,
            &["network", "create", "n", "--subnet", "10.98.0.0/24"],
            1,
            "its file system is read-only",
        ),
        (
            READ_ONLY,
            &["run", "-d", "--", "sleep", "9"],
            125,
            "its file system is read-only",
        ),
        (
            "dd if=/dev/zero of=$R/fill bs=64k 2>/dev/null; true",
            &["network", "create", "n", "--subnet", "10.98.0.0/24"],
            1,
            "its file system is full",
        ),
    ];
    for (i, (breakage, args, code, cause)) in cases.iter().enumerate() {
        // Each case on a host of its own (one podnet state per host), on a small file system
        // with a working store on it.
        let sb = sandbox();
        let root = format!("/run/store{i}");
        ok(
            "tmpfs",
            sb.sh(&format!(
                "mkdir -p {root} && mount -t tmpfs -o size=2m tmpfs {root}"
            )),
        );
        let mut c = sb.podnet_cmd(["network", "create", &format!("ok{i}"), "--subnet"]);
        c.arg(format!("10.97.{i}.0/24")).env("PODNET_ROOT", &root);
        ok("a working store", output(c));
        ok(breakage, sb.sh(&format!("R={root}; {breakage}")));
        let mut c = sb.podnet_cmd(*args);
        c.env("PODNET_ROOT", &root);
        let out = output(c);
        let what = format!("{breakage}; podnet {}", args.join(" "));
        assert_one_line(
            &what,
            &out,
            *code,
            &format!("state store {root}/podnet.db: {cause}"),
        );
        let err = stderr(&out).to_lowercase();
        for sql in [
            "select",
            "insert",
            "update ",
            "pragma",
            "create table",
            "sqlite",
        ] {
            assert!(!err.contains(sql), "{what}: SQL in the message: {err}");
        }
    }
}

#[test]
fn an_unreadable_store_says_permission_denied_not_no_state() {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", "n", "--subnet", "10.96.0.0/24"]);
    ok("lock the root", sb.sh("chmod 0700 /run/podnet-state"));
    let out = as_nobody(&sb, "/run/podnet-state", &["ps"]);
    assert_one_line(
        "nobody: podnet ps",
        &out,
        1,
        "state store /run/podnet-state/podnet.db: permission denied",
    );
    let out = as_nobody(&sb, "/run/podnet-state", &["inspect", "x"]);
    assert_one_line(
        "nobody: podnet inspect x",
        &out,
        1,
        "state store /run/podnet-state/podnet.db: permission denied",
    );
}
