//! Acceptance 7: foreground `run` returns the command's exit status and removes
//! everything it made when the command exits.

mod common;

use common::*;
use podnet::testbed::{describe, Sandbox};

/// Links of the sandbox once podnet0 exists (a detached-free baseline).
fn baseline(sb: &Sandbox) -> Vec<String> {
    podnet_ok(
        sb,
        &["network", "create", "side", "--subnet", "10.240.0.0/24"],
    );
    link_names(sb)
}

#[test]
fn exit_status_is_the_commands_and_nothing_is_left_behind() {
    let sb = sandbox();
    let out = sb.podnet(["run", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    let mut base = vec!["lo".to_string(), "podnet0".to_string()];
    base.sort();
    assert_clean(&sb, "after run -- exit 7", "podnet0", &base);
    let out = sb.podnet(["run", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_clean(&sb, "after run -- true", "podnet0", &base);
}

#[test]
fn foreground_container_is_networked_while_it_runs() {
    let sb = sandbox();
    let base = baseline(&sb);
    let info = net_inspect(&sb, "side");
    let gw = s(&info, "gateway").to_string();
    sb.serve(None, "tcp", &gw, 7001, "gw saw {peer}").unwrap();
    let mut args = vec![
        "run".to_string(),
        "--network".into(),
        "side".into(),
        "--".into(),
    ];
    args.extend(nettool_argv());
    args.extend(["connect", "tcp", &gw, "7001"].map(String::from));
    let reply = ok("foreground nettool", sb.podnet(&args));
    assert!(reply.starts_with("gw saw 10.240.0."), "{reply}");
    // The reply's address is a container's, not the gateway's own.
    assert_ne!(reply.trim(), format!("gw saw {gw}"));
    assert_clean(&sb, "after the foreground client", "side", &base);
}

#[test]
fn foreground_failure_status_passes_through_and_cleans_up() {
    let sb = sandbox();
    let base = baseline(&sb);
    // A failing client: nothing listens on the gateway port.
    let gw = s(&net_inspect(&sb, "side"), "gateway").to_string();
    let mut args = vec![
        "run".to_string(),
        "--network".into(),
        "side".into(),
        "--".into(),
    ];
    args.extend(nettool_argv());
    args.extend(["connect", "tcp", &gw, "7999"].map(String::from));
    let out = sb.podnet(&args);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_clean(&sb, "after the failed client", "side", &base);
}

#[test]
fn command_not_found_cleans_up() {
    let sb = sandbox();
    let base = baseline(&sb);
    let out = sb.podnet(["run", "--network", "side", "--", "/nonexistent/cmd"]);
    // Bad input (2, one line naming the command) or a Docker-like 125-127.
    match out.status.code() {
        Some(2) => assert_bad_input("run -- /nonexistent/cmd", &out, "/nonexistent/cmd"),
        Some(125..=127) => {}
        _ => panic!(
            "expected 2 or 125-127 for a command that cannot run\n{}",
            describe(&out)
        ),
    }
    assert_clean(&sb, "after a command that cannot run", "side", &base);
}

#[test]
fn named_foreground_run_can_be_reused_after_exit() {
    let sb = sandbox();
    let base = baseline(&sb);
    for round in 0..3 {
        let out = sb.podnet([
            "run",
            "--name",
            "fg",
            "--network",
            "side",
            "--",
            "sh",
            "-c",
            "exit 3",
        ]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "round {round}\n{}",
            describe(&out)
        );
        assert_clean(&sb, &format!("round {round}"), "side", &base);
    }
}
