//! podnet as netavark 2.1's driver plugin: a client sandbox with podnet installed as
//! `<plugin dir>/podnet`, and the JSON Podman 5 hands netavark.

use super::clients::{client_lab, client_sandbox};
use super::*;
use podnet::testbed::clients::{netavark_cmd, output_with_stdin};
use serde_json::json;

/// netavark's `--plugin-directory`; podnet is `PLUGINS/podnet` in it.
pub const PLUGINS: &str = "/run/nv-plugins";

fn install(sb: &Sandbox) {
    ok(
        "install the plugin",
        sb.sh(&format!(
            "mkdir -p {PLUGINS} && ln -s '{}' {PLUGINS}/podnet",
            sb.podnet_bin().display()
        )),
    );
}

/// A client sandbox with podnet installed as netavark's `podnet` driver.
pub fn nv_sandbox() -> Sandbox {
    let sb = client_sandbox();
    install(&sb);
    sb
}

/// A lab whose host runs netavark with podnet; `outside` reaches published ports.
pub fn nv_lab() -> Lab {
    let lab = client_lab();
    install(&lab.host);
    lab
}

/// A Podman network with the podnet driver, as `podman network create -d podnet NAME`
/// hands it over; `extra` fields replace the defaults.
pub fn network(name: &str, extra: Value) -> Value {
    let mut n = json!({
        "name": name, "id": format!("{:0>64x}", name.len() * 7919 + name.as_bytes()[0] as usize),
        "driver": "podnet",
        "ipv6_enabled": false, "internal": false, "dns_enabled": false,
    });
    for (k, v) in extra.as_object().expect("an object") {
        n[k] = v.clone();
    }
    n
}

/// `netavark create` with `network` (netavark's `NetworkCreateConfig`, as Podman sends it).
pub fn create_out(sb: &Sandbox, network: &Value) -> Output {
    let input = json!({
        "network": network,
        "used": {"interfaces": [], "names": {}, "subnets": []},
        "options": {"subnet_pools": [], "default_interface_name": "", "check_used_subnets": false}
    });
    output_with_stdin(
        netavark_cmd(sb, PLUGINS, ["create"]),
        input.to_string().as_bytes(),
    )
}

/// The completed network `netavark create` returns.
pub fn create(sb: &Sandbox, network: &Value) -> Value {
    let name = network["name"].as_str().unwrap_or("?").to_owned();
    parse(
        "netavark create",
        &ok(&format!("netavark create {name}"), create_out(sb, network)),
    )
}

/// One container on one network: netavark's `NetworkOptions` for setup and teardown.
pub fn container(id: &str, name: &str, network: &Value, opts: Value, ports: Value) -> Value {
    let net = network["name"].as_str().expect("network name").to_owned();
    let mut per = json!({"interface_name": "eth0", "aliases": [name]});
    for (k, v) in opts.as_object().expect("an object") {
        per[k] = v.clone();
    }
    json!({
        "container_id": format!("{id:0>64}"),
        "container_name": name,
        "networks": {&net: per},
        "network_info": {&net: network},
        "port_mappings": ports,
    })
}

/// `netavark setup NETNS` or `teardown NETNS` with `input`, and `env` set for netavark (and
/// so for the plugin).
pub fn call(sb: &Sandbox, verb: &str, netns: &str, input: &Value, env: &[(&str, &str)]) -> Output {
    let mut c = netavark_cmd(sb, PLUGINS, [verb, netns]);
    c.envs(env.iter().copied());
    output_with_stdin(c, input.to_string().as_bytes())
}

/// `netavark setup`'s answer for a container: its status block on `network`.
pub fn setup(sb: &Sandbox, netns: &str, input: &Value) -> Value {
    let out = ok(
        &format!("netavark setup {netns}"),
        call(sb, "setup", netns, input, &[]),
    );
    let all: Value = parse("netavark setup", &out);
    let net = input["network_info"]
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .expect("one network");
    all[&net].clone()
}

pub fn teardown(sb: &Sandbox, netns: &str, input: &Value) {
    ok(
        &format!("netavark teardown {netns}"),
        call(sb, "teardown", netns, input, &[]),
    );
}

/// netavark's error shape: exit 1 and exactly `{"error": MSG}` on stdout; returns MSG.
pub fn nv_error(what: &str, out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected exit 1\n{}",
        describe(out)
    );
    let v: Value = parse(what, testbed::stdout(out).trim());
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    assert_eq!(obj.len(), 1, "{what}: {v}");
    obj["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: error is not a string: {v}"))
        .to_owned()
}

/// What a refused call must leave as it was, IPv4 only (a new bridge's IPv6 link-local
/// address and route appear on the kernel's own time): links, addresses, routes, namespace
/// mounts, podnet's containers and networks, and the elements of podnet's nft sets.
pub fn view(sb: &Sandbox) -> Value {
    let links: Vec<Value> = as_list(ip_json(sb, &["link"]))
        .iter()
        .map(|l| json!([l["ifname"], l["master"], l["mtu"]]))
        .collect();
    let addrs: Vec<Value> = as_list(ip_json(sb, &["-4", "addr"]))
        .iter()
        .map(|l| json!([l["ifname"], l["addr_info"]]))
        .collect();
    // Without flags: a bridge's routes are `linkdown` while it has no port up, on the
    // kernel's own time.
    let routes: Vec<Value> = as_list(ip_json(sb, &["-4", "route", "show", "table", "all"]))
        .iter()
        .map(|r| json!([r["dst"], r["dev"], r["gateway"], r["table"], r["type"]]))
        .collect();
    json!({
        "links": links, "addrs": addrs, "routes": routes,
        "netns": netns_leftovers(sb), "ps": ps(sb), "networks": networks(sb),
        "nft": invariants::nft_elements(sb),
    })
}

/// One TCP exchange with nettool from the namespace `netns` (None: the sandbox's root one)
/// to HOST:PORT: Ok(reply line) or Err(what happened).
pub fn connect(
    sb: &Sandbox,
    netns: Option<&str>,
    host: &str,
    port: u16,
    timeout: f64,
) -> Result<String, String> {
    let mut c = match netns {
        Some(ns) => nettool_in(sb, ns),
        None => nettool(sb),
    };
    c.args([
        "connect",
        "tcp",
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

/// The `podnet ps` rows netavark made (runtime `netavark`), as (POD, container id, ifname, ip).
pub fn nv_rows(sb: &Sandbox) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = ps(sb)
        .into_iter()
        .filter(|c| c["runtime"]["runtime"] == "netavark")
        .map(|c| {
            let r = &c["runtime"];
            (
                r["k8s_name"].as_str().unwrap_or_default().to_owned(),
                r["container_id"].as_str().unwrap_or_default().to_owned(),
                r["ifname"].as_str().unwrap_or_default().to_owned(),
                c["ip"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// What netavark hands the plugin for `input`'s (only) network: its `NetworkPluginExec`.
pub fn plugin_input(input: &Value) -> Value {
    let (name, network) = input["network_info"]
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("one network");
    json!({
        "container_id": input["container_id"], "container_name": input["container_name"],
        "port_mappings": input["port_mappings"], "network": network,
        "network_options": input["networks"][name],
    })
}
