//! podman with its CNI backend, running the plugins from our directory.

use super::*;

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
    let ip = must(podman_ip(sb, "srv", "lognet"));
    let ip = ip.as_str();
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
    let outside = http_from(&lab.outside, lab.config.host_ip(), 18080);
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
