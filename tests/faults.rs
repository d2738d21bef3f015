//! Acceptance 6: a crash (SIGKILL via `PODNET_FAULT=OP:K`) after every step K of attach
//! and of detach; `podnet gc` then leaves no link, namespace mount, lease or record, and
//! the next `run` works. K counts up until the operation completes (exit 0).

mod common;

use common::*;
use podnet::testbed::{describe, Sandbox};
use std::os::unix::process::ExitStatusExt;
use std::process::Output;

/// More steps than any attach/detach can have: reaching it means K never completed.
const MAX_STEPS: u32 = 40;
const NET: &str = "netA";
/// A /29: five addresses besides the gateway, so a leaked lease soon shows.
const SUBNET: &str = "10.220.0.0/29";

#[derive(Debug, PartialEq)]
enum Outcome {
    Killed,
    Completed,
}

fn outcome(what: &str, out: &Output) -> Outcome {
    match (out.status.signal(), out.status.code()) {
        (Some(9), _) => Outcome::Killed,
        (_, Some(0)) => Outcome::Completed,
        _ => panic!(
            "{what}: neither killed by the fault nor done\n{}",
            describe(out)
        ),
    }
}

fn setup() -> (Sandbox, Vec<String>) {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", NET, "--subnet", SUBNET]);
    let baseline = link_names(&sb);
    (sb, baseline)
}

/// `podnet gc`, then: nothing left, `netns` (if any, a namespace we made) holds only lo,
/// and a new foreground `run` gets an address and exits 0.
///
/// A crash after the *last* step leaves a finished endpoint (recorded ready, all kernel
/// objects made): gc may rightly keep it. Then it must be whole and work, and its normal
/// removal (`undo`) must leave nothing behind.
fn gc_and_check(
    sb: &Sandbox,
    what: &str,
    baseline: &[String],
    netns: Option<&str>,
    name: &str,
    undo: &[&str],
) {
    ok(&format!("{what}: gc"), sb.podnet(["gc"]));
    let listed = ps(sb);
    if !listed.is_empty() {
        assert_eq!(listed.len(), 1, "{what}: after gc: {listed:?}");
        let c = inspect(sb, name);
        let ns = s(&c, "netns");
        let addrs = ip_json_in(sb, ns, &["addr"]);
        let eth0 = v4_addrs(&addrs, "eth0");
        assert!(
            eth0.len() == 1 && eth0[0].addr() == ipv4(s(&c, "ip")),
            "{what}: gc kept {c} but its eth0 is {addrs}"
        );
        let veth = ip_json(sb, &["link", "show", "dev", s(&c, "host_veth")]);
        assert_eq!(
            veth[0]["master"],
            s(&net_inspect(sb, NET), "bridge"),
            "{what}: {veth}"
        );
        ok(
            &format!("{what}: {undo:?} after gc kept it"),
            sb.podnet(undo),
        );
    }
    assert_clean(sb, &format!("{what}, after gc"), NET, baseline);
    if let Some(ns) = netns {
        let links = ip_json_in(sb, ns, &["link"]);
        assert_eq!(names(&links), vec!["lo"], "{what}: {ns} after gc: {links}");
    }
    let out = ok(
        &format!("{what}: run after gc"),
        sb.podnet([
            "run",
            "--network",
            NET,
            "--",
            "ip",
            "-j",
            "addr",
            "show",
            "dev",
            "eth0",
        ]),
    );
    let addrs = v4_addrs(&parse("ip -j addr", &out), "eth0");
    assert!(
        addrs.len() == 1 && net(SUBNET).contains(&addrs[0].addr()),
        "{what}: run after gc got {addrs:?}"
    );
    assert_clean(sb, &format!("{what}, after the next run"), NET, baseline);
}

/// Every address of the /29 can still be leased: no lease leaked through all the crashes.
fn all_addresses_free(sb: &Sandbox, baseline: &[String]) {
    for i in 0..5 {
        podnet_ok(
            sb,
            &[
                "run",
                "-d",
                "--name",
                &format!("cap{i}"),
                "--network",
                NET,
                "--",
                "sleep",
                "infinity",
            ],
        );
    }
    for i in 0..5 {
        podnet_ok(sb, &["rm", "-f", &format!("cap{i}")]);
    }
    assert_clean(sb, "after filling the subnet", NET, baseline);
}

fn faulty(sb: &Sandbox, fault: &str, args: &[&str]) -> Output {
    output({
        let mut c = sb.podnet_cmd(args);
        c.env("PODNET_FAULT", fault);
        c
    })
}

