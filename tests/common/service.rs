//! Helpers for the `podnet service` CLI acceptance tests (`tests/service_cli_*.rs`): a
//! [`Lab`] (podnet on `host`, a LAN neighbour `outside`), backend containers started with
//! labels that run nettool servers answering `NAME/PROTO/PORT/<client>`, and many
//! exchanges from one vantage point counted by the backend that answered. Every check is
//! real TCP/UDP traffic; nothing is timed.

use super::publish::*;
use super::*;
use podnet::testbed::{self, describe, Lab, Sandbox};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The TCP port every backend serves on (a service's target port).
pub const TCP_TARGET: u16 = 8080;
/// The UDP port every backend serves on.
pub const UDP_TARGET: u16 = 5353;
/// Key under which [`spread`] counts exchanges that got no reply.
pub const NO_REPLY: &str = "<no reply>";

/// `podnet run -d --name NAME -l LABEL... -- ...`: nettool servers on tcp 8080 and udp
/// 5353 answering `NAME/PROTO/PORT/<client>`; its `podnet inspect` once both are bound.
pub fn backend(sb: &Sandbox, name: &str, labels: &[&str], extra: &[&str]) -> Value {
    let mut args: Vec<&str> = vec![];
    for l in labels {
        args.extend(["-l", l]);
    }
    args.extend(extra);
    run_servers(sb, name, &args, &[("tcp", TCP_TARGET), ("udp", UDP_TARGET)])
}

/// `podnet service create NAME ARGS...`, which must succeed; the service's
/// `podnet service inspect NAME --format json`.
pub fn service(sb: &Sandbox, name: &str, args: &[&str]) -> Value {
    let mut all = vec!["service", "create", name];
    all.extend(args);
    podnet_ok(sb, &all);
    podnet_json(sb, &["service", "inspect", name])
}

/// A service of `family` (`ipv4`, `ipv6`, `dual`) for the backends labelled `selector`: TCP
/// 80 → [`TCP_TARGET`] and UDP 53 → [`UDP_TARGET`], also on `node_port`; as [`service`].
pub fn tcp_udp_service(
    sb: &Sandbox,
    name: &str,
    family: &str,
    selector: &str,
    node_port: u16,
) -> Value {
    let node_port = node_port.to_string();
    let args = [
        "--ip-family",
        family,
        "--port",
        "80:8080",
        "--port",
        "53:5353/udp",
        "--selector",
        selector,
        "--node-port",
        &node_port,
    ];
    service(sb, name, &args)
}

/// The service's VIP (from `service inspect`).
pub fn vip(svc: &Value) -> String {
    s(svc, "vip").to_string()
}

/// A nettool client command at `from` (outside machine, host, or a container through
/// `podnet exec`).
pub fn client(lab: &Lab, from: At) -> Command {
    match from {
        At::Outside => nettool(&lab.outside),
        At::Host => nettool(&lab.host),
        At::Container(name) => {
            let mut c = lab.host.podnet_cmd(["exec", name, "--"]);
            c.args(nettool_argv());
            c
        }
    }
}

/// `n` exchanges from `from` to HOST:PORT over `proto`, each a new TCP connection or a UDP
/// datagram from a new socket (so each is balanced on its own). Returns how many each
/// backend answered (the NAME of `NAME/PROTO/PORT/...`), with exchanges that got no reply
/// under [`NO_REPLY`].
pub fn spread(
    lab: &Lab,
    from: At,
    proto: &str,
    host: &str,
    port: u16,
    n: usize,
) -> BTreeMap<String, usize> {
    let mut c = client(lab, from);
    c.args([
        "connect",
        proto,
        host,
        &port.to_string(),
        "--count",
        &n.to_string(),
        "--timeout",
        "3",
    ]);
    let out = output(c);
    let text = testbed::stdout(&out);
    let mut m = BTreeMap::new();
    let mut got = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let name = line.split('/').next().unwrap_or("").to_string();
        *m.entry(name).or_insert(0) += 1;
        got += 1;
    }
    if got < n {
        m.insert(NO_REPLY.to_string(), n - got);
        println!(
            "{proto} {from:?} -> {host}:{port}: {} of {n} without reply\n{}",
            n - got,
            describe(&out)
        );
    }
    m
}

/// Asserts every exchange of `m` was answered, by exactly the backends `names`, each
/// within `lo..=hi` times.
pub fn assert_spread(
    what: &str,
    m: &BTreeMap<String, usize>,
    names: &[&str],
    lo: usize,
    hi: usize,
) {
    let got: BTreeSet<&str> = m.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(got, want, "{what}: answered by {m:?}, expected {names:?}");
    for (k, v) in m {
        assert!(
            (lo..=hi).contains(v),
            "{what}: {k} answered {v} times, expected {lo}..={hi}: {m:?}"
        );
    }
}

/// Asserts one exchange from `from` to HOST:PORT is refused at once: the client reports
/// "refused" (a TCP RST or an ICMP port unreachable), not a timeout.
pub fn assert_refused(lab: &Lab, from: At, proto: &str, host: &str, port: u16) {
    match try_connect(lab, from, proto, host, port, 5.0) {
        Ok(reply) => {
            panic!("{proto} from {from:?} to {host}:{port} must be refused, got reply {reply:?}")
        }
        Err(e) => assert!(
            e.contains("refused"),
            "{proto} from {from:?} to {host}:{port} must be refused (RST/ICMP), not time \
             out or fail otherwise:\n{e}"
        ),
    }
}

/// A UDP probe from the host itself to an empty service fails at once: the reject in the
/// output hook drops the datagram, so the send itself fails (EPERM), in both families. Never
/// a timeout (the reject missing, or a wrong verdict), and never a reply.
pub fn assert_host_udp_refused(lab: &Lab, host: &str, port: u16) {
    match try_connect(lab, At::Host, "udp", host, port, 5.0) {
        Ok(reply) => panic!("udp from the host to {host}:{port} must be refused, got {reply:?}"),
        Err(e) => assert!(
            e.contains("Operation not permitted"),
            "udp from the host to {host}:{port} must fail at once on send (EPERM), not time \
             out or fail otherwise:\n{e}"
        ),
    }
}

/// The backend names that answered in `m` (no [`NO_REPLY`]).
pub fn answered(m: &BTreeMap<String, usize>) -> BTreeSet<String> {
    m.keys().filter(|k| *k != NO_REPLY).cloned().collect()
}

/// `podnet service inspect NAME --format json`'s `backends`, sorted.
pub fn backend_ips(sb: &Sandbox, name: &str) -> Vec<String> {
    let v = podnet_json(sb, &["service", "inspect", name]);
    let mut ips: Vec<String> = as_list(v["backends"].clone())
        .iter()
        .map(|b| b.as_str().unwrap_or_default().to_string())
        .collect();
    ips.sort();
    ips
}

/// `nft list table ip podnet-svc` (stdout and stderr, with the exit status), for
/// before/after comparisons.
pub fn svc_table(sb: &Sandbox) -> String {
    let out = sb.sh("nft list table ip podnet-svc 2>&1; echo rc=$?");
    testbed::stdout(&out)
}
