//! Self-tests of the test bed itself (no podnet involved): isolation, cleanup on drop,
//! the lab's LAN, and the traffic tool.

mod common;

use common::*;
use podnet::testbed::{self, reexec, Sandbox};
use std::path::Path;

#[test]
fn sandbox_starts_with_only_loopback_up() {
    let sb = sandbox();
    let links = ip_json(&sb, &["link"]);
    assert_eq!(names(&links), vec!["lo".to_string()], "{links}");
    let flags = links[0]["flags"].as_array().expect("flags");
    assert!(flags.iter().any(|f| f == "UP"), "lo not up: {links}");
    // sysfs reflects the sandbox's netns.
    let sys = ok("ls /sys/class/net", sb.sh("ls /sys/class/net"));
    assert_eq!(sys.split_whitespace().collect::<Vec<_>>(), vec!["lo"]);
    // /run is private: a fresh tmpfs (util-linux may add /run/mount).
    let run = ok("ls /run", sb.sh("ls -A /run"));
    for entry in run.split_whitespace() {
        assert!(
            ["testbed", "mount"].contains(&entry),
            "unexpected /run/{entry}"
        );
    }
}

#[test]
fn objects_made_inside_stay_inside_and_vanish_on_drop() {
    let outer_before = std::fs::read_to_string("/proc/net/dev").unwrap();
    let sb = sandbox();
    ok(
        "make objects",
        sb.sh("ip link add tbprobe0 type veth peer name tbprobe1 && ip link add tbbr0 type bridge && mkdir -p /run/netns && ip netns add tbns && touch /run/podnet-probe"),
    );
    assert!(link_names(&sb).contains(&"tbprobe0".to_string()));
    let outer = std::fs::read_to_string("/proc/net/dev").unwrap();
    assert!(!outer.contains("tbprobe0") && !outer.contains("tbbr0"));
    assert!(!Path::new("/run/podnet-probe").exists());
    assert!(!Path::new("/run/netns/tbns").exists());
    // A background process in the sandbox dies with it.
    let bg = sb.sh("sleep 1000 >/dev/null 2>&1 & echo $!");
    assert!(bg.status.success());
    let holder = sb.holder_pid();
    let netns = std::fs::read_link(sb.netns_path()).unwrap();
    drop(sb);
    assert!(
        !Path::new(&format!("/proc/{holder}")).exists()
            || std::fs::read_to_string(format!("/proc/{holder}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true),
        "holder {holder} still alive"
    );
    // No process on the machine is still in the sandbox's network namespace.
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(link) = std::fs::read_link(entry.path().join("ns/net")) {
            assert_ne!(
                link,
                netns,
                "pid {:?} still in sandbox netns",
                entry.file_name()
            );
        }
    }
    let outer_after = std::fs::read_to_string("/proc/net/dev").unwrap();
    assert!(!outer_after.contains("tbprobe0"));
    let _ = outer_before;
}

#[test]
fn orphans_are_reaped_by_the_holder() {
    let sb = sandbox();
    // The subshell exits at once; its child becomes an orphan of PID 1 and exits.
    ok("orphan", sb.sh("(sh -c 'exit 0' &) ; sleep 0.2"));
    sb.wait_until("no zombies", std::time::Duration::from_secs(10), || {
        let ps = testbed::stdout(&sb.sh("cat /proc/[0-9]*/stat 2>/dev/null"));
        !ps.lines().any(|l| l.contains(") Z "))
    })
    .unwrap();
}

#[test]
fn nettool_tcp_and_udp_round_trip_in_a_sandbox() {
    let sb = sandbox();
    sb.serve(None, "tcp", "127.0.0.1", 7100, "hello {peer}")
        .unwrap();
    sb.serve(None, "udp", "127.0.0.1", 7101, "udp-hello")
        .unwrap();
    assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 7100), "hello 127.0.0.1");
    let mut udp = nettool(&sb);
    udp.args(["connect", "udp", "127.0.0.1", "7101", "--count", "3"]);
    let text = ok("udp", output(udp));
    assert_eq!(text.lines().collect::<Vec<_>>(), vec!["udp-hello"; 3]);
    // Nothing listens on 7102: connect fails with exit 1, reach counts the RST as reachable.
    let mut refused = nettool(&sb);
    refused.args(["connect", "tcp", "127.0.0.1", "7102"]);
    assert_eq!(output(refused).status.code(), Some(1));
    let mut reach = nettool(&sb);
    reach.args(["reach", "127.0.0.1", "--port", "7102"]);
    assert!(ok("reach", output(reach)).contains("127.0.0.1 ok refused"));
}

