//! containerd's CRI plugin, driven the way the kubelet drives it.

use super::*;

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
        let (pod, ip, ctr) = cri_http_pod(sb, name, port);
        assert!(ip.starts_with("10.89.30."), "{name} got {ip:?}");
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
    let outside = http_from(&lab.outside, lab.config.host_ip(), 18082);
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
