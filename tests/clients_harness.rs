//! The client harness (issue 8): each real client a network plugin will face, driven in a
//! client sandbox against the CNI reference plugins (or, for netavark, a small plugin of
//! our own), with real traffic between two containers. These prove the test bed's
//! `testbed::clients` helpers; podnet's own plugin is tested with the same helpers.

mod common;

use common::*;
use podnet::testbed::clients::{
    self, cnitool, cri, cri_ok, link_reference_plugins, netavark, podman_ok, setup_podman,
    start_containerd, CniTool, ContainerdCni, PodmanCni, BUSYBOX,
};
use podnet::testbed::{self, Lab, LabConfig, Sandbox, SandboxConfig};
use serde_json::Value;

fn client_config() -> SandboxConfig {
    SandboxConfig {
        podnet: Some(env!("CARGO_BIN_EXE_podnet").into()),
        ..SandboxConfig::for_clients()
    }
}

fn client_sandbox() -> Sandbox {
    Sandbox::with_config(client_config()).unwrap_or_else(|e| panic!("{e}"))
}

/// A lab whose host runs the clients; `outside` is a LAN neighbour for published ports.
fn client_lab() -> Lab {
    Lab::with_config(LabConfig {
        sandbox: client_config(),
        ..LabConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn must<T>(r: testbed::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A CNI plugin of our own: appends one line per call (`CMD id=.. netns=.. args=..
/// path=..`) to `<its dir>/cni-log.log` and delegates to the reference bridge plugin. It
/// shows which calls a runtime makes and that it runs a plugin from the directory we gave.
const CNI_LOG_PLUGIN: &str = r#"#!/bin/sh
log="$(dirname "$0")/cni-log.log"
in=$(cat)
echo "$CNI_COMMAND id=$CNI_CONTAINERID netns=$CNI_NETNS if=$CNI_IFNAME args=$CNI_ARGS path=$CNI_PATH" >> "$log"
printf '%s' "$in" | /usr/lib/cni/bridge
"#;

fn install_log_plugin(sb: &Sandbox, dir: &str) {
    let mut c = sb.cmd("sh");
    c.arg("-c").arg(format!(
        "mkdir -p '{dir}' && cat > '{dir}/cni-log' && chmod +x '{dir}/cni-log'"
    ));
    ok(
        "install cni-log",
        clients::output_with_stdin(c, CNI_LOG_PLUGIN.as_bytes()),
    );
}

/// A conflist: `first` (a bridge-like plugin: bridge or cni-log) with host-local, then
/// portmap (its DNAT rules are what makes a published port reachable).
fn conflist(version: &str, name: &str, first: &str, bridge: &str, subnet: &str) -> String {
    serde_json::json!({
        "cniVersion": version,
        "name": name,
        "plugins": [
            {
                "type": first, "bridge": bridge, "isGateway": true, "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": subnet }]],
                    "routes": [{ "dst": "0.0.0.0/0" }]
                }
            },
            { "type": "portmap", "capabilities": { "portMappings": true } }
        ]
    })
    .to_string()
}

fn write(sb: &Sandbox, path: &str, text: &str) {
    must(clients::write_file(sb, path, text));
}

fn read(sb: &Sandbox, path: &str) -> String {
    ok(&format!("cat {path}"), sb.sh(&format!("cat '{path}'")))
}

/// host-local's leases of network `net` (files named by address).
fn leases(sb: &Sandbox, net: &str) -> Vec<String> {
    let out = ok(
        "ls leases",
        sb.sh(&format!(
            "ls /var/lib/cni/networks/{net} 2>/dev/null || true"
        )),
    );
    out.split_whitespace()
        .filter(|f| f.parse::<std::net::Ipv4Addr>().is_ok())
        .map(String::from)
        .collect()
}

/// Names of the links enslaved to `bridge`.
fn bridge_ports(sb: &Sandbox, bridge: &str) -> Vec<String> {
    names(&ip_json(sb, &["link", "show", "master", bridge]))
}

