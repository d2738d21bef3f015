//! Issue 9: a dual-stack container's IPv6 lease is freed on every teardown path — `rm`,
//! `detach`, a crash at any step of `run` repaired by `gc`, and a reboot's recovery — and gc
//! and boot recovery give a bridge its IPv6 gateway back. A leaked lease shows as the next
//! `--ip6` of the same address being refused as taken.

mod common;

use common::v6::{sysctl, v6_addrs, v6_defaults};
use common::*;
use podnet::testbed::Sandbox;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

const NET: &str = "web";
const IP6: &str = "fd00:90::9";

fn dual(sb: &Sandbox) {
    podnet_ok(
        sb,
        &[
            "network",
            "create",
            NET,
            "--subnet",
            "10.90.0.0/24",
            "--subnet",
            "fd00:90::/64",
        ],
    );
}

/// `podnet run -d --name NAME --network NET --ip6 IP6 -- sleep infinity`.
fn run_cmd(sb: &Sandbox, name: &str) -> std::process::Command {
    sb.podnet_cmd(idle_args(name, &["--network", NET, "--ip6", IP6]))
}

fn run_with(sb: &Sandbox, name: &str) -> std::process::Output {
    output(run_cmd(sb, name))
}

/// `IP6` can be leased (to a fresh container, removed again): no lease of it is left.
fn assert_free(sb: &Sandbox, what: &str) {
    let probe = format!("probe-{}", what.len());
    ok(&format!("{what}: {IP6} free again"), run_with(sb, &probe));
    assert_eq!(s(&inspect(sb, &probe), "ip6"), IP6);
    podnet_ok(sb, &["rm", "-f", &probe]);
    let members = net_inspect(sb, NET)["containers"].clone();
    assert_eq!(members, serde_json::json!([]), "{what}: {members}");
}

#[test]
fn rm_and_detach_free_the_ipv6_lease() {
    let sb = sandbox();
    dual(&sb);
    ok("run", run_with(&sb, "a"));
    let c = inspect(&sb, "a");
    assert_eq!((s(&c, "ip6"), s(&c, "gateway6")), (IP6, "fd00:90::1"));
    let out = run_with(&sb, "b");
    assert_bad_input("a second container on the same --ip6", &out, "taken");
    podnet_ok(&sb, &["rm", "-f", "a"]);
    assert_free(&sb, "after rm");

    ok("ip netns add", sb.sh("ip netns add n1"));
    podnet_ok(
        &sb,
        &[
            "attach",
            "--netns",
            "/run/netns/n1",
            "--name",
            "n1",
            "--network",
            NET,
            "--ip6",
            IP6,
        ],
    );
    let addrs = ip_json_in(&sb, "/run/netns/n1", &["addr"]);
    assert_eq!(v6_addrs(&addrs, "eth0")[0].0, IP6, "{addrs}");
    podnet_ok(&sb, &["detach", "n1"]);
    assert_free(&sb, "after detach");
}

#[test]
fn a_crash_at_every_step_of_run_leaves_no_ipv6_lease_after_gc() {
    let sb = sandbox();
    dual(&sb);
    for k in 1..=40 {
        let name = format!("r{k}");
        let mut c = run_cmd(&sb, &name);
        c.env("PODNET_FAULT", format!("attach:{k}"));
        let out = output(c);
        if out.status.success() {
            assert!(k > 1, "attach:1 did not crash run -d");
            podnet_ok(&sb, &["rm", "-f", &name]);
            assert_free(&sb, "after the completed run");
            return;
        }
        assert_eq!(
            out.status.signal(),
            Some(9),
            "attach:{k}: {}",
            podnet::testbed::describe(&out)
        );
        podnet_ok(&sb, &["gc"]);
        // gc may keep a container whose crash came after its last step: it must be whole.
        if let Some(kept) = ps(&sb).first() {
            assert_eq!(s(kept, "ip6"), IP6, "attach:{k}");
            podnet_ok(&sb, &["rm", "-f", &name]);
        }
        assert_free(&sb, &format!("attach:{k} then gc"));
    }
    panic!("run -d never completed");
}