#[test]
fn lab_machines_talk_over_the_lan() {
    let lab = lab();
    let host_ip = lab.config.host_ip().to_string();
    let outside_ip = lab.config.outside_ip().to_string();
    lab.host
        .serve(None, "tcp", "0.0.0.0", 7200, "host saw {peer}")
        .unwrap();
    lab.outside
        .serve(None, "tcp", "0.0.0.0", 7201, "outside saw {peer}")
        .unwrap();
    assert_eq!(
        tcp_reply(&lab.outside, None, &host_ip, 7200),
        format!("host saw {outside_ip}")
    );
    assert_eq!(
        tcp_reply(&lab.host, None, &outside_ip, 7201),
        format!("outside saw {host_ip}")
    );
    let routes = ip_json(&lab.host, &["route"]);
    assert!(
        routes
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["dst"] == "default"),
        "{routes}"
    );
}

#[test]
fn sandboxes_are_independent() {
    let a = Sandbox::new().unwrap();
    let b = Sandbox::new().unwrap();
    a.add_stub_link("onlya", "10.99.0.1/24").unwrap();
    let b_links = testbed::stdout(&b.sh("ip -o link"));
    assert!(!b_links.contains("onlya"), "{b_links}");
    assert_ne!(
        std::fs::read_link(a.netns_path()).unwrap(),
        std::fs::read_link(b.netns_path()).unwrap()
    );
}

/// Helper for the next test: run only when re-executed by it.
#[test]
#[ignore = "helper: run by sandbox_dies_with_a_killed_test_process"]
fn helper_make_sandbox_and_hang() {
    if std::env::var_os("TESTBED_HELPER").is_none() {
        return;
    }
    let sb = sandbox();
    ok(
        "probe",
        sb.sh("ip link add orphan0 type veth peer name orphan1"),
    );
    println!("holder {}", sb.holder_pid());
    std::thread::sleep(std::time::Duration::from_secs(3600));
}

fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    (fields.first() != Some(&"Z")).then(|| fields.get(19).unwrap_or(&"").to_string())
}

#[test]
fn sandbox_dies_with_a_killed_test_process() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_make_sandbox_and_hang",
            "--ignored",
            "--nocapture",
        ])
        .env("TESTBED_HELPER", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let holder: u32 = loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "helper ended early"
        );
        if let Some(p) = line.trim().strip_prefix("holder ") {
            break p.parse().unwrap();
        }
    };
    let started = start_time(holder).expect("holder running");
    let netns = std::fs::read_link(format!("/proc/{holder}/ns/net")).unwrap();
    child.kill().unwrap(); // SIGKILL: no destructor runs in the helper
    child.wait().unwrap();
    let sb = sandbox(); // only for its wait_until
    sb.wait_until("holder to die", std::time::Duration::from_secs(30), || {
        start_time(holder).as_ref() != Some(&started)
    })
    .unwrap();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(link) = std::fs::read_link(entry.path().join("ns/net")) {
            assert_ne!(
                link,
                netns,
                "pid {:?} still in the dead sandbox",
                entry.file_name()
            );
        }
    }
}

/// The sandboxed phase of the next test: does nothing unless re-executed by it.
#[test]
#[ignore = "helper: run by reexec_runs_this_binary_as_pid_1_of_a_fresh_sandbox"]
fn helper_reexec_phase() {
    if reexec::phase().is_none() {
        return;
    }
    let inside = reexec::enter().expect("enter the sandbox");
    let run = nix::sys::statfs::statfs("/run").expect("statfs /run");
    let mut links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .expect("sysfs")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    links.sort();
    let record = serde_json::json!({
        "phase": inside.phase,
        "pid": std::process::id(),
        "netns": reexec::netns_inode().unwrap(),
        "run_is_tmpfs": run.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC,
        "sys_class_net": links,
        "podnet_root": std::env::var("PODNET_ROOT").unwrap(),
        "state": inside.state,
        "state_exists": inside.state.is_dir(),
    });
    std::fs::write(&inside.records, format!("{record}\nsecond line\n")).unwrap();
}

#[test]
fn reexec_runs_this_binary_as_pid_1_of_a_fresh_sandbox() {
    let dir = std::env::temp_dir().join(format!("podnet-reexec-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let args: Vec<String> = ["--exact", "helper_reexec_phase", "--ignored", "--nocapture"]
        .map(String::from)
        .to_vec();
    let out = reexec::run("probe", &args, &dir).expect("run the phase");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "phase failed: {:?}", out.status);
    assert_eq!(out.records.len(), 2, "{:?}", out.records);
    assert_eq!(out.records[1], "second line");
    let r: serde_json::Value = serde_json::from_str(&out.records[0]).unwrap();
    assert_eq!(r["phase"], "probe");
    assert_eq!(r["pid"], 1, "{r}");
    assert_ne!(r["netns"], reexec::netns_inode().unwrap(), "{r}");
    assert_eq!(r["run_is_tmpfs"], true, "{r}");
    assert_eq!(r["sys_class_net"], serde_json::json!(["lo"]), "{r}");
    assert_eq!(r["podnet_root"], r["state"], "{r}");
    assert_eq!(r["state_exists"], true, "{r}");
    assert!(
        r["state"]
            .as_str()
            .unwrap()
            .starts_with(dir.to_str().unwrap()),
        "{r}"
    );
    assert!(left.is_empty(), "records or state left behind: {left:?}");
}
