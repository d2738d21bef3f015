//! Helpers for the IPv6 (dual-stack) tests.

use super::publish::run_servers_on;
use super::service::{TCP_TARGET, UDP_TARGET};
use super::*;
use podnet::testbed::{Lab, Sandbox};
use serde_json::Value;
use std::time::Duration;

/// The host's and the LAN neighbour's IPv6 addresses on the lab's LAN.
pub const HOST6: &str = "fd00:18::1";
pub const OUTSIDE6: &str = "fd00:18::2";

/// A lab whose LAN also carries IPv6, once no address on it is tentative (DAD on the
/// link-local addresses otherwise loses the first packet to neighbour discovery).
pub fn lab6() -> Lab {
    let lab = lab();
    lab.host
        .sh_ok(&format!("ip -6 addr add {HOST6}/64 dev lan0 nodad"))
        .unwrap();
    lab.outside
        .sh_ok(&format!("ip -6 addr add {OUTSIDE6}/64 dev lan0 nodad"))
        .unwrap();
    for sb in [&lab.host, &lab.outside] {
        sb.wait_until("no tentative IPv6 address", Duration::from_secs(10), || {
            podnet::testbed::stdout(&sb.sh("ip -6 addr show tentative"))
                .trim()
                .is_empty()
        })
        .unwrap();
    }
    lab
}

/// A sysctl of the sandbox's host namespace, e.g. `net.ipv6.conf.all.forwarding`.
pub fn sysctl(sb: &Sandbox, key: &str) -> String {
    ok(
        &format!("sysctl {key}"),
        sb.sh(&format!("cat /proc/sys/{}", key.replace('.', "/"))),
    )
    .trim()
    .to_string()
}

/// Every `net.ipv6.conf.*.*` value of the sandbox's host namespace, one `IF.KEY=VALUE` a line,
/// sorted (what "the host's IPv6 configuration" is, for a before/after comparison).
pub fn ipv6_conf(sb: &Sandbox) -> Vec<String> {
    // One process: a `cat` per file costs seconds on a loaded machine.
    let out = ok(
        "ipv6 conf",
        sb.sh("cd /proc/sys/net/ipv6/conf && grep -rs '' . || true"),
    );
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let (path, value) = l.trim_start_matches("./").split_once(':')?;
            Some(format!("{}={}", path.replace('/', "."), value.trim()))
        })
        .collect();
    v.sort();
    v
}

/// Starts `podnet run -d --name NAME [EXTRA...] -- nettool serve tcp PORT --bind :: --reply
/// REPLY` (a socket taking both families) and returns `podnet inspect NAME` once it listens.
pub fn run_server6(sb: &Sandbox, name: &str, extra: &[&str], port: u16, reply: &str) -> Value {
    let port = port.to_string();
    let serve = ["serve", "tcp", &port, "--bind", "::", "--reply", reply];
    run_nettool_server(sb, name, extra, &serve)
}

/// [`run_server6`] of container NAME on NETWORK publishing host port 8080 → 80, answering
/// `NAME/<client address>`.
pub fn publish_8080_server6(sb: &Sandbox, name: &str, network: &str) -> Value {
    let reply = format!("{name}/{{peer}}");
    run_server6(
        sb,
        name,
        &["--network", network, "-p", "8080:80"],
        80,
        &reply,
    )
}

/// The IPv6 addresses of `ifname` in `addrs` (`ip -j addr`), with their flags as `ip` shows
/// them (`nodad`, `tentative`, ...).
pub fn v6_addrs(addrs: &Value, ifname: &str) -> Vec<(String, u8, Vec<String>)> {
    as_list(addrs.clone())
        .iter()
        .filter(|l| l["ifname"] == ifname)
        .flat_map(|l| as_list(l["addr_info"].clone()))
        .filter(|a| a["family"] == "inet6")
        .map(|a| {
            let flags = ["nodad", "tentative", "dadfailed", "optimistic"]
                .iter()
                .filter(|f| a[**f] == Value::Bool(true))
                .map(|f| f.to_string())
                .collect();
            (
                a["local"].as_str().unwrap_or_default().to_string(),
                a["prefixlen"].as_u64().unwrap_or_default() as u8,
                flags,
            )
        })
        .collect()
}

/// The IPv6 default routes in `routes` (`ip -j -6 route`), as (gateway, dev, protocol).
pub fn v6_defaults(routes: &Value) -> Vec<(String, String, String)> {
    as_list(routes.clone())
        .iter()
        .filter(|r| r["dst"] == "default")
        .map(|r| {
            (
                r["gateway"].as_str().unwrap_or_default().to_string(),
                r["dev"].as_str().unwrap_or_default().to_string(),
                r["protocol"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// [`super::service::backend`] whose servers (tcp 8080, udp 5353) are bound to `::`, so
/// they answer over both families.
pub fn backend6(sb: &Sandbox, name: &str, labels: &[&str], extra: &[&str]) -> Value {
    let mut args: Vec<&str> = vec![];
    for l in labels {
        args.extend(["-l", l]);
    }
    args.extend(extra);
    run_servers_on(
        sb,
        name,
        &args,
        &[("tcp", TCP_TARGET), ("udp", UDP_TARGET)],
        "::",
    )
}

/// The `ip6` of a `podnet inspect`, which must have one.
pub fn ip6_of(info: &Value) -> String {
    info["ip6"]
        .as_str()
        .unwrap_or_else(|| panic!("no ip6 in {info}"))
        .to_string()
}
