//! podnet's CNI plugin driven by the real runtimes (issue 8, acceptance 1–3), in client
//! sandboxes with real traffic: libcni (Debian's, through `cnitool`) at every spec version,
//! containerd 1.6's CRI the way kubelet drives it, and Podman 4.3's CNI backend. Each ends
//! with nothing left: no endpoint, lease, link, runtime record or nftables element (the
//! invariant checker compares the store with the kernel element for element).

mod common;

use common::clients::*;
use common::cni::leftovers;
use common::invariants::{assert_consistent, store_view};
use common::*;
use podnet::testbed::clients::{
    self, cnitool, cri, cri_ok, link_reference_plugins, podman_ip, podman_ok, setup_podman,
    start_containerd, CniTool, ContainerdCni, PodmanCni, BUSYBOX,
};
use podnet::testbed::{self, Sandbox, SANDBOX_STATE_DIR};
use serde_json::{json, Value};

/// podnet installed as the CNI plugin `podnet` in `dir` (a symlink to the binary under test).
fn install_podnet(sb: &Sandbox, dir: &str) {
    ok(
        "install podnet",
        sb.sh(&format!(
            "mkdir -p '{dir}' && ln -sf '{}' '{dir}/podnet'",
            env!("CARGO_BIN_EXE_podnet")
        )),
    );
}

/// A conflist of podnet alone. `root` is given: runtimes do not pass PODNET_ROOT on
/// (Podman's `container cleanup` runs DEL without the caller's environment).
fn conflist(version: &str, name: &str, subnet: &str) -> String {
    json!({
        "cniVersion": version,
        "name": name,
        "plugins": [{
            "type": "podnet", "subnet": subnet, "root": SANDBOX_STATE_DIR,
            "capabilities": {"portMappings": true, "ips": true, "mac": true}
        }]
    })
    .to_string()
}

fn write(sb: &Sandbox, path: &str, text: &str) {
    must(clients::write_file(sb, path, text));
}

/// The `podnet ps` rows of runtime attachments (JSON).
fn runtime_rows(sb: &Sandbox) -> Vec<Value> {
    ps(sb)
        .into_iter()
        .filter(|r| r["runtime"].is_object())
        .collect()
}

#[test]
fn libcni_drives_every_verb_at_every_spec_version() {
    let sb = client_sandbox();
    let bin = "/run/cni-bin";
    install_podnet(&sb, bin);
    for (i, version) in ["0.4.0", "1.0.0", "1.1.0"].into_iter().enumerate() {
        let net = format!("lib{i}");
        let conf_dir = format!("/run/cni-conf-{i}");
        let subnet = format!("10.88.{}.0/24", 10 + i);
        write(
            &sb,
            &format!("{conf_dir}/10-{net}.conflist"),
            &conflist(version, &net, &subnet),
        );
        let tool = |id: &str| {
            CniTool {
            conf_dir: conf_dir.clone(),
            path: vec![bin.into()],
            container_id: Some(id.into()),
            cni_args: Some("IgnoreUnknown=1;K8S_POD_NAMESPACE=lib;K8S_POD_NAME=p".into()),
            // b publishes a port (two attachments cannot publish the same one).
            cap_args: (id == format!("b{i}")).then(|| {
                json!({"portMappings": [{"hostPort": 18100 + i, "containerPort": 8080, "protocol": "tcp"}]})
                    .to_string()
            }),
            valid_attachments: Some(json!([{"containerID": format!("b{i}"), "ifname": "eth0"}]).to_string()),
            ..CniTool::default()
        }
        };
        let (a, b) = (format!("a{i}"), format!("b{i}"));
        ok(
            "netns",
            sb.sh(&format!("ip netns add {a} && ip netns add {b}")),
        );
        let mut ips = Vec::new();
        for ns in [&a, &b] {
            let out = cnitool(&sb, &tool(ns), ["add", &net, &format!("/run/netns/{ns}")]);
            let result: Value = parse("cnitool add", &ok(&format!("add {version}"), out));
            assert_eq!(result["cniVersion"], version, "{result}");
            let ip = common::cni::result_ip(&result, "eth0");
            let seen = v4_addrs(
                &ip_json_in(&sb, &format!("/run/netns/{ns}"), &["addr"]),
                "eth0",
            );
            assert_eq!(seen, vec![ip], "the result tells the truth at {version}");
            ips.push(ip.addr().to_string());
        }
        let mut server = common::cni::serve_in(&sb, &format!("/run/netns/{b}"), 8080, "b");
        assert_eq!(
            tcp_reply(&sb, Some(&format!("/run/netns/{a}")), &ips[1], 8080),
            "b"
        );
        // b's published port, from the host: podnet's nftables got libcni's portMappings.
        assert_eq!(tcp_reply(&sb, None, "127.0.0.1", 18100 + i as u16), "b");
        for ns in [&a, &b] {
            ok(
                &format!("check {version}"),
                cnitool(&sb, &tool(ns), ["check", &net, &format!("/run/netns/{ns}")]),
            );
        }
        server.stop();
        assert_consistent(&sb, &format!("libcni {version}"));
        if version == "1.1.0" {
            // GC with b as the only valid attachment removes a, and nothing else.
            ok("status", cnitool(&sb, &tool(&a), ["status", &net]));
            ok("gc", cnitool(&sb, &tool(&a), ["gc", &net]));
            let left: Vec<String> = store_view(&sb)
                .runtime
                .iter()
                .map(|r| r.container_id.clone())
                .collect();
            assert_eq!(left, std::slice::from_ref(&b), "GC at {version}");
            assert_eq!(
                names(&ip_json_in(&sb, &format!("/run/netns/{a}"), &["link"])),
                ["lo"]
            );
        }
        for ns in [&a, &b] {
            for _ in 0..2 {
                ok(
                    &format!("del {version}"),
                    cnitool(&sb, &tool(ns), ["del", &net, &format!("/run/netns/{ns}")]),
                );
            }
        }
        assert_eq!(leftovers(&sb), Vec::<String>::new(), "{version}");
        assert_consistent(&sb, &format!("libcni {version} after DEL"));
        if version == "1.1.0" {
            // STATUS before and after breaking the store.
            ok("status", cnitool(&sb, &tool(&a), ["status", &net]));
            ok(
                "break the store",
                sb.sh(&format!(
                    "rm -f {SANDBOX_STATE_DIR}/podnet.db-wal {SANDBOX_STATE_DIR}/podnet.db-shm; \
                     head -c 8192 /dev/urandom > {SANDBOX_STATE_DIR}/podnet.db"
                )),
            );
            let out = cnitool(&sb, &tool(&a), ["status", &net]);
            assert!(!out.status.success(), "{}", testbed::describe(&out));
            let err = testbed::stderr(&out);
            assert!(
                err.contains("podnet cannot serve ADD") && err.contains("podnet.db"),
                "{err}"
            );
        }
    }
}