/// Lines of the cni-log plugin's log whose command is `cmd`.
fn logged<'a>(log: &'a str, cmd: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.split(' ').next() == Some(cmd))
        .collect()
}

/// busybox 1.35's static `wget -T` dies of SIGSEGV: every wget here runs under `timeout`.
const HTTPD: &str =
    "echo \"hello from $(hostname)\" > /tmp/index.html && exec httpd -f -p 8080 -h /tmp";

#[test]
fn podman_cni_backend_runs_our_plugin_dir_with_traffic_ports_and_cleanup() {
    let lab = client_lab();
    let sb = &lab.host;
    let plugins = "/run/podnet-cni/bin";
    install_log_plugin(sb, plugins);
    let cni = PodmanCni::new(plugins, "/etc/cni/net.d");
    write(
        sb,
        "/etc/cni/net.d/10-lognet.conflist",
        &conflist("1.0.0", "lognet", "cni-log", "cnilog0", "10.89.20.0/24"),
    );
    must(setup_podman(sb, &cni));

    must(podman_ok(
        sb,
        [
            "run",
            "-d",
            "--name",
            "srv",
            "--network",
            "lognet",
            "-p",
            "18080:8080",
            BUSYBOX,
            "sh",
            "-c",
            HTTPD,
        ],
    ));
    let ip = must(podman_ok(
        sb,
        [
            "inspect",
            "srv",
            "--format",
            "{{(index .NetworkSettings.Networks \"lognet\").IPAddress}}",
        ],
    ));
    let ip = ip.trim();
    assert!(ip.starts_with("10.89.20."), "srv got {ip:?}");
    // The container's own view: the address on eth0.
    let addr = must(podman_ok(
        sb,
        ["exec", "srv", "ip", "-4", "addr", "show", "eth0"],
    ));
    assert!(addr.contains(&format!("inet {ip}/24")), "{addr}");

    // A second container on the same network reaches the first.
    let url = format!("http://{ip}:8080/index.html");
    let got = must(podman_ok(
        sb,
        [
            "run",
            "--rm",
            "--network",
            "lognet",
            BUSYBOX,
            "sh",
            "-c",
            &format!("timeout 10 wget -qO- {url}"),
        ],
    ));
    assert!(got.starts_with("hello from"), "{got}");
    // The published port, from the LAN neighbour (portmap got podman's portMappings).
    let outside = tcp_http(&lab.outside, lab.config.host_ip(), 18080);
    assert!(outside.contains("hello from"), "{outside}");

    let log = read(sb, &format!("{plugins}/cni-log.log"));
    let adds = logged(&log, "ADD");
    assert_eq!(adds.len(), 2, "one ADD per container:\n{log}");
    assert!(
        adds[0].contains("K8S_POD_NAME=srv") && adds[0].contains(&format!("path={plugins}:")),
        "podman's CNI_ARGS and CNI_PATH:\n{log}"
    );
    // The --rm container's DEL already ran; srv's runs at rm.
    must(podman_ok(sb, ["rm", "-f", "-t", "0", "srv"]));
    let log = read(sb, &format!("{plugins}/cni-log.log"));
    assert_eq!(
        logged(&log, "DEL").len(),
        2,
        "one DEL per container:\n{log}"
    );
    assert_eq!(leases(sb, "lognet"), Vec::<String>::new());
    assert_eq!(bridge_ports(sb, "cnilog0"), Vec::<String>::new());
    let ps = must(podman_ok(sb, ["ps", "-aq"]));
    assert!(ps.trim().is_empty(), "{ps}");
}

/// `GET /index.html` over TCP from `from`'s root namespace, with busybox's wget.
fn tcp_http(from: &Sandbox, host: &str, port: u16) -> String {
    let url = format!("http://{host}:{port}/index.html");
    ok(
        &format!("wget {url}"),
        from.sh(&format!("timeout 10 busybox wget -qO- {url}")),
    )
}

