//! Acceptance 8: nothing leaks into the machine's own namespaces. Each test snapshots the
//! machine (outside every sandbox) before and after a sandboxed scenario; the tests run in
//! parallel with each other (and with the whole suite under nextest), so a leak from any
//! concurrently running sandbox shows too.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The machine's state that a sandboxed podnet must never touch.
#[derive(Debug, PartialEq)]
struct Outer {
    links: BTreeSet<String>,
    addrs: BTreeSet<String>,
    run_podnet: Option<BTreeSet<String>>,
    run_netns: Option<BTreeSet<String>>,
    mounts: BTreeSet<String>,
    nft_tables: String,
    netns: String,
}

fn cmd_text(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => format!("{program} failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => format!("{program} unavailable: {e}"),
    }
}

fn dir(path: &str) -> Option<BTreeSet<String>> {
    let rd = std::fs::read_dir(path).ok()?;
    Some(
        rd.flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
    )
}

fn outer() -> Outer {
    let links = cmd_text("ip", &["-o", "link"])
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect();
    let addrs = cmd_text("ip", &["-o", "-4", "addr"])
        .lines()
        .map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
        .collect();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("netns") || l.contains("podnet") || l.contains("nsfs"))
        .map(|l| l.split(' ').skip(4).take(1).collect::<String>())
        .collect();
    let nft_tables = if Path::new("/usr/sbin/nft").exists() {
        cmd_text("/usr/sbin/nft", &["list", "tables"])
    } else {
        String::from("no nft")
    };
    Outer {
        links,
        addrs,
        run_podnet: dir("/run/podnet"),
        run_netns: dir("/run/netns"),
        mounts,
        nft_tables,
        netns: std::fs::read_link("/proc/self/ns/net")
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    }
}

fn unchanged(before: Outer, scenario: impl FnOnce()) {
    scenario();
    let after = outer();
    assert_eq!(before, after, "the machine's own namespaces changed");
}

#[test]
fn bridge_scenario_leaves_the_machine_untouched() {
    unchanged(outer(), || {
        let sb = sandbox();
        podnet_ok(&sb, &["network", "create", "hermnet"]);
        let a = run_server(&sb, "herm1", &["--network", "hermnet"], 7000, "h1");
        let b = run_server(&sb, "herm2", &[], 7000, "h2");
        run_server(&sb, "herm3", &["--network", "container:herm1"], 7001, "h3");
        assert_eq!(
            tcp_reply(&sb, Some(s(&b, "netns")), "127.0.0.1", 7000),
            "h2"
        );
        assert_eq!(tcp_reply(&sb, None, s(&a, "ip"), 7001), "h3");
        let out = sb.podnet(["run", "--", "sh", "-c", "exit 7"]);
        assert_eq!(out.status.code(), Some(7));
        assert!(outer().links.iter().all(|l| !l.starts_with("pnv")));
        // Dropped with containers still running: the sandbox takes them along.
    });
}

#[test]
fn crash_and_gc_scenario_leaves_the_machine_untouched() {
    unchanged(outer(), || {
        let sb = sandbox();
        podnet_ok(&sb, &["network", "create", "hermgc"]);
        for k in 1..4 {
            let mut c = sb.podnet_cmd([
                "run",
                "-d",
                "--name",
                &format!("g{k}"),
                "--network",
                "hermgc",
                "--",
                "sleep",
                "infinity",
            ]);
            c.env("PODNET_FAULT", format!("attach:{k}"));
            let _ = output(c);
        }
        podnet_ok(&sb, &["gc"]);
        podnet_ok(
            &sb,
            &["run", "-d", "--name", "after", "--", "sleep", "infinity"],
        );
    });
}

#[test]
fn lab_scenario_leaves_the_machine_untouched() {
    unchanged(outer(), || {
        let lab = lab();
        let c = run_server(&lab.host, "hermlab", &[], 7000, "lab {peer}");
        let reply = tcp_reply(&lab.host, None, s(&c, "ip"), 7000);
        assert!(reply.starts_with("lab "), "{reply}");
        let host_ip = lab.config.host_ip().to_string();
        lab.host.serve(None, "tcp", &host_ip, 7100, "host").unwrap();
        assert_eq!(tcp_reply(&lab.outside, None, &host_ip, 7100), "host");
    });
}

#[test]
fn sandbox_state_is_invisible_from_outside() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "inv", "--", "sleep", "infinity"],
    );
    let c = inspect(&sb, "inv");
    let inside_path = s(&c, "netns").to_string();
    // Inside the sandbox the namespace file exists; on the machine it does not (unless it
    // is a /proc path, which would name a sandbox PID).
    assert!(sb.host_path(&inside_path).exists(), "{inside_path}");
    if inside_path.starts_with("/run/") {
        assert!(
            !Path::new(&inside_path).exists(),
            "{inside_path} visible outside"
        );
    }
    assert!(sb.host_path("/run/podnet-state").exists());
    assert!(!Path::new("/run/podnet-state").exists());
}