#[test]
fn containerd_cri_pods_on_podnet_with_traffic_names_a_service_and_cleanup() {
    let lab = client_lab();
    let sb = &lab.host;
    let bin = "/run/podnet-cni/bin";
    must(link_reference_plugins(sb, bin));
    install_podnet(sb, bin);
    write(
        sb,
        "/etc/cni/net.d/10-pods.conflist",
        &conflist("1.0.0", "pods", "10.88.30.0/24"),
    );
    must(start_containerd(
        sb,
        &ContainerdCni {
            bin_dir: bin.into(),
            conf_dir: "/etc/cni/net.d".into(),
        },
    ));
    must(lab.outside.serve(None, "tcp", "0.0.0.0", 9000, "outside"));
    let mut pods = Vec::new();
    for (name, port) in [
        ("web-a", "18081:8080"),
        ("web-b", "18082:8080"),
        ("client", "18083:8080"),
    ] {
        let (pod, ip, ctr) = cri_http_pod(sb, name, port);
        assert!(ip.starts_with("10.88.30."), "{name} got {ip:?}");
        pods.push((pod, ip, ctr));
    }
    // Pod to pod, both ways, from inside the containers.
    for (from, to) in [(0, 1), (1, 0)] {
        let url = format!("http://{}:8080/index.html", pods[to].1);
        let text = ok(
            &format!("exec wget {url}"),
            cri(
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
            ),
        );
        assert!(text.starts_with("hello from"), "{text}");
    }
    // A pod reaches the outside namespace (masqueraded out), and the outside a pod's hostPort.
    let out = ok(
        "pod to outside",
        cri(
            sb,
            [
                "exec",
                &pods[0].2,
                "--",
                "sh",
                "-c",
                &format!("echo hi | timeout 10 nc {} 9000", lab.config.outside_ip()),
            ],
        ),
    );
    assert!(out.contains("outside"), "{out}");
    assert!(http_from(&lab.outside, lab.config.host_ip(), 18082).contains("hello from"));
    // The pods in `podnet ps`, with their Kubernetes names.
    let rows = runtime_rows(sb);
    let mut seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                s(&r["runtime"], "k8s_namespace").into(),
                s(&r["runtime"], "k8s_name").into(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("shop".into(), "client".into()),
            ("shop".into(), "web-a".into()),
            ("shop".into(), "web-b".into())
        ],
        "{rows:?}"
    );
    let table = podnet_ok(sb, &["ps"]);
    assert!(
        table.contains("shop/web-a") && table.contains("shop/web-b"),
        "{table}"
    );
    // A podnet service over the two web pods answers a third pod.
    let backend = |k8s: &str| {
        rows.iter()
            .find(|r| r["runtime"]["k8s_name"] == k8s)
            .map(|r| s(r, "name").to_string())
            .unwrap()
    };
    podnet_ok(
        sb,
        &[
            "service",
            "create",
            "websvc",
            "--port",
            "80:8080/tcp",
            "--backend",
            &backend("web-a"),
            "--backend",
            &backend("web-b"),
        ],
    );
    let vip = s(&podnet_json(sb, &["service", "inspect", "websvc"]), "vip").to_string();
    let url = format!("http://{vip}:80/index.html");
    let text = ok(
        "client to the service",
        cri(
            sb,
            [
                "exec", &pods[2].2, "--", "timeout", "10", "wget", "-qO-", &url,
            ],
        ),
    );
    assert!(text.starts_with("hello from"), "{text}");
    assert_consistent(sb, "three pods and a service");
    podnet_ok(sb, &["service", "rm", "websvc"]);
    // StopPodSandbox and RemovePodSandbox each run DEL.
    for (pod, _, _) in &pods {
        must(cri_ok(sb, ["stopp", pod]));
        must(cri_ok(sb, ["rmp", pod]));
    }
    assert_eq!(must(cri_ok(sb, ["pods"])), "");
    assert_eq!(leftovers(sb), Vec::<String>::new());
    assert_consistent(sb, "after the pods");
}

