//! Helpers for the published-port and isolation tests: a [`Lab`] (podnet on `host`, a LAN
//! neighbour `outside`), containers running nettool servers, and connections from the
//! outside machine, the host, or a container. Every check is a real TCP/UDP exchange.

use super::*;
use podnet::testbed::{Lab, Sandbox};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// The host's LAN address (where published ports are reached from the LAN).
pub const HOST_IP: &str = "198.18.0.1";
/// The outside machine's LAN address.
pub const OUTSIDE_IP: &str = "198.18.0.2";

/// Where a client runs.
#[derive(Clone, Copy, Debug)]
pub enum At<'a> {
    /// The outside machine's root namespace.
    Outside,
    /// The host's root namespace.
    Host,
    /// Inside a podnet container on the host, through `podnet exec NAME`.
    Container(&'a str),
}

/// The reply text a [`run_servers`] server sends: `NAME/PROTO/PORT/{peer}`.
pub fn reply_of(name: &str, proto: &str, port: u16) -> String {
    format!("{name}/{proto}/{port}/")
}

/// `podnet run -d --name NAME EXTRA... -- sh -c '...'`: one nettool server per
/// `(proto, port)`, each answering `NAME/PROTO/PORT/<client address>`; all but the last
/// run in the background, the last replaces the shell. Returns
/// `podnet inspect NAME` once every server is bound.
pub fn run_servers(sb: &Sandbox, name: &str, extra: &[&str], servers: &[(&str, u16)]) -> Value {
    run_servers_on(sb, name, extra, servers, "0.0.0.0")
}

/// [`run_servers`] with the servers bound to `bind` (`::` takes both families).
pub fn run_servers_on(
    sb: &Sandbox,
    name: &str,
    extra: &[&str],
    servers: &[(&str, u16)],
    bind: &str,
) -> Value {
    let py = testbed::python().display().to_string();
    let tool = testbed::nettool_path().display().to_string();
    let mut script = String::new();
    let mut ready = Vec::new();
    for (i, (proto, port)) in servers.iter().enumerate() {
        let file = format!("{}/{name}-{proto}-{port}.ready", sb.scratch());
        // The last server replaces the shell, so a one-server container is one process.
        let (exec, amp) = if i + 1 == servers.len() {
            ("exec ", "")
        } else {
            ("", " &")
        };
        script.push_str(&format!(
            "{exec}'{py}' '{tool}' serve {proto} {port} --bind {bind} --reply '{}{{peer}}' \
             --ready-file '{file}'{amp}\n",
            reply_of(name, proto, *port)
        ));
        ready.push(file);
    }
    let mut args: Vec<&str> = vec!["run", "-d", "--name", name];
    args.extend(extra);
    args.extend(["--", "sh", "-c", &script]);
    podnet_ok(sb, &args);
    for file in &ready {
        let path = sb.host_path(file);
        sb.wait_until(
            &format!("server {file} in {name}"),
            Duration::from_secs(20),
            || path.exists(),
        )
        .unwrap_or_else(|e| panic!("{e}; ps: {:?}", ps(sb)));
    }
    inspect(sb, name)
}

/// `podnet run -d --name NAME EXTRA... -- sleep infinity`; its `podnet inspect`.
pub fn run_idle(sb: &Sandbox, name: &str, extra: &[&str]) -> Value {
    let args = idle_args(name, extra);
    podnet_ok(sb, &args.iter().map(String::as_str).collect::<Vec<_>>());
    inspect(sb, name)
}

fn client(lab: &Lab, from: At) -> Command {
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

/// One nettool exchange (`proto` tcp or udp) from `from` to HOST:PORT: Ok(reply line), or
/// Err(what happened). `timeout` bounds each wait for a packet.
pub fn try_connect(
    lab: &Lab,
    from: At,
    proto: &str,
    host: &str,
    port: u16,
    timeout: f64,
) -> Result<String, String> {
    let mut c = client(lab, from);
    c.args([
        "connect",
        proto,
        host,
        &port.to_string(),
        "--timeout",
        &timeout.to_string(),
    ]);
    let out = output(c);
    let reply = testbed::stdout(&out).trim().to_string();
    if out.status.success() && !reply.is_empty() {
        Ok(reply)
    } else {
        Err(describe(&out))
    }
}

/// The reply of a connection that must succeed.
pub fn reply(lab: &Lab, from: At, proto: &str, host: &str, port: u16) -> String {
    try_connect(lab, from, proto, host, port, 5.0)
        .unwrap_or_else(|e| panic!("{proto} from {from:?} to {host}:{port} got no reply\n{e}"))
}

/// Asserts a connection from `from` to HOST:PORT is answered by server `name` listening
/// on `cport`, and returns the client address that server saw.
pub fn answered_by(
    lab: &Lab,
    from: At,
    proto: &str,
    host: &str,
    port: u16,
    name: &str,
    cport: u16,
) -> String {
    let got = reply(lab, from, proto, host, port);
    let want = reply_of(name, proto, cport);
    let peer = got.strip_prefix(&want).unwrap_or_else(|| {
        panic!("{proto} from {from:?} to {host}:{port}: reply {got:?}, expected {want}<peer>")
    });
    peer.to_string()
}

/// Asserts a connection from `from` to HOST:PORT gets no answer (refused, reset or
/// silently dropped).
pub fn no_answer(lab: &Lab, from: At, proto: &str, host: &str, port: u16) {
    if let Ok(got) = try_connect(lab, from, proto, host, port, 2.0) {
        panic!("{proto} from {from:?} to {host}:{port} must fail, but got the reply {got:?}");
    }
}

/// `nft ARGS...` in `sb`; stdout.
pub fn nft(sb: &Sandbox, args: &[&str]) -> String {
    let mut c = sb.cmd("nft");
    c.args(args);
    ok(&format!("nft {}", args.join(" ")), output(c))
}

/// Number of elements in podnet's map `ip podnet NAME` (`nft -j list map`).
pub fn map_len(sb: &Sandbox, map: &str) -> usize {
    let text = nft(sb, &["-j", "list", "map", "ip", "podnet", map]);
    let v = parse("nft -j list map", &text);
    let m = as_list(v["nftables"].clone())
        .into_iter()
        .find_map(|o| o.get("map").cloned())
        .unwrap_or_else(|| panic!("no map {map} in {text}"));
    m.get("elem")
        .and_then(|e| e.as_array())
        .map_or(0, |e| e.len())
}

/// Number of `rule` objects in `nft -j list ruleset`.
pub fn rule_count(sb: &Sandbox) -> usize {
    let text = nft(sb, &["-j", "list", "ruleset"]);
    let v = parse("nft -j list ruleset", &text);
    as_list(v["nftables"].clone())
        .iter()
        .filter(|o| o.get("rule").is_some())
        .count()
}

/// `(family, name)` of every table in `nft -j list tables`.
pub fn tables(sb: &Sandbox) -> Vec<(String, String)> {
    let text = nft(sb, &["-j", "list", "tables"]);
    let v = parse("nft -j list tables", &text);
    as_list(v["nftables"].clone())
        .iter()
        .filter_map(|o| o.get("table"))
        .map(|t| (s(t, "family").to_string(), s(t, "name").to_string()))
        .collect()
}

/// The podnet tables present.
pub fn podnet_tables(sb: &Sandbox) -> Vec<(String, String)> {
    tables(sb)
        .into_iter()
        .filter(|(_, n)| n == "podnet")
        .collect()
}