#[test]
fn crash_at_every_attach_step_is_repaired_by_gc() {
    let (sb, baseline) = setup();
    for k in 1..=MAX_STEPS {
        let (name, ns) = (format!("f{k}"), format!("/run/netns/f{k}"));
        ok("ip netns add", sb.sh(&format!("ip netns add {name}")));
        let fault = format!("attach:{k}");
        let what = format!("PODNET_FAULT={fault} podnet attach");
        let out = faulty(
            &sb,
            &fault,
            &["attach", "--netns", &ns, "--name", &name, "--network", NET],
        );
        if outcome(&what, &out) == Outcome::Completed {
            eprintln!("{what}: completed at K={k}");
            assert!(k > 1, "attach:1 did not crash: is the fault switch wired?");
            let c = inspect(&sb, &name);
            assert_eq!(s(&c, "status"), "attached", "{c}");
            let addrs = ip_json_in(&sb, &ns, &["addr"]);
            assert_eq!(
                v4_addrs(&addrs, "eth0")[0].addr(),
                ipv4(s(&c, "ip")),
                "{addrs}"
            );
            podnet_ok(&sb, &["detach", &name]);
            assert_clean(&sb, "after the completed attach and detach", NET, &baseline);
            all_addresses_free(&sb, &baseline);
            return;
        }
        gc_and_check(&sb, &what, &baseline, Some(&ns), &name, &["detach", &name]);
        ok("ip netns del", sb.sh(&format!("ip netns del {name}")));
    }
    panic!("attach never completed within {MAX_STEPS} steps");
}

#[test]
fn crash_at_every_detach_step_is_repaired_by_gc() {
    let (sb, baseline) = setup();
    for k in 1..=MAX_STEPS {
        let (name, ns) = (format!("d{k}"), format!("/run/netns/d{k}"));
        ok("ip netns add", sb.sh(&format!("ip netns add {name}")));
        podnet_ok(
            &sb,
            &["attach", "--netns", &ns, "--name", &name, "--network", NET],
        );
        let fault = format!("detach:{k}");
        let what = format!("PODNET_FAULT={fault} podnet detach");
        let out = faulty(&sb, &fault, &["detach", &name]);
        if outcome(&what, &out) == Outcome::Completed {
            eprintln!("{what}: completed at K={k}");
            assert!(k > 1, "detach:1 did not crash: is the fault switch wired?");
            assert_clean(&sb, "after the completed detach", NET, &baseline);
            all_addresses_free(&sb, &baseline);
            return;
        }
        gc_and_check(&sb, &what, &baseline, Some(&ns), &name, &["detach", &name]);
        ok("ip netns del", sb.sh(&format!("ip netns del {name}")));
    }
    panic!("detach never completed within {MAX_STEPS} steps");
}

#[test]
fn crash_at_every_step_of_run_d_is_repaired_by_gc() {
    let (sb, baseline) = setup();
    for k in 1..=MAX_STEPS {
        let name = format!("r{k}");
        let fault = format!("attach:{k}");
        let what = format!("PODNET_FAULT={fault} podnet run -d");
        let args = [
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            NET,
            "--",
            "sleep",
            "infinity",
        ];
        let out = faulty(&sb, &fault, &args);
        if outcome(&what, &out) == Outcome::Completed {
            eprintln!("{what}: completed at K={k}");
            assert!(k > 1, "attach:1 did not crash run -d");
            assert_eq!(s(&inspect(&sb, &name), "status"), "running");
            podnet_ok(&sb, &["rm", "-f", &name]);
            assert_clean(&sb, "after the completed run and rm", NET, &baseline);
            all_addresses_free(&sb, &baseline);
            return;
        }
        gc_and_check(&sb, &what, &baseline, None, &name, &["rm", "-f", &name]);
    }
    panic!("run -d never completed within {MAX_STEPS} steps");
}

#[test]
fn crash_at_every_step_of_rm_is_repaired_by_gc() {
    let (sb, baseline) = setup();
    for k in 1..=MAX_STEPS {
        let name = format!("m{k}");
        podnet_ok(
            &sb,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                NET,
                "--",
                "sleep",
                "infinity",
            ],
        );
        let fault = format!("detach:{k}");
        let what = format!("PODNET_FAULT={fault} podnet rm -f");
        let out = faulty(&sb, &fault, &["rm", "-f", &name]);
        if outcome(&what, &out) == Outcome::Completed {
            eprintln!("{what}: completed at K={k}");
            assert!(k > 1, "detach:1 did not crash rm -f");
            assert_clean(&sb, "after the completed rm", NET, &baseline);
            all_addresses_free(&sb, &baseline);
            return;
        }
        gc_and_check(&sb, &what, &baseline, None, &name, &["rm", "-f", &name]);
    }
    panic!("rm -f never completed within {MAX_STEPS} steps");
}

