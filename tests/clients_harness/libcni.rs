//! libcni (cnitool) at each CNI spec version, and spec 1.1.0 chains, GC and STATUS.

use super::*;

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
