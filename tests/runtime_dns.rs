//! Runtimes' containers on a podnet network with DNS (issue 10): the CNI ADD result's `dns`
//! and netavark's status block (`dns_server_ips`, `dns_search_domains`) name the agent's
//! server on the gateway with podnet's search domain, so the runtime writes the container's
//! resolv.conf; the container is named by the agent the moment the call returns, and gone
//! when DEL/teardown returns. Driven by the real callers: libcni (`cnitool`), Podman 4.3's
//! CNI backend, netavark 2.1; lookups with real `dig` and the container's own resolver.

mod common;

use common::agent::dig_from;
use common::clients::{client_sandbox, must};
use common::dns::dig;
use common::nv;
use common::*;
use podnet::testbed::clients::{
    self, cnitool, podman_ok, setup_podman, CniTool, PodmanCni, BUSYBOX,
};
use podnet::testbed::{Sandbox, SANDBOX_STATE_DIR};
use serde_json::{json, Value};

const GW: &str = "10.77.0.1";

/// A podnet network `app` made by the CLI (DNS on, the default), with container `db` on it;
/// db's address.
fn app_with_db(sb: &Sandbox) -> String {
    podnet_ok(
        sb,
        &["network", "create", "app", "--subnet", "10.77.0.0/24"],
    );
    podnet_ok(
        sb,
        &[
            "run",
            "-d",
            "--name",
            "db",
            "--network",
            "app",
            "--",
            "sleep",
            "infinity",
        ],
    );
    s(&inspect(sb, "db"), "ip").to_string()
}

/// The `podnet ps` row of the runtime attachment of container `id` (CNI_CONTAINERID, or
/// Podman's name as `k8s_name`).
fn runtime_row(sb: &Sandbox, key: &str, id: &str) -> Value {
    ps(sb)
        .into_iter()
        .find(|r| r["runtime"][key] == id)
        .unwrap_or_else(|| panic!("no runtime attachment {key}={id}: {:?}", ps(sb)))
}

fn write(sb: &Sandbox, path: &str, text: &str) {
    must(clients::write_file(sb, path, text));
}

/// A conflist of podnet alone for network `name`, with `extra` keys in its plugin.
fn conflist(version: &str, name: &str, extra: Value) -> String {
    let mut plugin = json!({"type": "podnet", "root": SANDBOX_STATE_DIR});
    for (k, v) in extra.as_object().unwrap() {
        plugin[k] = v.clone();
    }
    json!({"cniVersion": version, "name": name, "plugins": [plugin]}).to_string()
}

