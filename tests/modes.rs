//! Acceptance 2: network modes `none`, `host` and `container:NAME`.

mod common;

use common::*;
use podnet::testbed::Sandbox;

fn is_up(link: &serde_json::Value) -> bool {
    link["flags"].as_array().unwrap().iter().any(|f| f == "UP")
}

/// Inode of the network namespace at `path` inside the sandbox.
fn netns_inode(sb: &Sandbox, path: &str) -> String {
    ok(
        &format!("stat {path}"),
        sb.sh(&format!("stat -L -c %i {path}")),
    )
    .trim()
    .to_string()
}

#[test]
fn none_has_only_loopback_up() {
    let sb = sandbox();
    // Foreground: the command sees only lo.
    let out = podnet_ok(&sb, &["run", "--network", "none", "--", "ip", "-j", "link"]);
    let links = parse("ip -j link in --network none", &out);
    assert_eq!(names(&links), vec!["lo"], "{links}");
    assert!(is_up(&links[0]), "lo is down: {links}");
    // Detached: an independent look at its namespace.
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "n",
            "--network",
            "none",
            "--",
            "sleep",
            "infinity",
        ],
    );
    let c = inspect(&sb, "n");
    assert_eq!(s(&c, "mode"), "none", "{c}");
    let links = ip_json_in(&sb, s(&c, "netns"), &["link"]);
    assert_eq!(names(&links), vec!["lo"], "{links}");
    assert!(is_up(&links[0]), "lo is down: {links}");
    assert_ne!(
        netns_inode(&sb, s(&c, "netns")),
        netns_inode(&sb, "/proc/1/ns/net"),
        "none must not be the host namespace"
    );
    assert!(pnv_links(&sb).is_empty(), "none made a host veth");
}

#[test]
fn host_sees_the_hosts_interfaces() {
    let sb = sandbox();
    sb.add_stub_link("hostprobe0", "10.251.0.1/24").unwrap();
    let host_links = link_names(&sb);
    let out = podnet_ok(&sb, &["run", "--network", "host", "--", "ip", "-j", "link"]);
    let seen = names(&parse("ip -j link in --network host", &out));
    assert_eq!(seen, host_links);
    let addrs = parse(
        "ip -j addr in --network host",
        &podnet_ok(&sb, &["run", "--network", "host", "--", "ip", "-j", "addr"]),
    );
    assert_eq!(
        v4_addrs(&addrs, "hostprobe0"),
        vec![net("10.251.0.1/24")],
        "{addrs}"
    );
    assert!(pnv_links(&sb).is_empty(), "host mode made a host veth");
}

#[test]
fn container_mode_shares_the_namespace_and_rm_leaves_the_owner_intact() {
    let sb = sandbox();
    let a = run_server(&sb, "a", &[], 7000, "from-a");
    let ip_a = s(&a, "ip").to_string();

    // Foreground joiner: sees A's eth0 and talks to A over 127.0.0.1.
    let out = podnet_ok(
        &sb,
        &["run", "--network", "container:a", "--", "ip", "-j", "addr"],
    );
    let addrs = parse("ip -j addr in container:a", &out);
    assert_eq!(v4_addrs(&addrs, "eth0")[0].addr(), ipv4(&ip_a), "{addrs}");
    let mut args = vec!["run".to_string(), "--network".into(), "container:a".into()];
    args.push("--".into());
    args.extend(nettool_argv());
    args.extend(["connect", "tcp", "127.0.0.1", "7000"].map(String::from));
    assert_eq!(ok("joiner nettool", sb.podnet(&args)).trim(), "from-a");

    // Detached joiner: same namespace, no veth of its own.
    let veths_before = pnv_links(&sb);
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "j",
            "--network",
            "container:a",
            "--",
            "sleep",
            "infinity",
        ],
    );
    let j = inspect(&sb, "j");
    assert_eq!(
        netns_inode(&sb, s(&j, "netns")),
        netns_inode(&sb, s(&a, "netns")),
        "j is not in a's namespace: {j}"
    );
    assert_eq!(pnv_links(&sb), veths_before, "the joiner made a veth");
    let mut exec = vec!["exec".to_string(), "j".into(), "--".into()];
    exec.extend(nettool_argv());
    exec.extend(["connect", "tcp", "127.0.0.1", "7000"].map(String::from));
    assert_eq!(ok("exec j nettool", sb.podnet(&exec)).trim(), "from-a");

    // Removing the joiner leaves A working.
    podnet_ok(&sb, &["rm", "-f", "j"]);
    let names: Vec<String> = ps(&sb).iter().map(|c| s(c, "name").to_string()).collect();
    assert_eq!(names, vec!["a"]);
    let a_after = inspect(&sb, "a");
    assert_eq!(s(&a_after, "status"), "running", "{a_after}");
    let addrs = ip_json_in(&sb, s(&a, "netns"), &["addr"]);
    assert_eq!(v4_addrs(&addrs, "eth0")[0].addr(), ipv4(&ip_a), "{addrs}");
    assert_eq!(pnv_links(&sb), veths_before);
    assert_eq!(tcp_reply(&sb, None, &ip_a, 7000), "from-a");
}