/// gc gives the bridge back its IPv6 gateway (deleted from outside, or with the bridge).
#[test]
fn gc_restores_the_bridge_ipv6_gateway() {
    let sb = sandbox();
    dual(&sb);
    ok("run", run_with(&sb, "a"));
    let gw = |sb: &Sandbox| v6_addrs(&ip_json(sb, &["addr"]), "pn-web");
    let has_gw = |sb: &Sandbox| {
        gw(sb)
            .iter()
            .any(|(a, p, f)| a == "fd00:90::1" && *p == 64 && f.contains(&"nodad".to_string()))
    };
    assert!(has_gw(&sb), "{:?}", gw(&sb));
    ok(
        "delete the gateway",
        sb.sh("ip -6 addr del fd00:90::1/64 dev pn-web"),
    );
    let report = podnet_ok(&sb, &["gc"]);
    assert!(
        report.contains("IPv6 gateway address fd00:90::1/64"),
        "{report}"
    );
    assert!(has_gw(&sb), "{:?}", gw(&sb));
    ok("delete the bridge", sb.sh("ip link del pn-web"));
    podnet_ok(&sb, &["gc"]);
    assert!(has_gw(&sb), "{:?}", gw(&sb));
    assert_eq!(sysctl(&sb, "net.ipv6.conf.pn-web.accept_ra"), "0");
}

struct StateDir(PathBuf);

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// After a reboot (a new sandbox on the same state), the first command retires the dead
/// container (its IPv6 lease free again), and the bridge has its IPv6 gateway and the host
/// forwards IPv6 again.
#[test]
fn boot_recovery_frees_ipv6_leases_and_rebuilds_the_ipv6_gateway() {
    let state = StateDir(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("v6boot-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&state.0);
    std::fs::create_dir_all(&state.0).unwrap();
    {
        let sb = sandbox_with_state(&state.0);
        dual(&sb);
        ok("run", run_with(&sb, "a"));
    }
    let sb = sandbox_with_state(&state.0);
    assert_eq!(sysctl(&sb, "net.ipv6.conf.all.forwarding"), "0");
    assert_free(&sb, "after the reboot");
    let addrs = v6_addrs(&ip_json(&sb, &["addr"]), "pn-web");
    assert!(
        addrs.iter().any(|(a, p, _)| a == "fd00:90::1" && *p == 64),
        "{addrs:?}"
    );
    assert_eq!(sysctl(&sb, "net.ipv6.conf.all.forwarding"), "1");
    // A new container is dual-stack as before.
    ok("run after boot", run_with(&sb, "b"));
    let ns = s(&inspect(&sb, "b"), "netns").to_string();
    let routes = v6_defaults(&ip_json_in(&sb, &ns, &["-6", "route"]));
    assert_eq!(routes[0].0, "fd00:90::1", "{routes:?}");
}

/// A runtime's attachment (CNI ADD) to a dual-stack network takes an IPv6 lease too; its DEL
/// frees it.
#[test]
fn cni_del_frees_the_ipv6_lease() {
    use common::cni::{cni_verb, conf};
    let sb = sandbox();
    dual(&sb);
    ok("ip netns add", sb.sh("ip netns add k1"));
    let c = conf("1.0.0", NET, serde_json::json!({}));
    cni_verb(&sb, "ADD", "k1", "/run/netns/k1", &c).ok("ADD");
    let ep = ps(&sb)
        .into_iter()
        .next()
        .expect("the runtime's attachment");
    let ip6 = s(&ep, "ip6").to_string();
    assert_eq!(ip6, "fd00:90::2", "{ep}");
    let addrs = ip_json_in(&sb, "/run/netns/k1", &["addr"]);
    assert_eq!(v6_addrs(&addrs, "eth0")[0].0, ip6, "{addrs}");
    cni_verb(&sb, "DEL", "k1", "/run/netns/k1", &c).ok("DEL");
    assert!(ps(&sb).is_empty());
    // The round-robin hint moved on; the address itself must be free again.
    let out = sb.podnet([
        "run",
        "-d",
        "--name",
        "after",
        "--network",
        NET,
        "--ip6",
        &ip6,
        "--",
        "sleep",
        "infinity",
    ]);
    ok("the runtime's IPv6 address is free again", out);
}