#[test]
fn cni_add_on_a_dns_network_names_the_server_and_the_container_answers() {
    let sb = client_sandbox();
    let db = app_with_db(&sb);
    let bin = "/run/cni-bin";
    ok(
        "install podnet",
        sb.sh(&format!(
            "mkdir -p {bin} && ln -sf '{}' {bin}/podnet",
            env!("CARGO_BIN_EXE_podnet")
        )),
    );
    let dns = json!({"nameservers": [GW], "search": ["dns.podnet"]});
    // (container, CNI version, network, plugin keys, the result's dns)
    let cases = [
        ("a1", "1.0.0", "app", json!({}), dns.clone()),
        ("a2", "0.4.0", "app", json!({}), dns.clone()),
        // The configuration's own dns is what it says.
        (
            "a3",
            "1.0.0",
            "app",
            json!({"dns": {"nameservers": ["192.0.2.53"]}}),
            json!({"nameservers": ["192.0.2.53"]}),
        ),
        // Declaring the aliases capability lets libcni pass the runtime's aliases.
        (
            "a4",
            "1.0.0",
            "app",
            json!({"capabilities": {"aliases": true}}),
            dns.clone(),
        ),
        // A network the plugin makes has no DNS: no dns in the result (libcni prints its
        // empty struct).
        (
            "p1",
            "1.0.0",
            "plain",
            json!({"subnet": "10.78.0.0/24"}),
            json!({}),
        ),
    ];
    let tool = |id: &str| CniTool {
        conf_dir: format!("/run/cni-conf-{id}"),
        path: vec![bin.into()],
        container_id: Some(id.into()),
        // The pod's name (what Podman 4 and containerd send) and aliases for this network
        // and another one.
        cni_args: Some(format!("IgnoreUnknown=1;K8S_POD_NAME=pod-{id}")),
        cap_args: Some(
            json!({"aliases": {"app": [format!("www-{id}")], "plain": [format!("other-{id}")]}})
                .to_string(),
        ),
        ..CniTool::default()
    };
    for (id, version, net, extra, want) in &cases {
        write(
            &sb,
            &format!("/run/cni-conf-{id}/10-{net}.conflist"),
            &conflist(version, net, extra.clone()),
        );
        ok("netns", sb.sh(&format!("ip netns add {id}")));
        let out = cnitool(&sb, &tool(id), ["add", net, &format!("/run/netns/{id}")]);
        let result: Value = parse("cnitool add", &ok(&format!("add {id}"), out));
        assert_eq!(result["dns"], *want, "{id} at {version}: {result}");
    }
    // From a CNI container, the gateway its result named answers podnet's names...
    let got = dig(&sb, "a1", &[&format!("@{GW}"), "db", "A"]);
    assert_eq!(got.data(), vec![db.clone()], "{got:?}");
    // ... and the CNI containers are named from the moment ADD returned.
    for id in ["a1", "a2", "a3"] {
        let row = runtime_row(&sb, "container_id", id);
        let got = dig_from(&sb, "db", GW, &[s(&row, "name"), "A"]);
        assert_eq!(got.data(), vec![s(&row, "ip").to_string()], "{id}: {got:?}");
    }
    // Also by the runtime's names for it on this network: its pod name always, its aliases
    // when the configuration declared the capability (else libcni does not pass them); never
    // by names given for another network, nor on a network without DNS.
    let ip = |id: &str| vec![s(&runtime_row(&sb, "container_id", id), "ip").to_string()];
    let none: Vec<String> = Vec::new();
    let names = [
        ("pod-a1", ip("a1")),
        ("pod-a4", ip("a4")),
        ("www-a4", ip("a4")),
        ("www-a1", none.clone()),
        ("other-a4", none.clone()),
        ("pod-p1", none.clone()),
    ];
    for (name, want) in &names {
        let got = dig_from(&sb, "db", GW, &[name, "A"]);
        assert_eq!(got.data(), *want, "{name}: {got:?}");
        if want.is_empty() {
            assert_eq!(got.status, "NXDOMAIN", "{name}: {got:?}");
        }
    }
    // Gone the moment DEL returns, by every name.
    let a4 = s(&runtime_row(&sb, "container_id", "a4"), "name").to_string();
    ok(
        "del a4",
        cnitool(&sb, &tool("a4"), ["del", "app", "/run/netns/a4"]),
    );
    for name in [a4.as_str(), "pod-a4", "www-a4"] {
        let got = dig_from(&sb, "db", GW, &[name, "A"]);
        assert_eq!(got.status, "NXDOMAIN", "{name}: {got:?}");
    }
}