#[test]
fn containerd_cri_runs_pods_the_kubelet_way_with_traffic_ports_and_cleanup() {
    let lab = client_lab();
    let sb = &lab.host;
    let bin = "/run/podnet-cni/bin";
    must(link_reference_plugins(sb, bin));
    install_log_plugin(sb, bin);
    write(
        sb,
        "/etc/cni/net.d/10-pods.conflist",
        &conflist("1.0.0", "pods", "cni-log", "cnipod0", "10.89.30.0/24"),
    );
    must(start_containerd(
        sb,
        &ContainerdCni {
            bin_dir: bin.into(),
            conf_dir: "/etc/cni/net.d".into(),
        },
    ));
    let version = must(cri_ok(sb, ["version"]));
    assert!(version.starts_with("containerd "), "{version}");

    let mut pods = Vec::new();
    for (name, port) in [("web-a", "18081:8080"), ("web-b", "18082:8080")] {
        let pod = must(cri_ok(
            sb,
            [
                "runp",
                "--name",
                name,
                "--namespace",
                "shop",
                "--uid",
                &format!("uid-{name}"),
                "--port",
                port,
            ],
        ));
        let ip = must(cri_ok(sb, ["podip", &pod]));
        assert!(ip.starts_with("10.89.30."), "{name} got {ip:?}");
        let ctr = must(cri_ok(
            sb,
            [
                "run", &pod, "--name", "httpd", "--image", BUSYBOX, "--", "sh", "-c", HTTPD,
            ],
        ));
        pods.push((pod, ip, ctr));
    }
    // Pod to pod, both ways, from inside the containers (ExecSync).
    for (from, to) in [(0, 1), (1, 0)] {
        let url = format!("http://{}:8080/index.html", pods[to].1);
        let out = cri(
            sb,
            [
                "exec",
                &pods[from].2,
                "--",
                "timeout",
                "10",
                "wget",
                "-qO-",
                &url,
            ],
        );
        let text = ok(&format!("exec wget {url}"), out);
        assert!(text.starts_with("hello from"), "{text}");
    }
    // A pod's hostPort from the LAN.
    let outside = tcp_http(&lab.outside, lab.config.host_ip(), 18082);
    assert!(outside.contains("hello from"), "{outside}");

    let log = read(sb, &format!("{bin}/cni-log.log"));
    let adds = logged(&log, "ADD");
    assert_eq!(adds.len(), 2, "{log}");
    for (pod, name) in pods.iter().map(|p| &p.0).zip(["web-a", "web-b"]) {
        let add = adds
            .iter()
            .find(|l| l.contains(&format!("id={pod}")))
            .unwrap_or_else(|| panic!("no ADD for pod {pod}:\n{log}"));
        for arg in [
            format!("K8S_POD_NAME={name}"),
            "K8S_POD_NAMESPACE=shop".to_string(),
            format!("K8S_POD_UID=uid-{name}"),
        ] {
            assert!(add.contains(&arg), "{arg} missing from {add}");
        }
    }

    for (pod, _, _) in &pods {
        must(cri_ok(sb, ["stopp", pod]));
        must(cri_ok(sb, ["rmp", pod]));
    }
    let log = read(sb, &format!("{bin}/cni-log.log"));
    for (pod, _, _) in &pods {
        let dels = logged(&log, "DEL")
            .into_iter()
            .filter(|l| l.contains(&format!("id={pod}")))
            .count();
        // StopPodSandbox and RemovePodSandbox each run DEL: a plugin's DEL must be idempotent.
        assert_eq!(dels, 2, "DELs of {pod}:\n{log}");
    }
    assert_eq!(leases(sb, "pods"), Vec::<String>::new());
    assert_eq!(bridge_ports(sb, "cnipod0"), Vec::<String>::new());
    assert_eq!(must(cri_ok(sb, ["pods"])), "");
}

