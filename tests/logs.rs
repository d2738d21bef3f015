//! Issue 7, item 6: a detached container's output is kept in size-capped, rotated files
//! (10 MiB × 3 by default), removed with the container (or by `gc` when no record knows
//! them), and printed by `podnet logs [-f] NAME`. A chatty container cannot fill the store's
//! file system, and `rm` always works.

mod common;

use common::*;
use podnet::testbed::{describe, stderr, stdout, Sandbox};
use std::io::Read;
use std::time::Duration;

const LOGS: &str = "/run/podnet-state/logs";

/// Bytes in the files under `dir` inside the sandbox (0 when it does not exist).
fn bytes_under(sb: &Sandbox, dir: &str) -> u64 {
    let out = sb.sh(&format!(
        "find {dir} -type f -printf '%s\\n' 2>/dev/null | awk '{{s+=$1}} END {{print s+0}}'"
    ));
    stdout(&out).trim().parse().unwrap()
}

/// Runs `podnet run -d --name NAME [EXTRA...] -- sh -c SCRIPT; touch DONE` and waits until the
/// script has written everything (DONE exists).
fn run_writer(sb: &Sandbox, name: &str, extra: &[&str], script: &str) {
    let done = format!("{}/{name}.done", sb.scratch());
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(extra);
    let cmd = format!("{script}; touch {done}");
    args.extend(["--", "sh", "-c", &cmd]);
    podnet_ok(sb, &args);
    let file = sb.host_path(&done);
    sb.wait_until(
        &format!("{name} wrote its output"),
        Duration::from_secs(60),
        || file.exists(),
    )
    .unwrap();
}

#[test]
fn a_chatty_container_cannot_fill_the_disk_and_rm_always_works() {
    let sb = sandbox();
    // The state root on a file system of its own, larger than the default cap (30 MiB) and
    // smaller than what the container writes (64 MiB).
    ok(
        "small state fs",
        sb.sh("mkdir -p /run/podnet-state && mount -t tmpfs -o size=40m tmpfs /run/podnet-state"),
    );
    run_writer(&sb, "chatty", &[], "yes | head -c 64M");
    let kept = bytes_under(&sb, LOGS);
    assert!(
        kept <= 30 << 20,
        "the log kept {kept} bytes, more than 10 MiB × 3"
    );
    assert_eq!(ps(&sb).len(), 1);
    // `-f` returns once the pump has written everything: the newest output, whole files of it.
    let out = sb.podnet(["logs", "-f", "chatty"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let kept = bytes_under(&sb, LOGS);
    assert_eq!(out.stdout.len() as u64, kept);
    assert!(kept >= 20 << 20 && out.stdout.ends_with(b"y\n"), "{kept}");
    podnet_ok(&sb, &["rm", "chatty"]);
    assert_eq!(bytes_under(&sb, LOGS), 0, "rm left the log behind");
    assert!(!sb.host_path(format!("{LOGS}/chatty")).exists());
    let out = sb.podnet(["logs", "chatty"]);
    assert_bad_input("logs of a removed container", &out, "chatty");
}

#[test]
fn rotation_keeps_the_newest_output_in_order() {
    let sb = sandbox();
    run_writer(
        &sb,
        "seq",
        &["--log-max-size", "4k", "--log-max-files", "3"],
        "seq 1 20000",
    );
    let full: String = (1..=20000).map(|i| format!("{i}\n")).collect();
    let log = stdout(&sb.podnet(["logs", "-f", "seq"]));
    // Two full files and the current one: more than 8 KiB, at most 12 KiB, and exactly the
    // end of what was written, in order.
    assert!(
        log.len() > 8 << 10 && log.len() <= 12 << 10,
        "{} bytes kept",
        log.len()
    );
    assert!(
        full.ends_with(&log),
        "the log is not the tail of the output"
    );
    let files = ok("ls", sb.sh(&format!("ls {LOGS}/seq")));
    assert_eq!(
        files.split_whitespace().collect::<Vec<_>>(),
        vec!["container.log", "container.log.1", "container.log.2"]
    );

    // One file kept: it starts over.
    run_writer(
        &sb,
        "one",
        &["--log-max-size", "4k", "--log-max-files", "1"],
        "seq 1 20000",
    );
    let log = stdout(&sb.podnet(["logs", "-f", "one"]));
    assert!(
        log.len() <= 4 << 10 && full.ends_with(&log),
        "{}",
        log.len()
    );
}

#[test]
fn logs_follow_prints_until_the_command_ends() {
    let sb = sandbox();
    let go = format!("{}/go", sb.scratch());
    let script =
        format!("echo one; echo two >&2; while [ ! -e {go} ]; do sleep 0.05; done; echo three");
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "f", "--", "sh", "-c", &script],
    );
    let mut follow = sb.podnet_cmd(["logs", "-f", "f"]);
    follow
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = follow.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("two\n") {
        let n = out.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "logs -f ended early: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    ok("go", sb.sh(&format!("touch {go}")));
    out.read_to_end(&mut seen).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&seen), "one\ntwo\nthree\n");
}

#[test]
fn logs_of_what_keeps_none_is_bad_input() {
    let sb = sandbox();
    ok("ip netns add", sb.sh("ip netns add mine"));
    podnet_ok(
        &sb,
        &["attach", "--netns", "/run/netns/mine", "--name", "att"],
    );
    for (name, needle) in [("nosuch", "nosuch"), ("att", "att")] {
        let out = sb.podnet(["logs", name]);
        assert_bad_input(&format!("logs {name}"), &out, needle);
        let out = sb.podnet(["logs", "-f", name]);
        assert_bad_input(&format!("logs -f {name}"), &out, needle);
    }
}

#[test]
fn gc_removes_logs_no_container_owns() {
    let sb = sandbox();
    run_writer(&sb, "live", &[], "echo alive");
    ok(
        "plant logs",
        sb.sh(&format!(
            "mkdir -p {LOGS}/ghost && echo boo > {LOGS}/ghost/container.log && echo old > {LOGS}/old.log"
        )),
    );
    let report = podnet_json(&sb, &["gc"]);
    assert_eq!(
        report["logs"],
        serde_json::json!(["ghost", "old"]),
        "{report}"
    );
    let left = ok("ls", sb.sh(&format!("ls {LOGS}")));
    assert_eq!(left.split_whitespace().collect::<Vec<_>>(), vec!["live"]);
    assert_eq!(stdout(&sb.podnet(["logs", "-f", "live"])), "alive\n");
    let out = sb.podnet(["gc"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}