#[test]
fn podman_writes_the_dns_networks_server_into_its_containers_resolv_conf() {
    let sb = client_sandbox();
    let db = app_with_db(&sb);
    let plugins = "/run/podnet-cni/bin";
    ok(
        "install podnet",
        sb.sh(&format!(
            "mkdir -p {plugins} && ln -sf '{}' {plugins}/podnet",
            env!("CARGO_BIN_EXE_podnet")
        )),
    );
    write(
        &sb,
        "/etc/cni/net.d/10-app.conflist",
        &conflist("1.0.0", "app", json!({"capabilities": {"aliases": true}})),
    );
    must(setup_podman(
        &sb,
        &PodmanCni::new(plugins, "/etc/cni/net.d"),
    ));
    let text = must(podman_ok(
        &sb,
        [
            "run",
            "--rm",
            "--network",
            "app",
            BUSYBOX,
            "sh",
            "-c",
            "cat /etc/resolv.conf; echo ---; nslookup db",
        ],
    ));
    let (conf, looked) = text.split_once("---").expect("both parts");
    let servers: Vec<&str> = conf
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver "))
        .collect();
    // The network's server first (Podman 4.3 lists the host's after it).
    assert_eq!(servers.first(), Some(&GW), "{conf}");
    assert!(
        conf.lines()
            .any(|l| l.starts_with("search ") && l.contains("dns.podnet")),
        "{conf}"
    );
    assert!(
        looked.contains(&format!("Address: {db}")),
        "the container's own resolver finds db: {looked}"
    );
    // A Podman container is named for podnet's containers while it runs, and not after: by
    // its podnet name, its Podman name and its --network-alias.
    must(podman_ok(
        &sb,
        [
            "run",
            "-d",
            "--name",
            "webapp",
            "--network",
            "app",
            "--network-alias",
            "www",
            BUSYBOX,
            "sleep",
            "600",
        ],
    ));
    let row = runtime_row(&sb, "k8s_name", "webapp");
    let name = s(&row, "name").to_string();
    for n in [name.as_str(), "webapp", "www"] {
        let got = dig_from(&sb, "db", GW, &[n, "A"]);
        assert_eq!(
            got.data(),
            vec![s(&row, "ip").to_string()],
            "{n}: {got:?} {row}"
        );
    }
    // ... and from another Podman container, by its own resolver.
    let looked = must(podman_ok(
        &sb,
        [
            "run",
            "--rm",
            "--network",
            "app",
            BUSYBOX,
            "nslookup",
            "www",
        ],
    ));
    assert!(
        looked.contains(&format!("Address: {}", s(&row, "ip"))),
        "another Podman container finds webapp by its alias: {looked}"
    );
    must(podman_ok(&sb, ["rm", "-f", "-t", "0", "webapp"]));
    for n in [name.as_str(), "webapp", "www"] {
        let got = dig_from(&sb, "db", GW, &[n, "A"]);
        assert_eq!(got.status, "NXDOMAIN", "{n}: {got:?}");
    }
}

#[test]
fn netavark_setup_on_a_dns_network_gives_the_server_and_the_container_answers() {
    let sb = nv::nv_sandbox();
    let db = app_with_db(&sb);
    // Podman's network `app` is podnet's `app` (DNS on); `plain` is made by the plugin. (The
    // network's `dns_enabled` is netavark's to set, and it sets it false with IPAM driver
    // `none`: the status block is what tells Podman.)
    let app = nv::create(&sb, &nv::network("app", json!({})));
    assert_eq!(app["subnets"][0]["subnet"], "10.77.0.0/24", "{app}");
    let plain = nv::create(
        &sb,
        &nv::network("plain", json!({"subnets": [{"subnet": "10.78.0.0/24"}]})),
    );
    ok("netns", sb.sh("ip netns add n1 && ip netns add n2"));
    let n1 = nv::container(
        "n1",
        "web",
        &app,
        json!({"aliases": ["web", "www"]}),
        Value::Null,
    );
    let n2 = nv::container("n2", "other", &plain, json!({}), Value::Null);
    // (namespace, input, dns_server_ips, dns_search_domains)
    let cases = [
        ("n1", &n1, json!([GW]), json!(["dns.podnet"])),
        ("n2", &n2, json!([]), json!([])),
    ];
    for (ns, input, servers, search) in cases {
        let block = nv::setup(&sb, &format!("/run/netns/{ns}"), input);
        assert_eq!(block["dns_server_ips"], servers, "{ns}: {block}");
        assert_eq!(block["dns_search_domains"], search, "{ns}: {block}");
    }
    let got = dig(&sb, "n1", &[&format!("@{GW}"), "db", "A"]);
    assert_eq!(got.data(), vec![db], "{got:?}");
    let row = runtime_row(&sb, "k8s_name", "web");
    let name = s(&row, "name").to_string();
    // Named by its podnet name, its container_name and its aliases, until teardown returns.
    for n in [name.as_str(), "web", "www"] {
        let got = dig_from(&sb, "db", GW, &[n, "A"]);
        assert_eq!(got.data(), vec![s(&row, "ip").to_string()], "{n}: {got:?}");
    }
    nv::teardown(&sb, "/run/netns/n1", &n1);
    for n in [name.as_str(), "web", "www"] {
        let got = dig_from(&sb, "db", GW, &[n, "A"]);
        assert_eq!(got.status, "NXDOMAIN", "{n}: {got:?}");
    }
}