#[test]
fn libcni_drives_a_conflist_at_each_spec_version_it_knows() {
    let sb = client_sandbox();
    for (i, version) in ["0.4.0", "1.0.0"].into_iter().enumerate() {
        let (n1, n2) = (format!("a{i}"), format!("b{i}"));
        ok(
            "netns",
            sb.sh(&format!("ip netns add {n1} && ip netns add {n2}")),
        );
        let (net, bridge) = (format!("ref{i}"), format!("cniref{i}"));
        let conf_dir = format!("/run/cni-{i}");
        write(
            &sb,
            &format!("{conf_dir}/10-{net}.conflist"),
            &conflist(
                version,
                &net,
                "bridge",
                &bridge,
                &format!("10.89.{}.0/24", 40 + i),
            ),
        );
        let tool = |id: &str| CniTool {
            conf_dir: conf_dir.clone(),
            path: vec![clients::REFERENCE_PLUGINS.into()],
            container_id: Some(id.into()),
            cni_args: Some("IgnoreUnknown=1;K8S_POD_NAME=x".into()),
            cap_args: Some(
                r#"{"portMappings":[{"hostPort":18090,"containerPort":8080,"protocol":"tcp"}]}"#
                    .into(),
            ),
            ..CniTool::default()
        };
        let mut ips = Vec::new();
        for ns in [&n1, &n2] {
            let out = cnitool(&sb, &tool(ns), ["add", &net, &format!("/run/netns/{ns}")]);
            let result: Value = parse("cnitool add", &ok(&format!("add {version}"), out));
            assert_eq!(result["cniVersion"], version, "{result}");
            let ip = s(&result["ips"][0], "address")
                .split('/')
                .next()
                .unwrap()
                .to_string();
            let seen = v4_addrs(
                &ip_json_in(&sb, &format!("/run/netns/{ns}"), &["addr"]),
                "eth0",
            );
            assert_eq!(seen.len(), 1, "{ns} at {version}: {seen:?}");
            assert_eq!(seen[0].addr().to_string(), ip, "the result tells the truth");
            ips.push(ip);
        }
        must(sb.serve(
            Some(&format!("/run/netns/{n2}")),
            "tcp",
            "0.0.0.0",
            8080,
            "n2",
        ));
        assert_eq!(
            tcp_reply(&sb, Some(&format!("/run/netns/{n1}")), &ips[1], 8080),
            "n2"
        );
        for ns in [&n1, &n2] {
            ok(
                &format!("check {version}"),
                cnitool(&sb, &tool(ns), ["check", &net, &format!("/run/netns/{ns}")]),
            );
            ok(
                &format!("del {version}"),
                cnitool(&sb, &tool(ns), ["del", &net, &format!("/run/netns/{ns}")]),
            );
        }
        assert_eq!(leases(&sb, &net), Vec::<String>::new(), "{version}");
        assert_eq!(bridge_ports(&sb, &bridge), Vec::<String>::new());
        let nat = ok("iptables", sb.sh("iptables-save -t nat"));
        assert!(!nat.contains("18090"), "portmap's DEL left rules:\n{nat}");
        // A second DEL after everything is gone succeeds (the spec requires it).
        ok(
            "del again",
            cnitool(&sb, &tool(&n1), ["del", &net, &format!("/run/netns/{n1}")]),
        );
    }
}

