//! netavark running a driver plugin from its plugin directory.

use super::*;

#[test]
fn netavark_runs_a_driver_plugin_from_plugin_directory_with_traffic_and_teardown() {
    let sb = client_sandbox();
    let plugins = "/run/nv-plugins";
    let log = format!("{plugins}/nvbridge.log");
    write(
        &sb,
        &format!("{plugins}/nvbridge"),
        &format!(
            "#!/bin/sh\nexec '{}' '{}' --log '{log}' \"$@\"\n",
            testbed::python().display(),
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/helpers/nv_bridge_plugin.py")
                .display()
        ),
    );
    ok("chmod", sb.sh(&format!("chmod +x {plugins}/nvbridge")));
    ok("netns", sb.sh("ip netns add c1 && ip netns add c2"));
    let network = serde_json::json!({
        "name": "nvnet", "id": "4".repeat(64), "driver": "nvbridge",
        "network_interface": "nvbr0",
        "subnets": [{ "subnet": "10.89.50.0/24", "gateway": "10.89.50.1" }],
        "ipv6_enabled": false, "internal": false, "dns_enabled": false,
        "ipam_options": { "driver": "host-local" }
    });
    let request = |id: &str, name: &str, ip: &str| {
        serde_json::json!({
            "container_id": id.repeat(64 / id.len()),
            "container_name": name,
            "networks": { "nvnet": {
                "interface_name": "eth0", "static_ips": [ip], "aliases": [name]
            }},
            "network_info": { "nvnet": network.clone() },
            "port_mappings": [
                { "container_port": 8080, "host_ip": "", "host_port": 18095,
                  "protocol": "tcp", "range": 1 }
            ]
        })
        .to_string()
    };
    let reqs = [
        ("c1", request("a1", "c1", "10.89.50.2")),
        ("c2", request("b2", "c2", "10.89.50.3")),
    ];
    for (ns, req) in &reqs {
        let out = netavark(&sb, plugins, ["setup", &format!("/run/netns/{ns}")], req);
        let status: Value = parse("netavark setup", &ok(&format!("setup {ns}"), out));
        // netavark hands back the plugin's status block under the network's name.
        let eth0 = &status["nvnet"]["interfaces"]["eth0"];
        let ipnet = s(&eth0["subnets"][0], "ipnet");
        let seen = v4_addrs(
            &ip_json_in(&sb, &format!("/run/netns/{ns}"), &["addr"]),
            "eth0",
        );
        assert_eq!(seen.len(), 1, "{ns}: {seen:?}");
        assert_eq!(seen[0].to_string(), ipnet, "{status}");
    }
    must(sb.serve(Some("/run/netns/c2"), "tcp", "0.0.0.0", 8080, "c2"));
    assert_eq!(
        tcp_reply(&sb, Some("/run/netns/c1"), "10.89.50.3", 8080),
        "c2"
    );

    for (ns, req) in &reqs {
        let out = netavark(&sb, plugins, ["teardown", &format!("/run/netns/{ns}")], req);
        ok(&format!("teardown {ns}"), out);
    }
    assert_eq!(bridge_ports(&sb, "nvbr0"), Vec::<String>::new());
    let calls: Vec<Value> = read(&sb, &log)
        .lines()
        .map(|l| parse("plugin log", l))
        .collect();
    let verbs: Vec<String> = calls
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["args"][0].as_str().unwrap(),
                c["args"][1].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        verbs,
        [
            "setup /run/netns/c1",
            "setup /run/netns/c2",
            "teardown /run/netns/c1",
            "teardown /run/netns/c2"
        ],
        "what netavark ran"
    );
    // The plugin gets the network, the container's options and the port mappings.
    let first = &calls[0]["stdin"];
    assert_eq!(first["network"]["name"], "nvnet", "{first}");
    assert_eq!(
        first["network_options"]["static_ips"][0], "10.89.50.2",
        "{first}"
    );
    assert_eq!(first["port_mappings"][0]["host_port"], 18095, "{first}");
}
