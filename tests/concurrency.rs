//! Acceptance 5: 50 concurrent `podnet run -d` on one network, then 50 concurrent `rm -f`.

mod common;

use common::*;
use podnet::testbed::{describe, Sandbox};
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

const N: usize = 50;

/// Runs `podnet ARGS(i)` for i in 0..N all at once; panics listing every failure.
fn all_n_at_once(sb: &Sandbox, what: &str, args: impl Fn(usize) -> Vec<String>) {
    let cmds: Vec<Vec<String>> = (0..N).map(args).collect();
    all_succeed_at_once(sb, what, &cmds);
}

fn fifty_containers(network: Option<&str>) {
    let sb = sandbox();
    if let Some(n) = network {
        podnet_ok(&sb, &["network", "create", n]);
    }
    let net_name = network.unwrap_or("podnet0");
    all_n_at_once(&sb, "podnet run -d", |i| {
        let extra = network.map(|n| vec!["--network", n]).unwrap_or_default();
        idle_args(&format!("c{i}"), &extra)
    });

    // podnet's view: 50 running containers with distinct addresses in the subnet.
    let info = net_inspect(&sb, net_name);
    let subnet = net(s(&info, "subnet"));
    let gw = s(&info, "gateway").to_string();
    let bridge = s(&info, "bridge").to_string();
    let listed = ps(&sb);
    assert_eq!(listed.len(), N, "ps: {listed:?}");
    let ips: BTreeSet<String> = listed.iter().map(|c| s(c, "ip").to_string()).collect();
    assert_eq!(ips.len(), N, "addresses not distinct: {listed:?}");
    assert!(!ips.contains(&gw), "a container got the gateway {gw}");
    for c in &listed {
        assert_eq!(s(c, "status"), "running", "{c}");
        assert!(subnet.contains(&ipv4(s(c, "ip"))), "{c} outside {subnet}");
    }
    assert_eq!(
        info["containers"].as_array().map(|a| a.len()),
        Some(N),
        "{info}"
    );

    // The kernel's view: 50 host veths on the bridge, each container's eth0 has its address.
    let links = as_list(ip_json(&sb, &["link"]));
    let pnv: Vec<_> = links
        .iter()
        .filter(|l| s(l, "ifname").starts_with("pnv"))
        .collect();
    assert_eq!(
        pnv.len(),
        N,
        "pnv links: {:?}",
        names(&serde_json::json!(links))
    );
    for l in &pnv {
        assert_eq!(l["master"], bridge.as_str(), "{l}");
    }
    for c in &listed {
        let addrs = ip_json_in(&sb, s(c, "netns"), &["addr"]);
        let eth0 = v4_addrs(&addrs, "eth0");
        assert_eq!(eth0.len(), 1, "{}: {addrs}", s(c, "name"));
        assert_eq!(
            eth0[0].addr(),
            ipv4(s(c, "ip")),
            "{}: {addrs}",
            s(c, "name")
        );
    }
    // Real packets: every container answers the host (a RST from a closed port counts).
    let mut reach = nettool(&sb);
    reach.arg("reach").args(&ips).args(["--port", "9"]);
    ok("reach all 50 containers", output(reach));

    all_n_at_once(&sb, "podnet rm -f", |i| {
        vec!["rm".into(), "-f".into(), format!("c{i}")]
    });
    let info = net_inspect(&sb, net_name);
    assert_eq!(
        info["containers"].as_array().map(|a| a.len()),
        Some(0),
        "{info}"
    );
    assert!(ps(&sb).is_empty(), "ps after rm: {:?}", ps(&sb));
    // A namespace's devices are destroyed asynchronously by the kernel: wait for it.
    sb.wait_until("pnv links to go", Duration::from_secs(60), || {
        pnv_links(&sb).is_empty()
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", pnv_links(&sb)));
    assert!(
        netns_leftovers(&sb).is_empty(),
        "{:?}",
        netns_leftovers(&sb)
    );
}

#[test]
fn fifty_concurrent_runs_on_the_default_network() {
    // The default network is also made on first use, by 50 racing processes.
    fifty_containers(None);
}

#[test]
fn fifty_concurrent_runs_on_a_user_network() {
    fifty_containers(Some("busy"));
}

#[test]
fn gc_racing_with_runs_never_breaks_a_container() {
    let sb = sandbox();
    podnet_ok(&sb, &["network", "create", "race"]);
    let spawn = |args: Vec<String>| {
        let mut c = sb.podnet_cmd(args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c.spawn().expect("spawn")
    };
    let mut runs = Vec::new();
    let mut gcs = Vec::new();
    for i in 0..20 {
        let name = format!("r{i}");
        runs.push(spawn(
            [
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "race",
                "--",
                "sleep",
                "infinity",
            ]
            .map(String::from)
            .to_vec(),
        ));
        if i % 2 == 0 {
            gcs.push(spawn(vec!["gc".into()]));
        }
    }
    for (i, c) in runs.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "run r{i}: {}", describe(&out));
    }
    for c in gcs {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "gc: {}", describe(&out));
    }
    // Every container survived the concurrent gcs, whole.
    let listed = ps(&sb);
    assert_eq!(listed.len(), 20, "{listed:?}");
    for c in &listed {
        assert_eq!(s(c, "status"), "running", "{c}");
        let addrs = ip_json_in(&sb, s(c, "netns"), &["addr"]);
        assert_eq!(
            v4_addrs(&addrs, "eth0").first().map(|n| n.addr()),
            Some(ipv4(s(c, "ip"))),
            "{c}: {addrs}"
        );
    }
    assert_eq!(pnv_links(&sb).len(), 20, "{:?}", pnv_links(&sb));
    // And a gc with nothing to repair changes nothing.
    podnet_ok(&sb, &["gc"]);
    assert_eq!(ps(&sb), listed);
    assert_eq!(pnv_links(&sb).len(), 20);
}

/// The first commands on a new store race to switch it to WAL mode; SQLite refuses a
/// reader's lock upgrade at once (no busy wait), which surfaced as "another podnet process
/// held it too long" in 6 of 40 rounds of 10 concurrent first commands.
#[test]
fn first_commands_racing_on_a_new_store_all_succeed() {
    let sb = sandbox();
    for round in 0..15 {
        let children: Vec<_> = (0..10)
            .map(|_| {
                let mut c = sb.podnet_cmd(["gc"]);
                c.env("PODNET_ROOT", format!("/run/testbed/state{round}"))
                    .env("PODNET_RUN_DIR", format!("/run/testbed/run{round}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                c.spawn().expect("spawn gc")
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().expect("wait");
            assert!(out.status.success(), "round {round}: {}", describe(&out));
        }
    }
}