/// Spec 1.1.0 through cnitool. Debian's libcni 1.1.2 cannot take a 1.1.0 result ("unsupported
/// CNI result version") and has no GC or STATUS, so cnitool chains a 1.1.0 list itself on
/// libcni's exec layer and sends GC/STATUS as the 1.1 spec shapes them. The plugins here
/// log what they get: the chain, prevResult, runtimeConfig, DEL's reverse order.
#[test]
fn cnitool_speaks_spec_1_1_0_chains_gc_and_status_to_the_plugins() {
    let sb = client_sandbox();
    let dir = "/run/cni11";
    let plugin = r#"#!/bin/sh
in=$(cat)
echo "$(basename "$0") $CNI_COMMAND [$CNI_CONTAINERID] $in" >> /run/cni11/log
case $CNI_COMMAND in
VERSION) echo '{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}';;
ADD) echo '{"cniVersion":"1.1.0","ips":[{"address":"10.9.9.9/24"}]}';;
esac
"#;
    for name in ["first", "second"] {
        write(&sb, &format!("{dir}/bin/{name}"), plugin);
    }
    ok("chmod", sb.sh(&format!("chmod +x {dir}/bin/*")));
    write(
        &sb,
        &format!("{dir}/conf/n11.conflist"),
        r#"{"cniVersion":"1.1.0","name":"n11","plugins":[
            {"type":"first","capabilities":{"portMappings":true}},{"type":"second"}]}"#,
    );
    ok("netns", sb.sh("ip netns add n1"));
    let tool = CniTool {
        conf_dir: format!("{dir}/conf"),
        path: vec![format!("{dir}/bin")],
        container_id: Some("c1".into()),
        cap_args: Some(
            r#"{"portMappings":[{"hostPort":1,"containerPort":2,"protocol":"tcp"}]}"#.into(),
        ),
        valid_attachments: Some(r#"[{"containerID":"c1","ifname":"eth0"}]"#.into()),
        ..CniTool::default()
    };
    let add = ok(
        "add 1.1.0",
        cnitool(&sb, &tool, ["add", "n11", "/run/netns/n1"]),
    );
    let result: Value = parse("add", &add);
    assert_eq!(result["cniVersion"], "1.1.0", "{add}");
    let cached = "/var/lib/cni/results/n11-c1-eth0";
    let cache: Value = parse("cache", &read(&sb, cached));
    assert_eq!(
        cache["result"], result,
        "libcni's cache format, with the result"
    );
    ok(
        "check",
        cnitool(&sb, &tool, ["check", "n11", "/run/netns/n1"]),
    );
    ok("del", cnitool(&sb, &tool, ["del", "n11", "/run/netns/n1"]));
    ok("gone", sb.sh(&format!("test ! -e {cached}")));
    ok("gc", cnitool(&sb, &tool, ["gc", "n11"]));
    ok("status", cnitool(&sb, &tool, ["status", "n11"]));
    let versions = ok("version", cnitool(&sb, &tool, ["version", "n11"]));
    assert_eq!(
        versions,
        "first 0.4.0,1.0.0,1.1.0\nsecond 0.4.0,1.0.0,1.1.0\n"
    );

    let log = read(&sb, &format!("{dir}/log"));
    let calls: Vec<(String, Value)> = log
        .lines()
        .filter(|l| !l.contains(" VERSION "))
        .map(|l| {
            let (head, json) = l.split_once("] ").unwrap();
            let mut w = head.split(' ');
            let who = format!("{} {}", w.next().unwrap(), w.next().unwrap());
            (who, parse("plugin stdin", json))
        })
        .collect();
    let order: Vec<&str> = calls.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(
        order,
        [
            "first ADD",
            "second ADD",
            "first CHECK",
            "second CHECK",
            "second DEL",
            "first DEL",
            "first GC",
            "second GC",
            "first STATUS",
            "second STATUS"
        ],
        "{log}"
    );
    let conf = |i: usize| &calls[i].1;
    for (i, _) in calls.iter().enumerate() {
        assert_eq!(conf(i)["cniVersion"], "1.1.0");
        assert_eq!(conf(i)["name"], "n11");
    }
    assert!(conf(0).get("prevResult").is_none(), "{log}");
    assert_eq!(conf(0)["runtimeConfig"]["portMappings"][0]["hostPort"], 1);
    assert!(
        conf(1).get("runtimeConfig").is_none(),
        "second declares no capability"
    );
    assert_eq!(
        conf(1)["prevResult"],
        result,
        "the chain hands on the result"
    );
    for i in 2..6 {
        assert_eq!(
            conf(i)["prevResult"],
            result,
            "CHECK/DEL get the cached result"
        );
    }
    let valid = serde_json::json!([{"containerID": "c1", "ifname": "eth0"}]);
    for i in [6, 7] {
        assert_eq!(conf(i)["cni.dev/valid-attachments"], valid);
        assert_eq!(conf(i)["cni.dev/attachments"], valid);
    }
}

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