/// `run`'s own steps after the endpoint is made: the command started but not recorded
/// (`run:1`), recorded but not ready (`run:2`). gc must leave no process behind either way.
#[test]
fn crash_at_every_step_of_run_after_attach_leaves_no_process() {
    let (sb, baseline) = setup();
    for k in 1..=MAX_STEPS {
        let name = format!("p{k}");
        let secs = format!("{}", 40_000 + k);
        let fault = format!("run:{k}");
        let what = format!("PODNET_FAULT={fault} podnet run -d");
        let args = [
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            NET,
            "--",
            "sleep",
            &secs,
        ];
        let out = faulty(&sb, &fault, &args);
        if outcome(&what, &out) == Outcome::Completed {
            eprintln!("{what}: completed at K={k}");
            assert!(k > 1, "run:1 did not crash run -d");
            assert_eq!(s(&inspect(&sb, &name), "status"), "running");
            podnet_ok(&sb, &["rm", "-f", &name]);
            assert!(procs_with(&sb, &format!("sleep {secs}")).is_empty());
            assert_clean(&sb, "after the completed run and rm", NET, &baseline);
            all_addresses_free(&sb, &baseline);
            return;
        }
        assert_eq!(
            procs_with(&sb, &format!("sleep {secs}")).len(),
            1,
            "{what}: the command should have started"
        );
        gc_and_check(&sb, &what, &baseline, None, &name, &["rm", "-f", &name]);
        let left = procs_with(&sb, &format!("sleep {secs}"));
        assert!(
            left.is_empty(),
            "{what}: gc left the command running: {left:?}"
        );
    }
    panic!("run -d never completed within {MAX_STEPS} steps");
}

/// gc itself crashing at every step, with work to do at each (a deleted bridge under a live
/// container, a crashed creation, a container whose namespace and process are gone): the
/// next gc finishes the job.
#[test]
fn crash_at_every_step_of_gc_is_finished_by_the_next_gc() {
    let (sb, baseline) = setup();
    let bridge = s(&net_inspect(&sb, NET), "bridge").to_string();
    for k in 1..=MAX_STEPS {
        run_server(&sb, "live", &["--network", NET], 80, "live");
        let out = faulty(
            &sb,
            "attach:3",
            &[
                "run",
                "-d",
                "--name",
                "half",
                "--network",
                NET,
                "--",
                "sleep",
                "infinity",
            ],
        );
        assert_eq!(outcome("attach:3", &out), Outcome::Killed);
        podnet_ok(
            &sb,
            &[
                "run",
                "-d",
                "--name",
                "gone",
                "--network",
                NET,
                "--",
                "sleep",
                "infinity",
            ],
        );
        let gone = inspect(&sb, "gone");
        ok(
            "kill and unmount",
            sb.sh(&format!(
                "kill -9 {} && while [ -d /proc/{0} ] && ! grep -q '^State:.*Z' /proc/{0}/status; do sleep 0.01; done; umount {1}",
                gone["pid"],
                s(&gone, "netns")
            )),
        );
        ok("ip link del", sb.sh(&format!("ip link del {bridge}")));

        let fault = format!("gc:{k}");
        let what = format!("PODNET_FAULT={fault} podnet gc");
        let completed = outcome(&what, &faulty(&sb, &fault, &["gc"])) == Outcome::Completed;
        ok(&format!("{what}: gc after"), sb.podnet(["gc"]));
        let listed = ps(&sb);
        assert_eq!(listed.len(), 1, "{what}: {listed:?}");
        let live = inspect(&sb, "live");
        let addrs = ip_json_in(&sb, s(&live, "netns"), &["addr"]);
        assert_eq!(
            v4_addrs(&addrs, "eth0").first().map(|a| a.addr()),
            Some(ipv4(s(&live, "ip"))),
            "{what}: {addrs}"
        );
        assert_eq!(tcp_reply(&sb, None, s(&live, "ip"), 80), "live", "{what}");
        podnet_ok(&sb, &["rm", "-f", "live"]);
        assert_clean(&sb, &format!("{what}, after rm"), NET, &baseline);
        if completed {
            eprintln!("{what}: completed at K={k}");
            assert!(k > 1, "gc:1 did not crash gc");
            all_addresses_free(&sb, &baseline);
            return;
        }
    }
    panic!("gc never completed within {MAX_STEPS} steps");
}

/// The recovery of the first command after a boot crashing before it is recorded as done:
/// the next command recovers again (every part of it is idempotent) and works.
#[test]
fn crash_during_recovery_after_a_boot_is_redone_by_the_next_command() {
    let (sb, baseline) = setup();
    let bridge = s(&net_inspect(&sb, NET), "bridge").to_string();
    // What a boot leaves for the first command: no bridge, no marker in the run dir.
    ok("ip link del", sb.sh(&format!("ip link del {bridge}")));
    ok("forget recovery", sb.sh("rm /run/podnet/recovered-*"));
    let args = [
        "run",
        "-d",
        "--name",
        "a",
        "--network",
        NET,
        "--",
        "sleep",
        "infinity",
    ];
    assert_eq!(
        outcome("boot:1", &faulty(&sb, "boot:1", &args)),
        Outcome::Killed
    );
    assert!(ps(&sb).is_empty(), "{:?}", ps(&sb));
    let out = sb.podnet(args);
    assert!(out.status.success(), "{}", describe(&out));
    ok("marker", sb.sh("ls /run/podnet/recovered-*"));
    assert_eq!(s(&inspect(&sb, "a"), "status"), "running");
    podnet_ok(&sb, &["rm", "-f", "a"]);
    assert_clean(&sb, "after rm", NET, &baseline);
}
