//! End to end through the CLI: podnet next to Docker's `iptables -P FORWARD DROP`
//! (iptables-nft backend), in a sandboxed lab. podnet must let its bridges' traffic through
//! with its own tagged rules in `ip filter FORWARD`, remove them with its last network, and
//! `podnet gc` must put them back when someone deletes them.

mod common;

use common::iptables_nft::require_iptables_nft;
use common::*;
use podnet::testbed::{self, Sandbox};

/// `iptables -S FORWARD` in the sandbox; fails on any warning.
fn forward(sb: &Sandbox) -> String {
    let out = sb.sh("iptables -S FORWARD");
    assert!(out.status.success(), "{}", testbed::describe(&out));
    let err = testbed::stderr(&out);
    assert!(err.trim().is_empty(), "iptables warned: {err}");
    testbed::stdout(&out)
}

fn podnet_lines(sb: &Sandbox) -> Vec<String> {
    forward(sb)
        .lines()
        .filter(|l| l.contains("--comment podnet"))
        .map(String::from)
        .collect()
}

fn accepts(br: &str) -> Vec<String> {
    vec![
        format!("-A FORWARD -i {br} -m comment --comment podnet -j ACCEPT"),
        format!("-A FORWARD -o {br} -m comment --comment podnet -j ACCEPT"),
    ]
}

/// One TCP connection attempt that must fail (dropped: times out).
fn tcp_blocked(sb: &Sandbox, host: &str, port: u16) {
    let mut c = nettool(sb);
    c.args(["connect", "tcp", host, &port.to_string(), "--timeout", "2"]);
    let out = output(c);
    assert!(
        !out.status.success(),
        "expected {host}:{port} to be blocked\n{}",
        testbed::describe(&out)
    );
}

#[test]
fn published_port_and_outbound_pass_a_docker_forward_drop() {
    require_iptables_nft();
    let lab = lab();
    let (host_ip, outside_ip) = (lab.config.host_ip(), lab.config.outside_ip());
    lab.host
        .sh_ok("iptables -P FORWARD DROP && iptables -N DOCKER-USER && iptables -A FORWARD -j DOCKER-USER")
        .unwrap();

    let c = run_server(&lab.host, "web", &["-p", "8080:80"], 80, "web {peer}");
    assert_eq!(podnet_lines(&lab.host), accepts("podnet0"));
    let text = forward(&lab.host);
    assert!(
        text.starts_with("-P FORWARD DROP\n-A FORWARD -i podnet0"),
        "{text}"
    );

    // Published port from outside; the container's outbound TCP to outside.
    let reply = tcp_reply(&lab.outside, None, host_ip, 8080);
    assert_eq!(reply, format!("web {outside_ip}"));
    lab.outside
        .serve(None, "tcp", outside_ip, 7100, "out {peer}")
        .unwrap();
    let reply = tcp_reply(&lab.host, Some(s(&c, "netns")), outside_ip, 7100);
    assert_eq!(
        reply,
        format!("out {host_ip}"),
        "masqueraded to the host's address"
    );

    // Control: without podnet's rules Docker's policy drops the published port...
    lab.host.sh_ok("iptables -D FORWARD -i podnet0 -m comment --comment podnet -j ACCEPT && iptables -D FORWARD -o podnet0 -m comment --comment podnet -j ACCEPT").unwrap();
    assert_eq!(podnet_lines(&lab.host), Vec::<String>::new());
    tcp_blocked(&lab.outside, host_ip, 8080);
    // ...and gc puts them back.
    podnet_ok(&lab.host, &["gc"]);
    assert_eq!(podnet_lines(&lab.host), accepts("podnet0"));
    assert_eq!(
        tcp_reply(&lab.outside, None, host_ip, 8080),
        format!("web {outside_ip}")
    );

    // podnet's last network gone: its rules are gone, Docker's chain is as Docker left it.
    podnet_ok(&lab.host, &["rm", "-f", "web"]);
    assert_eq!(
        podnet_lines(&lab.host),
        accepts("podnet0"),
        "the network is still there"
    );
    podnet_ok(&lab.host, &["network", "rm", "podnet0"]);
    assert_eq!(
        forward(&lab.host),
        "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n"
    );
    assert_eq!(
        ok("nft list tables", lab.host.sh("nft list tables")),
        "table ip filter\n"
    );
}

#[test]
fn networks_come_and_go_with_their_rules() {
    require_iptables_nft();
    let sb = sandbox();
    sb.sh_ok("iptables -P FORWARD DROP").unwrap();
    podnet_ok(&sb, &["network", "create", "web"]);
    podnet_ok(&sb, &["network", "create", "--internal", "db"]);
    let mut want =
        vec!["-A FORWARD -i pn-db -o pn-db -m comment --comment podnet -j ACCEPT".to_string()];
    want.extend(accepts("pn-web"));
    assert_eq!(
        podnet_lines(&sb),
        want,
        "the newest network's rules go on top"
    );

    // Containers of an --internal network still reach each other (br_netfilter hands their
    // bridged traffic to the forward hook, where Docker's policy would drop it).
    let a = run_server(&sb, "db1", &["--network", "db"], 7000, "db1");
    let b = run_server(&sb, "db2", &["--network", "db"], 7000, "db2");
    let (ns_b, ip_a) = (s(&b, "netns"), s(&a, "ip"));
    assert_eq!(tcp_reply(&sb, Some(ns_b), ip_a, 7000), "db1");
    // Control: without that rule they do not; gc puts it back.
    sb.sh_ok("iptables -D FORWARD -i pn-db -o pn-db -m comment --comment podnet -j ACCEPT")
        .unwrap();
    let mut c = nettool_in(&sb, ns_b);
    c.args(["connect", "tcp", ip_a, "7000", "--timeout", "2"]);
    let out = output(c);
    assert!(!out.status.success(), "{}", testbed::describe(&out));
    podnet_ok(&sb, &["gc"]);
    assert_eq!(podnet_lines(&sb), want);
    assert_eq!(tcp_reply(&sb, Some(ns_b), ip_a, 7000), "db1");

    podnet_ok(&sb, &["rm", "-f", "db1", "db2"]);
    podnet_ok(&sb, &["network", "rm", "db"]);
    assert_eq!(podnet_lines(&sb), accepts("pn-web"));
    podnet_ok(&sb, &["network", "rm", "web"]);
    assert_eq!(forward(&sb), "-P FORWARD DROP\n");
}

#[test]
fn accept_policy_gets_no_rules() {
    require_iptables_nft();
    let sb = sandbox();
    sb.sh_ok("iptables -A FORWARD -i docker0 -j ACCEPT")
        .unwrap();
    podnet_ok(&sb, &["network", "create", "web"]);
    assert_eq!(
        forward(&sb),
        "-P FORWARD ACCEPT\n-A FORWARD -i docker0 -j ACCEPT\n"
    );
    // Docker starts later and sets DROP: `podnet gc` catches up.
    sb.sh_ok("iptables -P FORWARD DROP").unwrap();
    podnet_ok(&sb, &["gc"]);
    assert_eq!(podnet_lines(&sb), accepts("pn-web"));
}
