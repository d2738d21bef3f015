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

/// Starts `podnet run --name fg --network side -- ARGV...` in the foreground, as a
/// supervisor would; returns it and podnet's PID inside the sandbox, once the container runs.
fn start_foreground(sb: &Sandbox, tag: &str, argv: &str) -> (std::process::Child, String, i64) {
    let pidfile = format!("{}/podnet-{tag}.pid", sb.scratch());
    let mut c = sb.cmd("sh");
    c.arg("-c").arg(format!(
        "echo $$ > {pidfile}; exec {} run --name fg --network side -- {argv}",
        sb.podnet_bin().display()
    ));
    // Not piped: a command that outlived podnet would hold a pipe open and hang the test.
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = c.spawn().expect("spawn the foreground run");
    let mut pid = None;
    sb.wait_until(
        "the foreground container runs",
        std::time::Duration::from_secs(20),
        || {
            pid = ps(sb)
                .iter()
                .find(|c| c["name"] == "fg" && c["status"] == "running")
                .and_then(|c| c["pid"].as_i64());
            pid.is_some()
        },
    )
    .unwrap();
    let podnet = ok("pidfile", sb.sh(&format!("cat {pidfile}")))
        .trim()
        .to_string();
    (child, podnet, pid.unwrap())
}

/// The process `pid` (inside the sandbox) is gone: no /proc entry, or a zombie nobody waits for.
fn gone(sb: &Sandbox, pid: i64) -> bool {
    let st = sb.sh(&format!("cat /proc/{pid}/stat 2>/dev/null"));
    let text = String::from_utf8_lossy(&st.stdout).to_string();
    text.is_empty()
        || text
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
}

/// Issue 7, item 15: SIGTERM, SIGINT or SIGHUP sent to a foreground `podnet run` reaches the
/// command; podnet then removes the container (process, namespace, veth, record) and exits
/// with the command's status.
#[test]
fn a_signal_to_a_foreground_run_is_passed_on_and_the_container_removed() {
    let sb = sandbox();
    let base = baseline(&sb);
    for (sig, num) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let (mut child, podnet, pid) = start_foreground(&sb, sig, "sleep infinity");
        ok("kill", sb.sh(&format!("kill -{sig} {podnet}")));
        let status = child.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(128 + num),
            "SIG{sig}: podnet exits with the command's status"
        );
        assert!(gone(&sb, pid), "SIG{sig}: the command still runs");
        assert_clean(&sb, &format!("after SIG{sig}"), "side", &base);
    }
}

/// A command that ignores the signal is killed by a second one, and still cleaned up.
#[test]
fn a_second_signal_kills_a_command_that_ignores_the_first() {
    let sb = sandbox();
    let base = baseline(&sb);
    let got = format!("{}/got-term", sb.scratch());
    let script = format!("sh -c 'trap \"echo >> {got}\" TERM; while :; do sleep 0.05; done'");
    let (mut child, podnet, pid) = start_foreground(&sb, "twice", &script);
    ok("first TERM", sb.sh(&format!("kill -TERM {podnet}")));
    let file = sb.host_path(&got);
    sb.wait_until(
        "the command saw SIGTERM",
        std::time::Duration::from_secs(20),
        || file.exists(),
    )
    .unwrap();
    ok("second TERM", sb.sh(&format!("kill -TERM {podnet}")));
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(128 + 9),
        "podnet exits as the command did"
    );
    assert!(gone(&sb, pid), "the command still runs");
    assert_clean(&sb, "after two SIGTERMs", "side", &base);
}

/// A signal that reaches a foreground `run` while it is still setting the container up waits
/// until setup ends; then the command is not started at all, and the container is removed.
#[test]
fn a_signal_during_setup_means_the_command_never_starts() {
    let sb = sandbox();
    let base = baseline(&sb);
    let scratch = sb.scratch();
    let (pidfile, hold, started) = (
        format!("{scratch}/podnet-early.pid"),
        format!("{scratch}/hold-early"),
        format!("{scratch}/started"),
    );
    let mut c = sb.cmd("sh");
    c.arg("-c").arg(format!(
        "echo $$ > {pidfile}; PODNET_HOLD=attach:5@{hold} exec {} run --name fg --network side -- touch {started}",
        sb.podnet_bin().display()
    ));
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().expect("spawn the foreground run");
    let held = sb.host_path(&hold);
    sb.wait_until(
        "setup reached its hold point",
        std::time::Duration::from_secs(20),
        || held.exists(),
    )
    .unwrap();
    ok("kill", sb.sh(&format!("kill -TERM $(cat {pidfile})")));
    std::fs::remove_file(&held).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "podnet exits as if SIGTERM ended the command"
    );
    assert!(!sb.host_path(&started).exists(), "the command ran");
    assert_clean(&sb, "after SIGTERM during setup", "side", &base);
}