/// The client sandbox itself: runc's cgroups land in the sandbox's own subtree (seen
/// from inside as the root), which is gone after drop even with a container still
/// running; writes to /etc and /var/lib stay inside; the machine's files are readable.
#[test]
fn client_sandbox_keeps_cgroups_and_system_dirs_to_itself() {
    let sb = client_sandbox();
    let dirs = sb.cgroup_dirs();
    assert!(dirs.len() >= 2, "one dir per hierarchy: {dirs:?}");
    let inside = ok("own cgroup", sb.sh("cat /proc/self/cgroup"));
    for line in inside.lines() {
        assert!(
            line.ends_with(":/"),
            "a sandbox process sees its cgroup as /: {line}"
        );
    }
    must(setup_podman(
        &sb,
        &PodmanCni::new("/run/p", "/etc/cni/net.d"),
    ));
    must(podman_ok(
        &sb,
        [
            "run",
            "-d",
            "--name",
            "idle",
            "--network",
            "none",
            BUSYBOX,
            "sleep",
            "1000",
        ],
    ));
    let memory = dirs
        .iter()
        .find(|d| d.to_string_lossy().contains("/memory/"))
        .unwrap_or_else(|| panic!("no memory hierarchy in {dirs:?}"));
    assert!(
        memory.join("libpod_parent").is_dir(),
        "runc's cgroup went elsewhere"
    );
    let machine_parent = memory.parent().unwrap().join("libpod_parent");
    assert!(
        !machine_parent.exists(),
        "{machine_parent:?} made outside the subtree"
    );

    let probes =
        ["/etc", "/var/lib", "/tmp", "/var/tmp"].map(|d| format!("{d}/podnet-harness-probe"));
    for p in &probes {
        ok("write system dirs", sb.sh(&format!("echo x > {p}")));
        assert!(
            !std::path::Path::new(p).exists(),
            "{p} leaked to the machine"
        );
    }
    // The machine's files stay readable, in /tmp too (a tools cache may live there).
    let host_file = tempfile_in_tmp();
    let seen = ok("read /tmp", sb.sh(&format!("cat {}", host_file.display())));
    std::fs::remove_file(&host_file).unwrap();
    assert_eq!(seen, "from the machine\n");
    let os = ok("read /etc", sb.sh("cat /etc/os-release"));
    assert_eq!(os, std::fs::read_to_string("/etc/os-release").unwrap());

    drop(sb); // the container is still running
    for d in &dirs {
        assert!(!d.exists(), "{d:?} left behind");
    }
}

fn tempfile_in_tmp() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("podnet-harness-{}", std::process::id()));
    std::fs::write(&p, "from the machine\n").unwrap();
    p
}

/// A subtree left by a test process that was killed (its creator's PID and start time no
/// longer match a live process) is removed by the next client sandbox.
#[test]
fn client_sandbox_sweeps_subtrees_of_dead_creators() {
    let first = client_sandbox();
    let parents: Vec<_> = first
        .cgroup_dirs()
        .iter()
        .map(|d| d.parent().unwrap().to_path_buf())
        .collect();
    drop(first);
    // PID 4194304 is above the kernel's pid_max limit: no process has it.
    let stale: Vec<_> = parents
        .iter()
        .map(|p| p.join("podnet-sb-4194304-1-0"))
        .collect();
    for d in &stale {
        std::fs::create_dir(d).unwrap_or_else(|e| panic!("mkdir {d:?}: {e}"));
        std::fs::create_dir(d.join("libpod_parent")).unwrap();
    }
    let second = client_sandbox();
    for d in &stale {
        assert!(!d.exists(), "{d:?} not swept");
    }
    drop(second);
}