#[test]
fn podman_cni_backend_containers_on_podnet_with_traffic_ports_and_cleanup() {
    let lab = client_lab();
    let sb = &lab.host;
    let plugins = "/run/podnet-cni/bin";
    install_podnet(sb, plugins);
    write(
        sb,
        "/etc/cni/net.d/10-pn.conflist",
        &conflist("1.0.0", "pn", "10.88.40.0/24"),
    );
    must(setup_podman(sb, &PodmanCni::new(plugins, "/etc/cni/net.d")));
    must(lab.outside.serve(None, "tcp", "0.0.0.0", 9000, "outside"));
    must(podman_ok(
        sb,
        [
            "run",
            "-d",
            "--name",
            "srv",
            "--network",
            "pn",
            "-p",
            "18080:8080",
            BUSYBOX,
            "sh",
            "-c",
            HTTPD,
        ],
    ));
    let ip = must(podman_ip(sb, "srv", "pn"));
    assert!(ip.starts_with("10.88.40."), "srv got {ip:?}");
    let addr = must(podman_ok(
        sb,
        ["exec", "srv", "ip", "-4", "addr", "show", "eth0"],
    ));
    assert!(addr.contains(&format!("inet {ip}/24")), "{addr}");
    // podnet shows it, named as podman names it.
    let rows = runtime_rows(sb);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["runtime"]["k8s_name"], "srv");
    assert_eq!(s(&rows[0], "ip"), ip);
    // A second container reaches the first, and the outside namespace.
    let url = format!("http://{ip}:8080/index.html");
    let got = must(podman_ok(
        sb,
        [
            "run",
            "--rm",
            "--network",
            "pn",
            BUSYBOX,
            "sh",
            "-c",
            &format!("timeout 10 wget -qO- {url}"),
        ],
    ));
    assert!(got.starts_with("hello from"), "{got}");
    let got = must(podman_ok(
        sb,
        [
            "run",
            "--rm",
            "--network",
            "pn",
            BUSYBOX,
            "sh",
            "-c",
            &format!("echo hi | timeout 10 nc {} 9000", lab.config.outside_ip()),
        ],
    ));
    assert!(got.contains("outside"), "{got}");
    // The published port from the LAN neighbour.
    assert!(http_from(&lab.outside, lab.config.host_ip(), 18080).contains("hello from"));
    // The --rm containers were removed already: only srv is left.
    assert_eq!(runtime_rows(sb).len(), 1);
    assert_consistent(sb, "podman srv");
    must(podman_ok(sb, ["rm", "-f", "-t", "0", "srv"]));
    assert_eq!(leftovers(sb), Vec::<String>::new());
    assert_consistent(sb, "after podman rm");
    let ps = must(podman_ok(sb, ["ps", "-aq"]));
    assert!(ps.trim().is_empty(), "{ps}");
}
