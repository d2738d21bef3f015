//! Issue 10, acceptance 6: `--hostname`, `--dns`, `--dns-search` and `--add-host` are what a
//! container sees (its UTS name, its own /etc/resolv.conf and /etc/hosts, in a foreground
//! run and through `exec` of a detached one), the defaults follow Docker's rule (a user
//! network's DNS server, else the host's name servers without loopback ones), and the host's
//! own files and name never change.

mod common;

use common::*;
use podnet::model::etc::{resolv_conf, EtcSpec, HostResolv};

fn host_view(sb: &podnet::testbed::Sandbox) -> String {
    ok(
        "host files",
        sb.sh("cat /etc/resolv.conf /etc/hosts; echo; hostname"),
    )
}

#[test]
fn flags_are_visible_inside_and_the_host_files_stay_as_they_were() {
    let sb = sandbox();
    let before = host_view(&sb);
    podnet_ok(
        &sb,
        &["network", "create", "app", "--subnet", "10.84.0.0/24"],
    );
    // `getent -s files`: what is asserted is the container's /etc/hosts; through DNS, each
    // name's IPv6 miss in the file would wait out the --dns servers, which do not exist here.
    let out = podnet_ok(
        &sb,
        &[
            "run", "--name", "c1", "--network", "app", "--hostname", "h1",
            "--dns", "9.9.9.9", "--dns", "192.0.2.53",
            "--dns-search", "corp", "--dns-search", "example.org",
            "--add-host", "gw.local:10.0.0.1", "--add-host", "v6.local:[fd00::5]",
            "--", "sh", "-c",
            "hostname; echo ---; grep -v '^#' /etc/resolv.conf; echo ---; getent -s files hosts gw.local v6.local h1 c1",
        ],
    );
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts.len(), 3, "{out}");
    assert_eq!(parts[0], "h1\n");
    assert_eq!(
        parts[1],
        "nameserver 9.9.9.9\nnameserver 192.0.2.53\nsearch corp example.org\n"
    );
    let hosts: Vec<Vec<&str>> = parts[2]
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(hosts[0], ["10.0.0.1", "gw.local"], "{out}");
    assert_eq!(hosts[1], ["fd00::5", "v6.local"], "{out}");
    assert!(
        hosts[2][0].starts_with("10.84.0.") && hosts[2][1..] == ["h1", "c1"],
        "{out}"
    );
    assert_eq!(hosts[3], hosts[2], "the container's name resolves too");
    assert_eq!(
        host_view(&sb),
        before,
        "the host's files and name are unchanged"
    );
    let left = ok(
        "run dir",
        sb.sh("ls -A /run/podnet/etc 2>/dev/null || true"),
    );
    assert_eq!(left, "", "a finished run leaves no files");
}

#[test]
fn detached_defaults_follow_the_network_and_the_host_and_exec_sees_them() {
    let sb = sandbox();
    let before = host_view(&sb);
    podnet_ok(
        &sb,
        &["network", "create", "app", "--subnet", "10.84.0.0/24"],
    );
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "d1",
            "--network",
            "app",
            "--",
            "sleep",
            "infinity",
        ],
    );
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "d2", "--", "sleep", "infinity"],
    );
    let exec = |name: &str, cmd: &str| podnet_ok(&sb, &["exec", name, "--", "sh", "-c", cmd]);
    // A user network: its gateway is the name server (the agent's DNS serves there).
    let resolv1 = exec("d1", "grep nameserver /etc/resolv.conf");
    assert_eq!(resolv1, "nameserver 10.84.0.1\n");
    assert_eq!(exec("d1", "hostname"), "d1\n");
    // From its /etc/hosts (`-s files`, as above).
    let own = exec("d1", "getent -s files hosts d1");
    assert!(own.starts_with(s(&inspect(&sb, "d1"), "ip")), "{own}");
    // The default network: the host's resolvers without loopback ones (Docker's rule).
    let host = HostResolv::parse(&ok("host resolv.conf", sb.sh("cat /etc/resolv.conf")));
    let want = resolv_conf(&EtcSpec::default(), &[], &host);
    assert_eq!(exec("d2", "cat /etc/resolv.conf"), want);
    assert!(!want.contains("nameserver 127."), "{want}");
    assert_eq!(host_view(&sb), before);
    podnet_ok(&sb, &["rm", "-f", "d1", "d2"]);
    let left = ok(
        "run dir",
        sb.sh("ls -A /run/podnet/etc 2>/dev/null || true"),
    );
    assert_eq!(left, "", "rm leaves no files");
    assert_eq!(host_view(&sb), before);
}
